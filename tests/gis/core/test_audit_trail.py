"""The audit log is append-only in the database; only the purge removes rows, and only those past the retention."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from gis.cases.workflow import set_setting
from gis.core import audit
from gis.core.audit_query import AuditFilter, purge, query_audit
from gis.core.errors import InvalidInput


def _row(session, action: str, days_ago: int, actor: str = "ops") -> None:
    session.execute(text("INSERT INTO audit_log (at, action, entity, actor) VALUES (now() - make_interval(days => :d), "
                         ":action, 'test', :actor)"), {"d": days_ago, "action": action, "actor": actor})


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET action = 'forged'", "DELETE FROM audit_log",
                                       "TRUNCATE audit_log"])
def test_the_database_refuses_to_change_or_remove_audit_rows(session, statement):
    _row(session, "kept", 400)
    session.commit()
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(text(statement))
    session.rollback()
    assert session.scalar(text("SELECT action FROM audit_log")) == "kept"


def test_setting_the_purge_mark_by_hand_still_keeps_rows_younger_than_six_months(session):
    _row(session, "young", 100)
    session.commit()
    session.execute(text("SELECT set_config('gridgov.audit_purge', 'on', true)"))
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(text("DELETE FROM audit_log"))
    session.rollback()


def test_purge_removes_only_rows_older_than_the_retention(session):
    for days in (1, 179, 364, 366, 1000):
        _row(session, f"aged {days}", days)
    session.commit()
    removed, days = purge(session)
    session.commit()
    assert (removed, days) == (2, 365)
    left = set(session.scalars(text("SELECT action FROM audit_log")))
    assert left == {"aged 1", "aged 179", "aged 364", "audit.purge"}


def test_a_retention_under_180_days_is_refused_by_the_setting_and_the_database(session):
    with pytest.raises(InvalidInput):
        set_setting(session, "audit_retention_days", 90)
    with pytest.raises(DBAPIError, match="at least 180"):
        session.execute(text("SELECT gridgov_audit_purge(90)"))


def test_removing_a_user_keeps_their_name_in_the_rows(session):
    from gis.core.users import create_user

    user, _ = create_user(session, "离职者", "viewer")
    audit.record(session, "event.note", "event", 1, user_id=user.id, actor=user.name)
    session.commit()
    session.execute(text("DELETE FROM users WHERE name = '离职者'"))
    session.commit()
    assert session.execute(text("SELECT user_id, actor FROM audit_log WHERE action = 'event.note'")).one() == (
        None, "离职者")


def test_the_query_filters_and_says_how_many_it_left_out(session):
    for i in range(5):
        _row(session, "user.create", i, actor="甲")
    _row(session, "event.register", 0, actor="乙")
    _row(session, "event.dispatch", 0, actor="乙")
    session.commit()
    rows, omitted = query_audit(session, AuditFilter(actor="甲"), limit=2)
    assert [r["actor"] for r in rows] == ["甲", "甲"] and omitted == 3
    assert rows[0]["at"].endswith("+08:00")
    family, _ = query_audit(session, AuditFilter(action="event."))
    assert {r["action"] for r in family} == {"event.register", "event.dispatch"}
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=1, hours=12)
    recent, _ = query_audit(session, AuditFilter(since=since, entity="test"))
    assert len(recent) == 4


def test_a_purge_is_itself_audited_with_its_origin(session):
    with audit.acting(via="cli", actor="运维"):
        purge(session)
    session.commit()
    row = session.execute(text("SELECT actor, via FROM audit_log WHERE action = 'audit.purge'")).one()
    assert row == ("运维", "cli")
