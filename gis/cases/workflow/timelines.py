"""A case as it reads: its timeline (every move, oldest first) and its summary."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.cases.workflow.moves import get_event
from gis.cases.workflow.owners import owner_view
from gis.cases.workflow.states import MOVE_LABELS, OPEN_STATUSES, STATUS_LABELS
from gis.cases.workhours import load_calendar
from gis.core import clock
from gis.core.models import Event, EventMove, User
from gis.core.personal import text_for


def timeline(session: Session, event_id: int, *, role: str | None) -> list[dict]:
    """Every move of a case, oldest first; notes with phone and ID numbers masked unless `role` is staff."""
    actor = User.__table__.alias("actor")
    assignee = User.__table__.alias("assignee")
    rows = session.execute(
        select(EventMove, actor.c.name, actor.c.display_name, actor.c.role, assignee.c.name)
        .outerjoin(actor, actor.c.id == EventMove.actor_id)
        .outerjoin(assignee, assignee.c.id == EventMove.handler_id)
        .where(EventMove.event_id == event_id).order_by(EventMove.at, EventMove.id)).all()
    tz = clock.zone_of(session)
    out = []
    for move, actor_name, actor_display, actor_role, handler_name in rows:
        out.append({
            "id": move.id, "at": clock.iso(move.at, tz), "move": move.move, "label": MOVE_LABELS[move.move],
            "actor": ({"name": actor_name, "display_name": actor_display, "role": actor_role}
                      if actor_name else None),
            "from_status": move.from_status, "to_status": move.to_status,
            "from_level": move.from_level, "to_level": move.to_level, "note": text_for(role, move.note),
            "photo_ref": move.photo_ref, "handler": handler_name,
            "deadline_at": clock.iso(move.deadline_at, tz), "detail": move.detail,
        })
    if not out or out[0]["move"] != "report":
        out.insert(0, _report_entry(session, event_id))
    return out


def _report_entry(session: Session, event_id: int) -> dict:
    # A report whose clock the tick has not started yet (written by an import or another path) still
    # begins its timeline with the report itself, taken from the event row.
    event = get_event(session, event_id)
    reporter = session.get(User, event.reporter_id) if event.reporter_id else None
    tz = clock.zone_of(session)
    return {"id": None, "at": clock.iso(event.reported_at, tz), "move": "report", "label": MOVE_LABELS["report"],
            "actor": ({"name": reporter.name, "display_name": reporter.display_name, "role": reporter.role}
                      if reporter else None),
            "from_status": "reported", "to_status": "reported", "from_level": None, "to_level": event.level,
            "note": "", "photo_ref": None, "handler": None,
            "deadline_at": clock.iso(event.deadline_at, tz), "detail": None}


def case_summary(session: Session, event: Event, *, role: str | None, now: dt.datetime | None = None) -> dict:
    """The case's workflow state: status, level, handler, deadline, overdue, counts, merge links."""
    now = now or clock.now(session)
    tz = clock.zone_of(session)

    def _iso(value: dt.datetime | None) -> str | None:
        return clock.iso(value, tz)

    handler = session.get(User, event.handler_id) if event.handler_id else None
    merged = list(session.scalars(select(Event.id).where(Event.merged_into_id == event.id).order_by(Event.id)))
    return {
        "id": event.id, "status": event.status, "status_label": STATUS_LABELS[event.status],
        "category": event.category, "title": text_for(role, event.title), "level": event.level,
        "handler": handler.name if handler else None,
        "reported_at": _iso(event.reported_at), "registered_at": _iso(event.registered_at),
        "dispatched_at": _iso(event.dispatched_at), "handled_at": _iso(event.handled_at),
        "closed_at": _iso(event.closed_at), "first_deadline_at": _iso(event.first_deadline_at),
        "deadline_at": _iso(event.deadline_at), "overdue": is_overdue(event, now),
        "postponed_count": event.postponed_count, "rework_count": event.rework_count,
        "merged_into": event.merged_into_id, "merged_reports": merged,
        "handling_work_hours": event.handling_work_hours, "work_hours_left": work_hours_left(session, event, now),
    } | owner_view(session, event)


def work_hours_left(session: Session, event: Event, now: dt.datetime) -> float | None:
    """Working hours from `now` to an open case's deadline, negative once past it (None: closed or no deadline)."""
    if event.status not in OPEN_STATUSES or event.deadline_at is None:
        return None
    calendar = load_calendar(session)
    if event.deadline_at >= now:
        return round(calendar.working_hours_between(now, event.deadline_at), 1)
    return -round(calendar.working_hours_between(event.deadline_at, now), 1)


def is_overdue(event: Event, now: dt.datetime) -> bool:
    """An open case whose deadline in force has passed."""
    return event.status in OPEN_STATUSES and event.deadline_at is not None and event.deadline_at < now
