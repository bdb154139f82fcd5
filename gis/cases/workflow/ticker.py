"""The tick: time-driven work — deadlines for new reports, overdue flags, escalation, the summary rows."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gis.cases.stats import mark_due_dirty, refresh_counters, refresh_dirty
from gis.cases.workflow.moves import open_case
from gis.cases.workflow.states import ACTIVE_STATUSES, OPEN_STATUSES
from gis.cases.workhours import load_calendar
from gis.core import audit, clock
from gis.core.models import LEVELS, Event, WorkflowSetting
from gis.core.settings import get_settings


@dataclass
class TickResult:
    """What one tick did."""

    opened: int = 0
    overdue: int = 0
    escalated: int = 0
    stats_keys: int = 0

    def describe(self) -> str:
        """One line for the CLI."""
        return (f"{self.opened} reports given a deadline, {self.overdue} cases newly overdue, "
                f"{self.escalated} escalated, {self.stats_keys} summary rows refreshed")


ADOPT_BATCH = 5000


def tick(session: Session, *, now: dt.datetime | None = None, auto_escalate: bool | None = None) -> TickResult:
    """Time-driven work: give reports their deadline, flag newly overdue cases (escalating them one
    level when auto_escalate is on), and refresh the summary rows whose cases fell due since the last tick."""
    now = now or clock.now(session)
    settings = get_settings(session)
    calendar = load_calendar(session, settings)
    auto = settings["auto_escalate"] if auto_escalate is None else auto_escalate
    result = TickResult()
    # Reports written by other paths (imports, the events API) get their clock started here.
    for event in session.scalars(select(Event).where(Event.first_deadline_at.is_(None),
                                                     Event.status.in_(OPEN_STATUSES))
                                 .order_by(Event.id).limit(ADOPT_BATCH).with_for_update(skip_locked=True)):
        result.opened += open_case(session, event, calendar=calendar)
    open_list = ", ".join(f"'{s}'" for s in OPEN_STATUSES)
    flagged = session.execute(text(f"""
        WITH due AS (
            SELECT id FROM events
            WHERE status IN ({open_list}) AND deadline_at <= :now AND overdue_since IS NULL
            ORDER BY id FOR UPDATE SKIP LOCKED),
        upd AS (
            UPDATE events e SET overdue_since = e.deadline_at, updated_at = :now FROM due WHERE e.id = due.id
            RETURNING e.id, e.status, e.level, e.deadline_at)
        INSERT INTO event_moves (event_id, at, move, from_status, to_status, from_level, to_level, note, deadline_at)
        SELECT id, :now, 'overdue', status, status, level, level, '超期未办结 deadline passed', deadline_at FROM upd
        RETURNING event_id, from_status, from_level
    """), {"now": now}).all()
    result.overdue = len(flagged)
    if auto:
        ids = [r.event_id for r in flagged if r.from_status in ACTIVE_STATUSES and r.from_level != LEVELS[-1]]
        if ids:
            escalated = session.execute(text("""
                WITH upd AS (
                    UPDATE events e SET level = CASE e.level WHEN 'grid' THEN 'community'
                        WHEN 'community' THEN 'street' ELSE 'district' END, updated_at = :now
                    FROM (SELECT id, level AS old_level FROM events WHERE id = ANY(:ids)) o
                    WHERE e.id = o.id RETURNING e.id, e.status, o.old_level, e.level)
                INSERT INTO event_moves (event_id, at, move, from_status, to_status, from_level, to_level, note)
                SELECT id, :now, 'escalate', status, status, old_level, level, '超期自动上报 auto-escalated: overdue'
                FROM upd RETURNING event_id
            """), {"now": now, "ids": ids}).all()
            result.escalated = len(escalated)
    last = settings.get("last_tick_at")
    since = dt.datetime.fromisoformat(last) if last else None
    mark_due_dirty(session, since=since, until=now, timezone=settings["timezone"])
    result.stats_keys = refresh_dirty(session, now=now)
    session.merge(WorkflowSetting(key="last_tick_at", value=now.isoformat()))
    if result.opened or result.overdue or result.escalated:  # a quiet tick changes no case: no row each minute
        audit.record(session, "workflow.tick", "events", None,
                     after={"opened": result.opened, "overdue": result.overdue, "escalated": result.escalated})
    session.flush()
    refresh_counters(session)
    return result
