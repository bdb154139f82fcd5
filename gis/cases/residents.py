"""The residents' channel (社区通 在线报修): reports from people without an account, through Open311.

A resident has no account: their reports are made in the name of one built-in user, `residents`,
which cannot sign in (no password, no token) and reads nothing. What protects the channel is a
limit of reports per client address and hour, counted from the audit trail (which records every
report's address), so every server host behind the balancer counts the same reports.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.core import audit, clock
from gis.core.errors import TooManyAttempts
from gis.core.models import AuditEntry, User

RESIDENTS = "residents"  # the built-in reporter of the residents' channel
REPORT_ACTION = "resident.report"
WINDOW = dt.timedelta(hours=1)


def residents_user(session: Session) -> User:
    """The built-in user residents' reports are made in the name of (created on first use, never signs in)."""
    user = session.scalar(select(User).where(User.name == RESIDENTS))
    if user is None:
        user = User(name=RESIDENTS, display_name="居民 residents", role="viewer", password_hash=None,
                    token_hash=None, active=True)
        session.add(user)
        session.flush()
    return user


def reports_from(session: Session, address: str | None, since: dt.datetime) -> list[dt.datetime]:
    """When the residents' reports from `address` since `since` were made, oldest first."""
    return list(session.scalars(
        select(AuditEntry.at).where(AuditEntry.action == REPORT_ACTION, AuditEntry.address == address,
                                    AuditEntry.at >= since).order_by(AuditEntry.at)))


def check_rate(session: Session, address: str | None, per_hour: int) -> None:
    """Refuse (TooManyAttempts, with when to retry) a client that made `per_hour` reports in the last hour."""
    now = clock.now(session)
    recent = reports_from(session, address, now - WINDOW)
    if len(recent) >= per_hour:
        retry = recent[len(recent) - per_hour] + WINDOW - now
        raise TooManyAttempts("Too many reports",
                              f"This connection has sent {len(recent)} reports within the hour; at most {per_hour} "
                              "are accepted. Try again later, or call the service hotline.",
                              retry_after_s=max(1, int(retry.total_seconds()) + 1))


def record_report(session: Session, event_id: int) -> None:
    """Count a resident's report against its address (an audit row, like every write)."""
    audit.record(session, REPORT_ACTION, "events", event_id)

