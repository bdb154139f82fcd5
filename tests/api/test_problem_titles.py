"""Every problem title the code can raise has its catalog entry, and a client reads it in its language."""
from __future__ import annotations

import ast
from pathlib import Path

from werkzeug.exceptions import default_exceptions

from tests.conftest import auth, problem
from webmap import catalog

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("gis", "api", "layers", "webmap", "data")


def _name(func: ast.expr) -> str | None:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _sample(node: ast.expr) -> str | None:
    """The title a literal or f-string gives, each {…} of an f-string filled with "x"; None if not a literal."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "x" for v in node.values)
    return None


def _title_arg(call: ast.Call, index: int) -> ast.expr | None:
    if len(call.args) > index:
        return call.args[index]
    return next((k.value for k in call.keywords if k.arg == "title"), None)


def _trees() -> list[tuple[str, ast.Module]]:
    return [(str(p.relative_to(ROOT)), ast.parse(p.read_text(encoding="utf-8")))
            for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]


def raised_titles() -> dict[str, str]:
    """Every title the code gives an error → where: class titles, raise sites, problem() calls and title helpers."""
    # A title that is not a literal is listed as "<not a literal>", which has no entry: the test then fails.
    trees = _trees()
    errors = {"GridgovError"}
    while True:  # every subclass of GridgovError, wherever it is defined
        more = {n.name for _, tree in trees for n in ast.walk(tree) if isinstance(n, ast.ClassDef)
                and any(_name(b) in errors for b in n.bases)} - errors
        if not more:
            break
        errors |= more
    # Errors whose constructor takes something else first (GridRetired(rows)) keep their class's title.
    own_init = {n.name for _, tree in trees for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name in errors
                for f in n.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"
                and [a.arg for a in f.args.args][1:2] != ["title"]}
    found: dict[str, str] = {}
    forwarders: dict[str, int] = {}  # helper name → index of its `title` parameter
    calls: list[tuple[str, ast.Call, int]] = []
    for path, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name in errors:
                for item in node.body:
                    if isinstance(item, ast.Assign) and any(getattr(t, "id", None) == "title" for t in item.targets):
                        found[_sample(item.value) or f"<not a literal> {path}:{item.lineno}"] = path
            if isinstance(node, ast.FunctionDef) and "title" in [a.arg for a in node.args.args]:
                if any(isinstance(c, ast.Call) and _name(c.func) in errors
                       and isinstance(_title_arg(c, 0), ast.Name) and _title_arg(c, 0).id == "title"
                       for c in ast.walk(node)):
                    forwarders[node.name] = [a.arg for a in node.args.args].index("title")
            if isinstance(node, ast.Call):
                if _name(node.func) in errors - own_init:
                    calls.append((path, node, 0))
                elif _name(node.func) == "problem" and path == "api/errors.py":
                    calls.append((path, node, 1))
    for path, tree in trees:
        calls += [(path, n, forwarders[_name(n.func)]) for n in ast.walk(tree)
                  if isinstance(n, ast.Call) and _name(n.func) in forwarders]
    for path, call, index in calls:
        arg = _title_arg(call, index)
        if arg is None or (isinstance(arg, ast.Name) and arg.id == "title"):
            continue  # the class's own title, or a helper passing its caller's title on (checked at the caller)
        if isinstance(arg, ast.Attribute) and arg.attr in ("title", "name"):
            continue  # an error's title handed on, werkzeug's name (its own test below)
        found[_sample(arg) or f"<not a literal> {path}:{call.lineno}"] = f"{path}:{call.lineno}"
    return found


def test_every_title_the_code_raises_has_a_catalog_entry():
    titles = raised_titles()
    assert len(titles) > 150, "the walk finds the raise sites"
    missing = sorted(f"{where}: {title}" for title, where in titles.items() if catalog.problem_key(title) is None)
    assert not missing, "add these titles to webmap/messages/problems.json"


def test_every_problem_entry_is_a_title_the_code_or_werkzeug_uses():
    used = {catalog.problem_key(title)[0] for title in raised_titles() if catalog.problem_key(title)}
    used |= {f"{catalog.PROBLEM}http_{code}" for code in default_exceptions}  # the fallback by status
    unused = sorted(set(catalog.messages("en", catalog.PROBLEM)) - used)
    assert not unused, "no stale entries: remove them or raise them"


def test_every_http_error_werkzeug_raises_has_its_own_entry():
    for code, exc in default_exceptions.items():
        assert catalog.problem_key(exc().name) is not None, code
        assert catalog.has(f"{catalog.PROBLEM}http_{code}"), code


def test_a_title_with_a_name_in_it_keeps_the_name_in_both_languages():
    key, values = catalog.problem_key("Invalid snap_m")
    assert key == "problem.invalid_param" and values == {"name": "snap_m"}
    assert catalog.problem_title("Invalid snap_m", "zh") == (key, catalog.t(key, "zh", name="snap_m"))
    assert "snap_m" in catalog.problem_title("Invalid snap_m", "zh")[1]


def test_problem_titles_are_chinese_by_default(client):
    body = problem(client.get("/no/such/thing"), 404)
    assert body["title"] == catalog.t("problem.http_404", "zh") and body["code"] == "problem.http_404"


def test_problem_titles_follow_an_english_accept_language(client, make_user):
    body = problem(client.get("/no/such/thing", headers={"Accept-Language": "en-GB,en;q=0.9"}), 404)
    assert body["title"] == catalog.t("problem.http_404", "en")
    headers = auth(make_user("commander")) | {"Accept-Language": "en"}
    body = problem(client.get("/api/v1/events/999999", headers=headers), 404)
    assert body["title"] == catalog.t("problem.no_such_event", "en") and body["code"] == "problem.no_such_event"
    body = problem(client.get("/api/v1/events/999999", headers=headers | {"Accept-Language": "zh-CN"}), 404)
    assert body["title"] == catalog.t("problem.no_such_event", "zh")

