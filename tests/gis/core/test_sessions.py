"""Server-side sessions: found while alive, gone after the idle or absolute timeout, ended by revocation."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from gis.cases.workflow.settings import set_setting
from gis.core import clock
from gis.core.models import UserSession
from gis.core.sessions import hash_session_id, lookup, open_session, prune, revoke, revoke_all, touch
from gis.core.users import create_user, set_active, set_password, set_role


def signed_in(session, name: str = "li") -> tuple[int, str]:
    """A user with one open session: (user id, session id)."""
    user, _ = create_user(session, name, "viewer", password="password1")
    sid = open_session(session, user.id, address="198.51.100.7")
    session.commit()
    return user.id, sid


def age(session, sid: str, *, idle: dt.timedelta = dt.timedelta(0), since_start: dt.timedelta = dt.timedelta(0)):
    """Make a session look as if last used `idle` ago and opened `since_start` ago."""
    now = clock.now(session)
    session.execute(update(UserSession).where(UserSession.token_hash == hash_session_id(sid))
                    .values(last_seen_at=now - idle, created_at=now - since_start))
    session.commit()


def test_a_fresh_session_finds_its_user(session):
    user_id, sid = signed_in(session)
    found = lookup(session, hash_session_id(sid))
    assert found is not None and found.user.id == user_id and not found.stale


def test_a_session_idle_longer_than_the_setting_is_not_found(session):
    _, sid = signed_in(session)
    age(session, sid, idle=dt.timedelta(minutes=31), since_start=dt.timedelta(minutes=31))
    assert lookup(session, hash_session_id(sid)) is None


def test_the_idle_timeout_is_the_districts_setting(session):
    _, sid = signed_in(session)
    set_setting(session, "session_idle_minutes", 120)
    session.commit()
    age(session, sid, idle=dt.timedelta(minutes=31), since_start=dt.timedelta(minutes=31))
    assert lookup(session, hash_session_id(sid)) is not None


def test_a_session_in_constant_use_still_ends_at_the_absolute_timeout(session):
    _, sid = signed_in(session)
    age(session, sid, idle=dt.timedelta(minutes=1), since_start=dt.timedelta(hours=12, minutes=1))
    assert lookup(session, hash_session_id(sid)) is None


def test_touching_a_stale_session_restarts_its_idle_timeout(session):
    _, sid = signed_in(session)
    age(session, sid, idle=dt.timedelta(minutes=29), since_start=dt.timedelta(minutes=29))
    found = lookup(session, hash_session_id(sid))
    assert found.stale
    touch(session, found.id)
    session.commit()
    assert not lookup(session, hash_session_id(sid)).stale


def test_revoking_one_session_leaves_the_users_others(session):
    user_id, first = signed_in(session)
    second = open_session(session, user_id)
    assert revoke(session, hash_session_id(first)) == 1
    assert lookup(session, hash_session_id(first)) is None and lookup(session, hash_session_id(second)) is not None
    assert revoke_all(session, user_id) == 1 and lookup(session, hash_session_id(second)) is None


def test_a_new_password_a_new_role_or_disabling_ends_every_session_of_the_user(session):
    for name, change in (("pw", lambda: set_password(session, "pw", "another password")),
                         ("role", lambda: set_role(session, "role", "commander")),
                         ("off", lambda: set_active(session, "off", False))):
        _, sid = signed_in(session, name)
        change()
        session.commit()
        assert lookup(session, hash_session_id(sid)) is None, name


def test_prune_deletes_only_timed_out_sessions(session):
    user_id, old = signed_in(session)
    live = open_session(session, user_id)
    age(session, old, idle=dt.timedelta(hours=1), since_start=dt.timedelta(hours=1))
    assert prune(session) == 1
    assert lookup(session, hash_session_id(live)) is not None
