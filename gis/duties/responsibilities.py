"""Who owns a case by the responsibility list: `owner_of`, the one lookup (its rule in its docstring)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.core import clock
from gis.core.dated import in_force
from gis.core.models import Event

# One statement: the list's rows in force on the day that name the category or its major class at this
# level, where the row's area is everywhere or covers the place; the most specific first.
OWNER_SQL = f"""
SELECT r.id, r.owner_id, d.code, d.name, r.co_ids, r.time_limit_hours
  FROM responsibilities r
  JOIN departments d ON d.id = r.owner_id AND d.active
  LEFT JOIN admin_areas ra ON ra.id = r.area_id
 WHERE r.level = :level
   AND (r.category = :category
        OR r.major_code = (SELECT major_code FROM categories WHERE code = :category))
   AND {in_force("r", ":day", open_start=False)}
   AND (r.area_id IS NULL OR ST_Covers(ra.geom, CAST(:place AS geometry)))
 ORDER BY (r.category IS NOT NULL) DESC, (r.area_id IS NOT NULL) DESC, ra.area_m2 ASC NULLS LAST, r.id
 LIMIT 1
"""
PLACE_OF_AREA = "(SELECT ST_PointOnSurface(geom) FROM admin_areas WHERE id = :area_id)"


@dataclass(frozen=True)
class Owner:
    """The department that owns a case by one row of the list, its co-operating departments and time limit."""

    row_id: int
    department_id: int
    code: str
    name: str
    co_ids: tuple[int, ...]
    time_limit_hours: float | None

    def to_dict(self) -> dict:
        """JSON-ready values."""
        return {"row": self.row_id, "department_id": self.department_id, "code": self.code, "name": self.name,
                "co_departments": list(self.co_ids), "time_limit_hours": self.time_limit_hours}


def owner_of(session: Session, category: str, level: str, *, point_wkt: str | None = None,
             area_id: int | None = None, at: dt.date | dt.datetime | None = None) -> Owner | None:
    """The owner by the list in force on `at` (default today) of `category` at `level` at a WGS84 point or in an
    admin area; the most specific row wins: a category over its major class, then an area over everywhere,
    then a smaller area over a larger one (then the older row). None: the list names nobody."""
    if isinstance(at, dt.datetime):
        at = at.astimezone(clock.zone_of(session)).date()
    day = at or clock.today(session)
    if point_wkt is not None:
        sql, place = OWNER_SQL, {"place": f"SRID=4326;{point_wkt}"}
    else:
        sql, place = OWNER_SQL.replace("CAST(:place AS geometry)", PLACE_OF_AREA), {"area_id": area_id}
        if area_id is None:
            sql = sql.replace(f"ST_Covers(ra.geom, {PLACE_OF_AREA})", "false")
    row = session.execute(text(sql), {"level": level, "category": category, "day": day, **place}).first()
    if row is None:
        return None
    return Owner(row.id, row.owner_id, row.code, row.name, tuple(row.co_ids or ()),
                 float(row.time_limit_hours) if row.time_limit_hours is not None else None)


def owner_of_event(session: Session, event: Event, *, at: dt.date | dt.datetime | None = None) -> Owner | None:
    """The owner the list in force on `at` (default today) proposes for a case: its category, level and place."""
    wkt = session.scalar(text("SELECT ST_AsText(geom) FROM events WHERE id = :id"), {"id": event.id})
    return owner_of(session, event.category, event.level, point_wkt=wkt, at=at)
