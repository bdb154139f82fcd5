"""The house's rules for the page scripts: eslint finds nothing, modules stay short and say what they are,
and the server hands them to browsers as JavaScript modules."""
from __future__ import annotations

import subprocess
from pathlib import Path

from tests.paths import ROOT

SCRIPTS = ROOT / "webmap" / "static" / "js"
ESLINT = ROOT / "node_modules" / ".bin" / "eslint"
MAX_LINES = 400


def modules() -> list[Path]:
    """Every page module, entry first."""
    found = sorted(SCRIPTS.rglob("*.js"))
    assert found, f"no modules under {SCRIPTS}"
    return found


def test_eslint_finds_no_problem_in_the_page_scripts():
    assert ESLINT.exists(), \
        f"{ESLINT.relative_to(ROOT)} is missing: run `make test` (it runs npm ci from package-lock.json)"
    done = subprocess.run([str(ESLINT), "--max-warnings", "0", str(SCRIPTS.relative_to(ROOT))],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"eslint (eslint.config.js) found problems:\n{done.stdout}{done.stderr}"


def test_every_module_is_short_and_opens_with_what_it_is():
    for path in modules():
        text = path.read_text()
        name = path.relative_to(ROOT)
        assert text.startswith("/* "), f"{name} should open with a /* … */ comment saying what it is"
        assert len(text.splitlines()) <= MAX_LINES, f"{name} is over {MAX_LINES} lines: split it by what it does"


def test_every_module_is_served_as_javascript_and_revalidated(client):
    for path in modules():
        url = "/static/" + path.relative_to(ROOT / "webmap" / "static").as_posix()
        response = client.get(url)
        assert response.status_code == 200, url
        # Chromium refuses a module of any other type; no-cache keeps a release from mixing old and new modules.
        assert response.mimetype == "text/javascript", (url, response.mimetype)
        assert response.headers["Cache-Control"] == "no-cache", url
        assert response.headers["ETag"], url  # so revalidating costs a 304, not the file
