"""Signed-in browsers' sessions, kept on the server: open, look up, touch, revoke one or all of a user's."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from gis.core import clock
from gis.core.models import User, UserSession
from gis.core.settings import get_settings

# A session is seen on every page and API call its browser makes; writing last_seen_at each time
# would turn every read into a write. Once a minute is enough for an idle timeout counted in minutes.
TOUCH_EVERY = dt.timedelta(minutes=1)


def hash_session_id(session_id: str) -> str:
    """The stored form of a session id (sha256: the id is 256-bit random, like an API token)."""
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Timeouts:
    """How long a session lives: since its last use (idle) and since sign-in (absolute)."""

    idle: dt.timedelta
    absolute: dt.timedelta


def timeouts(session: Session) -> Timeouts:
    """The district's session timeouts (settings session_idle_minutes, session_absolute_hours)."""
    settings = get_settings(session)
    return Timeouts(dt.timedelta(minutes=float(settings["session_idle_minutes"])),
                    dt.timedelta(hours=float(settings["session_absolute_hours"])))


def _alive(now: dt.datetime, limits: Timeouts):
    return (UserSession.last_seen_at > now - limits.idle) & (UserSession.created_at > now - limits.absolute)


def open_session(session: Session, user_id: int, *, address: str | None = None) -> str:
    """Start a session for a user; returns its id (for the cookie, never stored as it is)."""
    now = clock.now(session)
    # The user's expired sessions go now: the table holds live sessions and a few dead ones, not years.
    session.execute(delete(UserSession).where(UserSession.user_id == user_id, ~_alive(now, timeouts(session))))
    session_id = secrets.token_urlsafe(32)
    session.add(UserSession(token_hash=hash_session_id(session_id), user_id=user_id, created_at=now,
                            last_seen_at=now, address=address))
    session.flush()
    return session_id


@dataclass(frozen=True, slots=True)
class Found:
    """A live session and its active user; `stale` when last_seen_at is due to be touched."""

    id: int
    user: User
    stale: bool


def lookup(session: Session, token_hash: str) -> Found | None:
    """The live session with this hash and its active user, or None (unknown, revoked, timed out, disabled)."""
    now = clock.now(session)
    row = session.execute(select(UserSession.id, UserSession.last_seen_at, User)
                          .join(User, User.id == UserSession.user_id)
                          .where(UserSession.token_hash == token_hash, User.active,
                                 _alive(now, timeouts(session)))).first()
    if row is None:
        return None
    return Found(row.id, row.User, now - row.last_seen_at >= TOUCH_EVERY)


def touch(bind: Session | Connection, session_row_id: int) -> None:
    """Mark a session as used now (restarts its idle timeout)."""
    bind.execute(update(UserSession).where(UserSession.id == session_row_id).values(last_seen_at=clock.now(bind)))


def revoke(session: Session, token_hash: str) -> int:
    """End one session (logout); returns how many ended (0 or 1)."""
    return session.execute(delete(UserSession).where(UserSession.token_hash == token_hash)).rowcount


def revoke_all(session: Session, user_id: int) -> int:
    """End every session of a user (sign out everywhere, new password, new role, disabled); how many ended."""
    return session.execute(delete(UserSession).where(UserSession.user_id == user_id)).rowcount


def prune(session: Session) -> int:
    """Delete every timed-out session of every user; returns how many."""
    now = clock.now(session)
    return session.execute(delete(UserSession).where(~_alive(now, timeouts(session)))).rowcount
