"""Who owns a case by the responsibility list: `owner_of`, the one lookup (its rule in its docstring)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.core import clock
from gis.core.dated import in_force
from gis.core.models import Event

# Most specific first: a category over its major class, an area over everywhere, a smaller area first.
MOST_SPECIFIC = "(r.category IS NOT NULL) DESC, (r.area_id IS NOT NULL) DESC, ra.area_m2 ASC NULLS LAST, r.id"
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
 ORDER BY {MOST_SPECIFIC}
 LIMIT 1
"""
# The same rule set-wise, for cases dispatched without an owner (the demo's histories, imports): each gets the
# owner the list in force on its report day names for its category, level and place; its dispatches name it.
ASSIGN_SQL = f"""
UPDATE events e SET owner_department_id = o.owner_id
  FROM (SELECT x.id, (SELECT r.owner_id FROM responsibilities r
                        JOIN departments d ON d.id = r.owner_id AND d.active
                        LEFT JOIN admin_areas ra ON ra.id = r.area_id
                       WHERE r.level = x.level AND (r.category = x.category OR r.major_code = c.major_code)
                         AND {in_force("r", "(x.reported_at AT TIME ZONE :tz)::date", open_start=False)}
                         AND (r.area_id IS NULL OR ST_Covers(ra.geom, x.geom))
                       ORDER BY {MOST_SPECIFIC} LIMIT 1) AS owner_id
          FROM events x JOIN categories c ON c.code = x.category
         WHERE x.dispatched_at IS NOT NULL AND x.owner_department_id IS NULL) o
 WHERE e.id = o.id AND o.owner_id IS NOT NULL
"""
MOVES_SQL = """
UPDATE event_moves m SET department_id = e.owner_department_id FROM events e
 WHERE m.event_id = e.id AND m.move = 'dispatch' AND m.department_id IS NULL AND e.owner_department_id IS NOT NULL
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


def assign_owners(session: Session) -> int:
    """Give every dispatched case without an owner the one the list names (by `owner_of`'s rule, set-wise)."""
    changed = session.execute(text(ASSIGN_SQL), {"tz": clock.zone_of(session).key}).rowcount
    session.execute(text(MOVES_SQL))
    return changed
