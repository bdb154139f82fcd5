"""Reading the audit trail: GET /api/v1/audit for admins, and `gridgov audit` in the district's local time."""
from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import text

from api.cli import main
from tests.conftest import auth, problem
from webmap import catalog


def _rows(session, n: int, actor: str = "甲", action: str = "user.create") -> None:
    session.execute(text("INSERT INTO audit_log (at, action, entity, entity_id, actor, via, after) "
                         "SELECT timestamptz '2026-06-01 00:30:00+00' + make_interval(mins => i), :action, 'user', "
                         "i::text, :actor, 'cli', '{\"role\": \"viewer\"}' FROM generate_series(1, :n) i"),
                    {"n": n, "actor": actor, "action": action})
    session.commit()


def test_admins_read_the_trail_paged_with_a_count_of_the_rest(client, session, make_user):
    _rows(session, 7)
    _rows(session, 2, actor="乙", action="setting.set")
    token = make_user("admin", name="管理员")
    page = client.get("/api/v1/audit?actor=甲&limit=3&offset=2", headers=auth(token)).json
    assert [r["entity_id"] for r in page["rows"]] == ["5", "4", "3"] and page["rows_omitted"] == 2
    assert page["rows"][0]["at"] == "2026-06-01T08:35:00+08:00"
    since = client.get("/api/v1/audit?since=2026-06-01T08:36:00&until=2026-06-02&entity=user", headers=auth(token)).json
    assert [r["entity_id"] for r in since["rows"]] == ["7", "6"] and since["rows_omitted"] == 0


def test_only_admins_read_the_trail_and_bad_filters_are_400(client, make_user):
    problem(client.get("/api/v1/audit", headers=auth(make_user("commander"))), 403)
    problem(client.get("/api/v1/audit?limit=0", headers=auth(make_user("admin"))), 400)
    problem(client.get("/api/v1/audit?since=yesterday", headers=auth(make_user("admin"))), 400)


def test_the_cli_prints_local_times_and_what_it_left_out(db_url, session, monkeypatch):
    _rows(session, 4)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.delenv("GRIDGOV_LANG", raising=False)
    done = CliRunner().invoke(main, ["audit", "--actor", "甲", "--limit", "3"])
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert lines[1].startswith("2026-06-01 08:34:00\t甲\tcli") and "user.create" in lines[1]
    assert lines[0] == catalog.t("cli.audit.header")
    assert len(lines) == 5 and lines[-1] == catalog.t("cli.more", n="1")
    as_json = json.loads(CliRunner().invoke(main, ["audit", "--since", "2026-06-01 08:33", "--json"]).output)
    assert [r["entity_id"] for r in as_json["rows"]] == ["4", "3"] and as_json["rows_omitted"] == 0


def test_gridgov_audit_purge_keeps_what_is_younger_than_the_retention(db_url, session, monkeypatch):
    session.execute(text("INSERT INTO audit_log (at, action, entity) VALUES (now() - interval '400 days', 'old', 'x'), "
                         "(now() - interval '200 days', 'young', 'x')"))
    session.commit()
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.delenv("GRIDGOV_LANG", raising=False)
    done = CliRunner().invoke(main, ["audit", "purge"])
    assert done.exit_code == 0, done.output
    assert catalog.t("cli.audit.purged", n="1", days=365) in done.output
    assert set(session.scalars(text("SELECT action FROM audit_log"))) == {"young", "audit.purge"}
