"""The house's imports: at the top of each module (a deferred one says why), and a `gridgov` that names
its commands without importing them. No import cycle: tests/test_house.py."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from api.cli import COMMANDS, main
from tests.paths import ROOT

# The packages whose imports are all at module level.
TOP_LEVEL_ONLY = ("gis", "layers", "webmap", "api", "data", "bench")
DEFERRED = "# deferred:"


def _imports_inside_functions(path: Path) -> list[tuple[int, str]]:
    """(line, statement) of every import statement or __import__ call in a function body of `path`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                if isinstance(inner, (ast.Import, ast.ImportFrom)) or (
                        isinstance(inner, ast.Call) and getattr(inner.func, "id", None) == "__import__"):
                    found.append((inner.lineno, ast.unparse(inner)))
    return sorted(set(found))


def test_imports_sit_at_the_top_unless_deferred_with_a_reason():
    undeclared = []
    for package in TOP_LEVEL_ONLY:
        for path in sorted((ROOT / package).rglob("*.py")):
            lines = path.read_text(encoding="utf-8").splitlines()
            for line, statement in _imports_inside_functions(path):
                if not lines[line - 2].strip().startswith(DEFERRED):
                    undeclared.append(f"{path.relative_to(ROOT)}:{line}: {statement}")
    assert not undeclared, ("imports inside functions, without a `# deferred: <why>` line above them:\n"
                            + "\n".join(undeclared))


def _help(group: click.Group, width: int) -> str:
    done = CliRunner().invoke(group, ["--help"], prog_name="gridgov", terminal_width=width)
    assert done.exit_code == 0, done.output
    return done.output


def test_gridgov_help_lists_each_command_as_its_own_module_describes_it():
    ctx = click.Context(main)
    loaded = {name: main.get_command(ctx, name) for name in COMMANDS}
    for name, command in loaded.items():
        assert command is not None and command.name == name
        assert COMMANDS[name][1] == command.help.split("\n\n")[0].strip().replace("\n", " "), name
    eager = click.Group(name=main.name, help=main.help, commands=loaded)
    for width in (50, 80, 120):
        assert _help(main, width) == _help(eager, width)


def test_gridgov_help_imports_no_command_module():
    probe = ("import sys\nfrom api.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
             "print(' '.join(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    loaded = done.stdout.splitlines()[-1].split()
    assert "Commands:" in done.stdout and "api.cli" in loaded
    heavy = [m for m in loaded if m.startswith(("api.cli.", "api.app", "sqlalchemy", "flask", "gis.core.db"))]
    assert not heavy, f"`gridgov --help` imported {heavy}"
