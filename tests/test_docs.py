"""The docs stay true to the tree: README.md and docs/*.md link only to what exists, every path, module,
function, command and benchmark they write in backticks exists, their tables hold together, and the
README's architecture picture names every room and module it draws."""
from __future__ import annotations

import importlib
import re
from pathlib import Path

import click

from tests.paths import ROOT

README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
# Folders of the checkout whose paths the docs may write; the first five are Python packages.
PACKAGES = ("gis", "api", "layers", "webmap", "data")
FOLDERS = (*PACKAGES, "bench", "migrations", "scripts", "tests", "docs")
PATH = re.compile(rf"^(?:{'|'.join(FOLDERS)})/[\w./-]*$")
DOTTED = re.compile(rf"^(?:{'|'.join(PACKAGES)})(?:\.\w+)+$")
FENCE = re.compile(r"^```.*?^```[ \t]*$", re.S | re.M)
SPAN = re.compile(r"`([^`]+)`")  # a code span may wrap onto the next line
LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]+)\)")


def name(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def prose(page: Path) -> str:
    """The page without its fenced code blocks (blank lines keep the line numbers)."""
    return FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), page.read_text(encoding="utf-8"))


def fences(page: Path) -> list[str]:
    return [m.group(0) for m in FENCE.finditer(page.read_text(encoding="utf-8"))]


def spans(page: Path) -> list[str]:
    return [" ".join(s.split()) for s in SPAN.findall(prose(page))]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: link text kept, lower case, punctuation dropped, spaces to hyphens."""
    text = LINK.sub(r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for line in prose(page).splitlines():
        heading = re.match(r"^#{1,6}\s+(.*)$", line)
        if heading:
            base = slug(heading.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            out.add(base if count == 0 else f"{base}-{count}")
    return out


def exists(path: str) -> bool:
    """A path of the checkout; a room written as a folder (`data/demo/`) is one Python module, which
    may be a package or, until it is split by phase, a single file."""
    if (ROOT / path).exists():
        return True
    return path.split("/")[0] in PACKAGES and path.endswith("/") and (ROOT / f"{path.rstrip('/')}.py").is_file()


def resolves(dotted: str) -> bool:
    """`gis.spatial.assign.locate_point`: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def test_the_readme_and_the_docs_pages_are_there_and_the_readme_links_every_page():
    assert len(DOCS) >= 9, [name(p) for p in DOCS]
    linked = {target.split("#")[0] for _, target in LINK.findall(prose(README))}
    missing = [name(p) for p in DOCS if name(p) not in linked]
    assert not missing, f"README.md does not link these pages: {missing}"


def test_every_relative_link_in_the_docs_points_to_a_file_that_exists():
    broken = []
    for page in PAGES:
        for text, target in LINK.findall(SPAN.sub("", prose(page))):
            if re.match(r"^[a-z]+:", target):
                continue  # http(s), mailto: not ours to check
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                broken.append(f"{name(page)}: [{text}]({target}) — no {path}")
            elif anchor and file.suffix == ".md" and anchor not in anchors(file):
                broken.append(f"{name(page)}: [{text}]({target}) — no heading #{anchor} in {file.name}")
    assert not broken, "\n".join(broken)


def test_every_path_the_docs_write_in_backticks_exists():
    missing = [f"{name(page)}: `{span}`" for page in PAGES for span in spans(page)
               if PATH.match(span) and not exists(span)]
    assert not missing, "these paths are not in the tree:\n" + "\n".join(missing)


def test_every_module_and_function_the_docs_name_can_be_imported():
    missing = [f"{name(page)}: `{span}`" for page in PAGES for span in spans(page)
               if DOTTED.match(span) and not resolves(span)]
    assert not missing, "these names do not import:\n" + "\n".join(missing)


def command_lines(page: Path) -> list[str]:
    """`gridgov …` as the page writes it: in backticks, and on the lines of its shell blocks."""
    lines = [s for s in spans(page) if s.startswith("gridgov ")]
    for block in fences(page):
        for line in block.splitlines():
            line = line.split(" #")[0].strip().removeprefix(".venv/bin/")
            if line.startswith("gridgov "):
                lines.append(line)
    return lines


def test_every_gridgov_command_and_option_the_docs_write_exists():
    from api.cli import main

    wrong = []
    for page in PAGES:
        for line in command_lines(page):
            words = line.split()[1:]
            command, ctx, path = main, click.Context(main), []
            while words and isinstance(command, click.Group):
                sub = command.get_command(ctx, words[0])
                if sub is None:
                    break
                command, ctx = sub, click.Context(sub, parent=ctx)
                path.append(words.pop(0))
            if not path or isinstance(command, click.Group) and not command.invoke_without_command:
                wrong.append(f"{name(page)}: `{line}` — no such command")
                continue
            # Options of the command itself: the first segment, before any "/ other command".
            options = set(re.findall(r"(?<![\w-])--[\w-]+", " ".join(words).split(" / ")[0]))
            known = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
            if options - known:
                wrong.append(f"{name(page)}: `{line}` — gridgov {' '.join(path)} has no {sorted(options - known)}")
    assert not wrong, "\n".join(wrong)


def test_every_benchmark_and_make_target_the_docs_name_exists():
    code = [s for page in PAGES for s in spans(page)]
    code += [line.strip() for page in PAGES for block in fences(page) for line in block.splitlines()]
    text = "\n".join(code)
    benches = set(re.findall(r"python -m bench (\w+)", text)) | set(re.findall(r"BENCH_ARGS=(\w+)", text))
    assert benches and not [b for b in benches if not (ROOT / "bench" / f"{b}.py").is_file()], benches
    targets = set(re.findall(r"^make (\w+)", text, re.M))
    makefile = (ROOT / "Makefile").read_text()
    assert {"run", "test", "lock"} <= targets
    assert not [t for t in targets if not re.search(rf"^{t}:", makefile, re.M)], targets


def cells(row: str) -> int:
    """How many cells GitHub sees in a table row: it splits on every unescaped pipe, in code spans too."""
    return len(re.findall(r"(?<!\\)\|", row.strip())) - 1


def test_every_table_in_the_docs_has_a_header_and_rows_of_its_width():
    broken = []
    for page in PAGES:
        lines = prose(page).splitlines()
        i = 0
        while i < len(lines):
            if not lines[i].startswith("|"):
                i += 1
                continue
            start = i
            while i < len(lines) and lines[i].startswith("|"):
                i += 1
            table = lines[start:i]
            where = f"{name(page)} line {start + 1}"
            if len(table) < 2 or not re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", table[1].strip()):
                broken.append(f"{where}: a table without its header row and |---| line (a blank line inside one?)")
                continue
            width = cells(table[0])
            broken += [f"{where}: row {n} has {cells(row)} cells, the header {width}"
                       for n, row in enumerate(table[1:], start=2) if cells(row) != width]
    assert not broken, "\n".join(broken)


def picture() -> str:
    section = README.read_text(encoding="utf-8").split("\n## Architecture\n", 1)[1].split("\n## ", 1)[0]
    return FENCE.search(section).group(0)


def test_the_architecture_picture_names_every_room_and_module_of_gis_layers_and_webmap():
    drawn = picture()

    def named(word: str) -> bool:
        return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", drawn) is not None

    missing = [f"{folder}/" for folder in (*PACKAGES, "migrations", "bench", "tests")
               if not re.search(rf"^{folder}/", drawn, re.M)]
    for room in ("gis", "layers", "webmap"):
        for path in sorted((ROOT / room).rglob("*.py")):
            if path.name == "__init__.py":
                missing += [] if named(f"{path.parent.name}/") else [path.parent.relative_to(ROOT).as_posix() + "/"]
            elif not named(path.stem):
                missing.append(path.relative_to(ROOT).as_posix())
    for path in sorted((ROOT / "webmap" / "static" / "js").iterdir()):
        if not named(path.stem if path.is_file() else f"{path.name}/"):
            missing.append(path.relative_to(ROOT).as_posix())
    if not named("templates/"):
        missing.append("webmap/templates/")
    assert not missing, "README's architecture picture leaves out: " + ", ".join(sorted(set(missing)))
