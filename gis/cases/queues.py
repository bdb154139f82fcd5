"""Queues of cases the command center works through, each one named query."""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from gis.core.models import OPEN_EVENT_STATUSES, Event, Grid


def overdue_cases(session: Session, now: dt.datetime, *, grids: Sequence[str] | None = None,
                  limit: int = 2000) -> list[Row]:
    """Open cases whose deadline passed before `now`, most overdue first (earliest deadline, then id).

    Open is gis.core.models' one definition (reported … handled); `grids` limits them to those grid
    codes (a worker's scope; None: every grid). At most `limit` rows: id, title, category, status, level,
    deadline_at, grid_code, lon, lat (WGS84), and `matched`, how many there are in all.
    """
    query = (select(Event.id, Event.title, Event.category, Event.status, Event.level, Event.deadline_at,
                    Grid.code.label("grid_code"), func.ST_X(Event.geom).label("lon"),
                    func.ST_Y(Event.geom).label("lat"), func.count().over().label("matched"))
             .outerjoin(Grid, Grid.id == Event.grid_id)
             .where(Event.status.in_(OPEN_EVENT_STATUSES), Event.deadline_at < now)
             .order_by(Event.deadline_at, Event.id).limit(limit))
    if grids is not None:
        query = query.where(Grid.code.in_(grids))
    return list(session.execute(query).all())
