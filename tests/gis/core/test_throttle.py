"""The sign-in throttle: free failures, then a lock that doubles to a cap; unlock; old counts forgotten."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from gis.core import clock
from gis.core.errors import NotFound, TooManyAttempts
from gis.core.models import LoginThrottle
from gis.core.throttle import MAX_LOCK, account_key, address_key, check, clear, fail, lock_for, locks, unlock


def test_an_account_is_locked_after_five_failures_for_a_minute_doubling_to_an_hour():
    assert [lock_for("user", n) for n in range(1, 5)] == [None] * 4
    assert [lock_for("user", n).total_seconds() for n in range(5, 9)] == [60, 120, 240, 480]
    assert lock_for("user", 40) == lock_for("user", 10_000) == MAX_LOCK


def test_an_address_may_fail_more_often_than_an_account():
    assert lock_for("addr", 19) is None and lock_for("addr", 20).total_seconds() == 60


def test_the_fifth_failure_locks_and_check_says_how_long(session):
    key = account_key("boss")
    for _ in range(4):
        fail(session, [key])
    check(session, [key])  # four failures: not locked yet
    fail(session, [key])
    with pytest.raises(TooManyAttempts) as raised:
        check(session, [key, address_key("192.0.2.1")])
    assert 55 <= raised.value.retry_after_s <= 60 and "retry in" in raised.value.detail


def test_clear_and_unlock_forget_the_failures(session):
    fail(session, [account_key("boss"), address_key("192.0.2.1")])
    clear(session, account_key("boss"))
    assert [row.key for row in locks(session)] == [address_key("192.0.2.1")]
    assert unlock(session, "192.0.2.1") == [address_key("192.0.2.1")]
    assert locks(session) == []


def test_unlocking_what_is_not_counted_says_so(session):
    with pytest.raises(NotFound, match="lock"):
        unlock(session, "nobody")


def test_failures_older_than_a_day_are_forgotten_as_others_fail(session):
    fail(session, [account_key("old")])
    session.execute(update(LoginThrottle).values(last_failure_at=clock.now(session) - dt.timedelta(hours=25)))
    fail(session, [account_key("new")])
    assert list(session.scalars(select(LoginThrottle.key))) == [account_key("new")]
