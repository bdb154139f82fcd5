"""Reading the audit trail (filtered, newest first, with a count of what was left out) and purging old rows."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gis.core import audit, clock
from gis.core.errors import InvalidInput
from gis.core.models import AuditEntry
from gis.core.settings import get_settings

# The Cybersecurity Law (网络安全法 art. 21) keeps network logs at least six months; migration 0013
# enforces the same floor in the database.
AUDIT_RETENTION_MIN_DAYS = 180
COLUMNS = ("id", "at", "actor", "via", "address", "request_id", "action", "entity", "entity_id", "before", "after")


@dataclass(frozen=True)
class AuditFilter:
    """Which rows: since ≤ at < until, and exact actor, entity and action (prefix with `.` matches a family)."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    actor: str | None = None
    entity: str | None = None
    action: str | None = None


def _where(flt: AuditFilter) -> list:
    conditions = []
    if flt.since is not None:
        conditions.append(AuditEntry.at >= flt.since)
    if flt.until is not None:
        conditions.append(AuditEntry.at < flt.until)
    if flt.actor:
        conditions.append(AuditEntry.actor == flt.actor)
    if flt.entity:
        conditions.append(AuditEntry.entity == flt.entity)
    if flt.action:
        # "event." finds every move of a case; "event.create" only the reports.
        conditions.append(AuditEntry.action.startswith(flt.action, autoescape=True) if flt.action.endswith(".")
                          else AuditEntry.action == flt.action)
    return conditions


def query_audit(session: Session, flt: AuditFilter, *, limit: int = 50, offset: int = 0) -> tuple[list[dict], int]:
    """The matching rows, newest first, as dicts with local ISO times; and how many matching rows follow this page."""
    conditions = _where(flt)
    rows = session.scalars(select(AuditEntry).where(*conditions).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                           .limit(limit).offset(offset)).all()
    total = session.scalar(select(func.count()).select_from(AuditEntry).where(*conditions))
    tz = clock.zone_of(session)
    out = [{name: getattr(row, name) for name in COLUMNS} | {"at": clock.iso(row.at, tz)} for row in rows]
    return out, max(total - offset - len(out), 0)


def retention_days(session: Session) -> int:
    """The `audit_retention_days` setting, refused below the legal floor."""
    days = get_settings(session)["audit_retention_days"]
    if isinstance(days, bool) or not isinstance(days, int) or days < AUDIT_RETENTION_MIN_DAYS:
        raise InvalidInput("Audit retention too short",
                           f"audit_retention_days 须至少 {AUDIT_RETENTION_MIN_DAYS} 天 — must be at least "
                           f"{AUDIT_RETENTION_MIN_DAYS} days (network logs are kept six months); it is {days!r}.")
    return days


def purge(session: Session) -> tuple[int, int]:
    """Delete the rows older than the retention (the database's own purge function); (rows removed, days)."""
    days = retention_days(session)
    removed = int(session.scalar(text("SELECT gridgov_audit_purge(:days)"), {"days": days}))
    audit.record(session, "audit.purge", "audit_log", None, after={"removed": removed, "retention_days": days})
    return removed, days
