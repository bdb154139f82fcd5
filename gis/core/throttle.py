"""Failed sign-ins and bad keys counted in PostgreSQL per account and per client address, with a growing lock."""
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from gis.core import clock
from gis.core.errors import NotFound, TooManyAttempts
from gis.core.models import LoginThrottle

# The counts live in the database, not in each process: every server host behind the balancer
# sees the same count, and a restart does not forgive. One row per key that failed lately; rows
# whose last failure is older than FORGET_AFTER (and are not locked) are deleted as others fail,
# so a spray of made-up names cannot grow the table for ever.
#
# An address is allowed more failures than an account: a whole office (or a NAT gateway of a
# street's offices) signs in from one address, and one mistyping worker must not lock them all.
FREE_FAILURES = {"user": 5, "addr": 20}
FIRST_LOCK = dt.timedelta(minutes=1)  # at the first failure past the free ones; doubling after each further one
MAX_LOCK = dt.timedelta(hours=1)
FORGET_AFTER = dt.timedelta(hours=24)


def account_key(name: str) -> str:
    """The throttle key of an account name."""
    return f"user:{(name or '').strip()[:64]}"


def address_key(address: str | None) -> str:
    """The throttle key of a client address."""
    return f"addr:{address or 'unknown'}"


def lock_for(kind: str, failures: int) -> dt.timedelta | None:
    """How long a key with this many failures in a row is locked (None: not locked)."""
    over = failures - FREE_FAILURES[kind]
    if over < 0:
        return None
    return min(FIRST_LOCK * 2 ** min(over, 32), MAX_LOCK)


def _kind(key: str) -> str:
    return key.partition(":")[0]


def check(session: Session, keys: Iterable[str]) -> None:
    """Raise TooManyAttempts if any of these keys is locked now (with the longest wait left)."""
    now = clock.now(session)
    rows = session.execute(select(LoginThrottle.key, LoginThrottle.locked_until)
                           .where(LoginThrottle.key.in_(list(keys)), LoginThrottle.locked_until > now)).all()
    if rows:
        key, until = max(rows, key=lambda row: row.locked_until)
        wait = math.ceil((until - now).total_seconds())
        what = "this account" if _kind(key) == "user" else "your address"
        raise TooManyAttempts(detail=f"Too many failed attempts from {what}; retry in {wait} s, or ask an admin "
                              "to lift the lock (`gridgov user unlock NAME|ADDRESS`).", retry_after_s=wait)


def fail(session: Session, keys: Iterable[str]) -> None:
    """Count one failure against each key, locking a key that has had its free failures."""
    now = clock.now(session)
    session.execute(delete(LoginThrottle).where(LoginThrottle.last_failure_at < now - FORGET_AFTER,
                                                func.coalesce(LoginThrottle.locked_until, now) <= now))
    for key in keys:
        stmt = insert(LoginThrottle).values(key=key, failures=1, last_failure_at=now)
        failures = session.scalar(stmt.on_conflict_do_update(
            index_elements=[LoginThrottle.key],
            set_={"failures": LoginThrottle.failures + 1, "last_failure_at": now},
        ).returning(LoginThrottle.failures))
        lock = lock_for(_kind(key), failures)
        if lock is not None:
            session.get(LoginThrottle, key, populate_existing=True).locked_until = now + lock
    session.flush()


def clear(session: Session, key: str) -> None:
    """Forget a key's failures (an account after a successful sign-in)."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))


def locks(session: Session) -> list[LoginThrottle]:
    """Every key with failures counted, locked ones first, newest failure first."""
    return list(session.scalars(select(LoginThrottle).order_by(LoginThrottle.locked_until.desc().nulls_last(),
                                                                LoginThrottle.last_failure_at.desc())))


def unlock(session: Session, name_or_address: str) -> list[str]:
    """Lift the lock and forget the failures of an account name or a client address; the keys cleared."""
    keys = [account_key(name_or_address), address_key(name_or_address)]
    cleared = list(session.scalars(delete(LoginThrottle).where(LoginThrottle.key.in_(keys))
                                   .returning(LoginThrottle.key)))
    if not cleared:
        raise NotFound("No such lock", f"No failed attempts are counted for {name_or_address!r}; "
                       "`gridgov user locks` lists them.")
    return cleared
