"""What waits on whom: the to-do lists of a worker, a commander or an admin."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gis.cases.workflow.states import OPEN_STATUSES
from gis.core import clock
from gis.core.models import Event, EventMove, Grid, User, user_grids

COMMAND_LEVEL = "district"  # the level a commander works at, until users carry their areas


def todo(session: Session, user: User, *, now: dt.datetime | None = None,
         limit: int = 200) -> tuple[dict[str, list[dict]], dict[str, int]]:
    """The cases waiting on `user`, by kind, most urgent (earliest deadline) first, and how many of
    each kind were left out past `limit`.

    A department member: the cases dispatched to their department. A worker: cases dispatched to them, and
    handled cases in their grids that someone else handled
    (to verify). A commander or admin: reports to register, handled cases to verify (not their own
    work), overdue cases, open cases at the district level (escalated to them), and cases sent back (退单).
    """
    now = now or clock.now(session)
    tz = clock.zone_of(session)
    columns = (Event.id, Event.title, Event.category, Event.status, Event.level, Event.deadline_at, Grid.code,
               func.count().over().label("matched"))
    base = select(*columns).outerjoin(Grid, Grid.id == Event.grid_id).order_by(Event.deadline_at, Event.id).limit(limit)
    not_mine = ~Event.id.in_(select(EventMove.event_id)
                             .where(EventMove.move == "handle", EventMove.actor_id == user.id))
    lists: dict[str, Any] = {}
    if user.role == "worker":
        my_grids = select(user_grids.c.grid_code).where(user_grids.c.user_id == user.id)
        lists["to_handle"] = base.where(Event.handler_id == user.id, Event.status.in_(("dispatched", "in_progress")))
        lists["to_verify"] = base.where(Event.status == "handled", Event.handler_id.is_distinct_from(user.id),
                                        not_mine, Grid.code.in_(my_grids))
    elif user.role == "department":
        # Issue 25: the cases dispatched to their department, whoever of its members handles them.
        lists["to_handle"] = base.where(Event.owner_department_id == user.department_id,
                                        Event.status.in_(("dispatched", "in_progress")))
    elif user.role in ("commander", "admin"):
        lists["to_register"] = base.where(Event.status == "reported")
        lists["to_verify"] = base.where(Event.status == "handled", Event.handler_id.is_distinct_from(user.id), not_mine)
        lists["overdue"] = base.where(Event.status.in_(OPEN_STATUSES), Event.deadline_at < now)
        # Issue 19: open cases escalated to the commander's level (users have no areas yet: the district).
        lists["escalated"] = base.where(Event.status.in_(OPEN_STATUSES), Event.level == COMMAND_LEVEL)
        # Issue 25: cases a department sent back (退单), waiting to be dispatched again.
        lists["returned"] = base.where(Event.status == "registered", Event.id.in_(
            select(EventMove.event_id).where(EventMove.move == "return")))
    found, omitted = {}, {}
    for name, query in lists.items():
        rows = session.execute(query).all()
        found[name] = [{"id": r.id, "title": r.title, "category": r.category, "status": r.status, "level": r.level,
                        "deadline_at": clock.iso(r.deadline_at, tz), "grid_code": r.code,
                        "overdue": r.deadline_at is not None and r.deadline_at < now} for r in rows]
        omitted[name] = rows[0].matched - len(rows) if rows else 0
    return found, omitted
