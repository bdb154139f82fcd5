"""Every `gridgov` command that writes leaves an audit row naming the operating-system user, via `cli`."""
from __future__ import annotations

import getpass

from click.testing import CliRunner
from sqlalchemy import text

from api.cli import COMMANDS, main
from tests.factories import cadre, grid, hierarchy, rect

# Top-level commands that write nothing to audit, each with its reason; every other one has a
# recipe below, so a new writing command without an audit row fails this test.
READ_ONLY_OR_EXEMPT = {
    "coverage": "reads only",
    "stats": "reads only",
    "grids": "reads only (check, history); edits go through the API",
    "db": "the schema itself (migrate): Alembic's version table records it, before audit_log may exist",
    "run": "starts the server (and the demo, whose users are audited by create_user)",
    "serve": "starts the server",
    "demo": "loads the demo district into an empty database; its users are audited by create_user",
}


def _recipes(tmp_path, g, c):
    cadres = tmp_path / "cadres.csv"
    cadres.write_text("code,name,type\nWG9001,李网格,网格员\n", encoding="utf-8")
    days = tmp_path / "calendar.csv"
    days.write_text("date,workday,note\n2027-10-01,false,国庆节\n", encoding="utf-8")
    return {
        "user add": (["user", "add", "新人", "--role", "viewer"], "user.create"),
        "user token": (["user", "token", "新人"], "token.issue"),
        "workflow settings": (["workflow", "settings", "ranking_min_count", "7"], "setting.set"),
        "workflow calendar import": (["workflow", "calendar", "import", str(days)], "calendar.import"),
        "import": (["import", "cadres", str(cadres)], "import"),
        "export": (["export", "grids", str(tmp_path / "grids.geojson")], "export"),
        "contract": (["contract", "add", c.code, "--grid", g.code, "--role", "包片"], "contract.create"),
        "assign": (["assign"], "assign"),
        "audit purge": (["audit", "purge"], "audit.purge"),
        "duties department": (["duties", "department", "CG01", "城管执法局", "--level", "district"],
                              "department.create"),
    }


WRITING = {"audit", "user", "workflow", "import", "export", "contract", "assign", "duties"}


def test_every_command_is_audited_or_has_a_reason():
    assert set(COMMANDS) - WRITING - set(READ_ONLY_OR_EXEMPT) == set()


def test_each_writing_command_leaves_a_row_as_the_os_user(db_url, session, monkeypatch, tmp_path):
    _, _, community = hierarchy(session, rect(0, 0, 200, 200))
    g = grid(session, community, 1, rect(0, 0, 200, 200))
    c = cadre(session, "WG0001", "网格员")
    session.commit()
    monkeypatch.setenv("DATABASE_URL", db_url)
    recipes = _recipes(tmp_path, g, c)
    assert {name.split()[0] for name in recipes} == WRITING
    for name, (args, action) in recipes.items():
        before = session.scalar(text("SELECT coalesce(max(id), 0) FROM audit_log"))
        done = CliRunner().invoke(main, args)
        assert done.exit_code == 0, f"{name}: {done.output}"
        rows = session.execute(text("SELECT action, actor, via FROM audit_log WHERE id > :id"), {"id": before}).all()
        assert (action, getpass.getuser(), "cli") in rows, f"gridgov {name} left {rows}"


def test_a_dry_run_import_leaves_no_row(db_url, session, monkeypatch, tmp_path):
    cadres = tmp_path / "cadres.csv"
    cadres.write_text("code,name,type\nWG9002,王网格,网格员\n", encoding="utf-8")
    monkeypatch.setenv("DATABASE_URL", db_url)
    done = CliRunner().invoke(main, ["import", "cadres", str(cadres), "--dry-run"])
    assert done.exit_code == 0, done.output
    assert session.scalar(text("SELECT count(*) FROM audit_log")) == 0
