"""The house's plan holds: which room imports which (pyproject's [tool.importlinter]), no import cycle,
lint, short modules, and the current-version rule of dated rows written once."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import grimp

from tests.paths import ROOT

BIN = Path(sys.executable).parent
OURS = ("gis", "layers", "webmap", "api", "data")  # the packages of pyproject's [tool.importlinter]
MAX_LINES = 400
OVER = "# Over 400 lines because"


def test_every_room_imports_only_the_rooms_below_it():
    done = subprocess.run([str(BIN / "lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout and "4 kept" in done.stdout


def test_ruff_finds_nothing_to_report():
    done = subprocess.run([str(BIN / "ruff"), "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components of more than one module: each a set of modules that import
    one another, directly or through others (Tarjan's algorithm, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        while work:
            module, imported = work[-1]
            for other in imported:
                if other not in index:
                    index[other] = low[other] = len(index)
                    stack.append(other)
                    on_stack.add(other)
                    work.append((other, iter(sorted(graph.find_modules_directly_imported_by(other)))))
                    break
                if other in on_stack:
                    low[module] = min(low[module], index[other])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[module])
                if low[module] == index[module]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == module:
                            break
                    if len(component) > 1:
                        cycles.append(sorted(component))
    return cycles


def test_no_module_of_ours_imports_itself_through_others():
    # grimp counts every import, inside functions and under TYPE_CHECKING too.
    graph = grimp.build_graph(*OURS, cache_dir=None)
    cycles = import_cycles(graph)
    assert not cycles, "modules that import one another (directly or through others):\n" + "\n".join(
        " ↔ ".join(c) for c in cycles)


def test_the_cycle_finder_finds_a_cycle_through_three_modules():
    graph = grimp.ImportGraph()
    for importer, imported in (("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("e", "e")):
        graph.add_import(importer=importer, imported=imported)
    assert import_cycles(graph) == [["a", "b", "c"]]


def test_no_module_is_over_400_lines_without_saying_why_at_its_top():
    long = []
    for package in (*OURS, "bench"):
        for path in sorted((ROOT / package).rglob("*.py")):
            lines = path.read_text(encoding="utf-8").splitlines()
            if len(lines) > MAX_LINES and not any(line.startswith(OVER) for line in lines[:15]):
                long.append(f"{path.relative_to(ROOT)}: {len(lines)} lines")
    assert not long, (f"modules over {MAX_LINES} lines, without a `{OVER} …` line in their first 15 lines:\n"
                      + "\n".join(long))


# The current version / in force rule of dated rows lives in gis/core/dated.py; the schema (gis/core/models)
# declares the partial indexes that match its text.
CURRENT_RULE = re.compile(r"valid_to\s+IS\s+NULL|\.valid_to\.is_\(None\)", re.IGNORECASE)
RULE_HOMES = ("gis/core/dated.py", "gis/core/models/")


def test_the_current_version_rule_is_written_only_in_gis_core_dated():
    spelled_out = []
    for package in OURS:
        for path in sorted((ROOT / package).rglob("*")):
            relative = path.relative_to(ROOT).as_posix()
            if not path.is_file() or "__pycache__" in relative or relative.startswith(RULE_HOMES):
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            for number, line in enumerate(text.splitlines(), 1):
                if CURRENT_RULE.search(line):
                    spelled_out.append(f"{relative}:{number}: {line.strip()}")
    assert not spelled_out, ("the current-version rule spelled out; use gis.core.dated (current, not_ended, "
                             "in_force, in_force_just_before, in_force_during, in_force_clause):\n"
                             + "\n".join(spelled_out))
