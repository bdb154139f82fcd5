"""Likely duplicates of a report: open cases of the same category nearby and close in time."""
from __future__ import annotations

import datetime as dt
import math

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gis.cases.workflow.moves import event_lonlat, get_event
from gis.cases.workflow.states import OPEN_STATUSES
from gis.core import clock
from gis.core.models import Event
from gis.core.settings import get_settings


def find_duplicates(session: Session, *, category: str, lon: float, lat: float, at: dt.datetime,
                    exclude_id: int | None = None, radius_m: float | None = None,
                    window_hours: float | None = None, limit: int = 20) -> tuple[list[dict], int]:
    """Open cases of the same category within `radius_m` (geodesic, default 50 m) and `window_hours`
    (default 24 h, either side of `at`) of a report, nearest first — the likely duplicates to offer —
    and how many more than `limit` there were.

    Merged reports are not offered (their case is); the bounding test on the geometry index comes
    first and the exact distance on the spheroid (geography) decides.
    """
    settings = get_settings(session)
    radius_m = float(settings["duplicate_radius_m"] if radius_m is None else radius_m)
    window = dt.timedelta(hours=float(settings["duplicate_window_hours"] if window_hours is None else window_hours))
    # Degrees that surely cover radius_m at this latitude (longitude degrees shrink with cos(lat)).
    pad_deg = radius_m / (111_000.0 * max(math.cos(math.radians(min(abs(lat), 89.0))), 0.01)) * 1.1
    point = func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)
    distance = func.ST_Distance(func.Geography(Event.geom), func.Geography(point))
    rows = session.execute(
        select(Event.id, Event.title, Event.status, Event.category, Event.reported_at, distance.label("distance_m"),
               func.count().over().label("matched"))
        .where(Event.category == category, Event.status.in_(OPEN_STATUSES),
               func.ST_DWithin(Event.geom, point, pad_deg),
               func.ST_DWithin(func.Geography(Event.geom), func.Geography(point), radius_m),
               Event.reported_at >= at - window, Event.reported_at <= at + window,
               *([Event.id != exclude_id] if exclude_id else []))
        .order_by(distance, Event.id).limit(limit)).all()
    tz = clock.zone_of(session)
    return [{"id": r.id, "title": r.title, "status": r.status, "category": r.category,
             "reported_at": clock.iso(r.reported_at, tz), "distance_m": round(r.distance_m, 2)} for r in rows], \
        (rows[0].matched - len(rows) if rows else 0)


def duplicates_of(session: Session, event_id: int, **kwargs) -> tuple[list[dict], int]:
    """Likely duplicates of an existing report and how many were left out (see find_duplicates)."""
    event = get_event(session, event_id)
    lon, lat = event_lonlat(session, event.id)
    return find_duplicates(session, category=event.category, lon=lon, lat=lat, at=event.reported_at,
                           exclude_id=event.id, **kwargs)
