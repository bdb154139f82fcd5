"""Audit rows say who acted, how and from where: the API's caller and request, the CLI's user."""
from __future__ import annotations

import getpass

from click.testing import CliRunner
from sqlalchemy import text

from gis.core import audit
from tests.conftest import auth
from tests.factories import cadre, grid, hierarchy, rect


def _grid_and_cadre(session):
    _, _, community = hierarchy(session, rect(0, 0, 200, 200))
    g = grid(session, community, 1, rect(0, 0, 200, 200))
    c = cadre(session, "WG0001", "网格员", name="张网格")
    session.commit()
    return g, c


def test_an_api_write_is_audited_with_its_caller_address_and_request_id(client, session, make_user):
    g, c = _grid_and_cadre(session)
    token = make_user("planner", name="规划员")
    answer = client.post("/api/v1/contracts", headers={**auth(token), "X-Request-Id": "req-42"},
                         json={"cadre_code": c.code, "grid_code": g.code, "role": "包片"},
                         environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    assert answer.headers["X-Request-Id"] == "req-42"
    row = session.execute(text("SELECT a.action, a.actor, a.via, a.address, a.request_id, u.name FROM audit_log a "
                               "LEFT JOIN users u ON u.id = a.user_id ORDER BY a.id DESC LIMIT 1")).one()
    assert row == ("contract.create", "规划员", "token", "10.1.2.3", "req-42", "规划员")


def test_a_request_without_a_usable_id_gets_a_fresh_one(client):
    first = client.get("/healthz", headers={"X-Request-Id": "bad id with spaces"}).headers["X-Request-Id"]
    second = client.get("/healthz").headers["X-Request-Id"]
    assert first != second and len(first) == len(second) == 32 and first.isalnum()


def test_a_cli_write_is_audited_as_the_operating_system_user(db_url, session, monkeypatch):
    from api.cli import main

    g, c = _grid_and_cadre(session)
    monkeypatch.setenv("DATABASE_URL", db_url)
    done = CliRunner().invoke(main, ["contract", "add", c.code, "--grid", g.code, "--role", "包片"])
    assert done.exit_code == 0, done.output
    row = session.execute(text("SELECT actor, via, address FROM audit_log ORDER BY id DESC LIMIT 1")).one()
    assert row == (getpass.getuser(), "cli", None)


def test_the_origin_of_a_block_comes_back_after_it():
    assert audit.current_origin().via == "system"
    with audit.acting(via="cli", actor="ops"):
        audit.identify(user_id=7, actor="某人", via="token")
        assert audit.current_origin().actor == "某人"
    assert audit.current_origin() == audit.Origin()
