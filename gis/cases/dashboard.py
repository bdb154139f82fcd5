"""What the map pages ask besides layers: the command-center counters, search, report categories."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.cases.stats import counters
from gis.core import clock, dated

# Open: the SQL function of migration 0004, also the predicate of ix_events_open_grid_id.
_OPEN = "event_is_open(e.status)"


def command_counters(session: Session, grid_codes: list[str] | None = None, *, now: dt.datetime | None = None) -> dict:
    """Today's events (occurred since the district's midnight) and open events, optionally limited to
    some grids; overdue cases and the closure rates come from the case workflow (issue #8)."""
    now = clock.local(now, clock.zone_of(session)) if now else clock.now(session)
    scope_join, params = "", {"midnight": clock.midnight(now.date(), now.tzinfo), "now": now}
    if grid_codes is not None:
        scope_join = " JOIN grids g ON g.id = e.grid_id AND g.code = ANY(:codes)"
        params["codes"] = list(grid_codes)
    row = session.execute(text(
        f"SELECT count(*) FILTER (WHERE e.occurred_at >= :midnight AND e.occurred_at <= :now), "
        f"       count(*) FILTER (WHERE {_OPEN}) "
        f"  FROM events e{scope_join} "
        f" WHERE (e.occurred_at >= :midnight AND e.occurred_at <= :now) OR {_OPEN}"), params).one()
    # Issue #8: overdue cases and 结案率 / 按期结案率 of the last 30 days, as of the last workflow tick.
    loop = counters(session, grid_codes)
    return {"today_events": row[0], "open_events": row[1], "overdue_events": loop["overdue"],
            "closure_rate": loop["closure_ratio"], "on_time_closure_rate": loop["on_time_closure_ratio"],
            "loop_as_of": loop["as_of"], "as_of": now.isoformat(), "day": now.date().isoformat(),
            "timezone": now.tzinfo.key}


def _like(q: str) -> str:
    return q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_places(session: Session, q: str, limit: int = 10) -> tuple[list[dict], int]:
    """Current grids, admin areas and buildings whose code starts with `q` or whose name contains it,
    and how many more matched than the `limit` listed.

    The exact code first (a community's 12 digits find it before its grids), then codes, then names;
    each hit carries its bounding box [west, south, east, north] so the map can frame it.
    """
    q = q.strip()
    if not q:
        return [], 0
    params = {"prefix": _like(q) + "%", "part": "%" + _like(q) + "%", "limit": limit, "exact": q}
    sql = f"""
      SELECT kind, code, name, ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM (
        (SELECT 'grid' AS kind, code, name, ST_Envelope(geom) AS b, 0 AS rank FROM grids
          WHERE {dated.current('grids')} AND (code LIKE :prefix OR name LIKE :part) ORDER BY code LIMIT :limit)
        UNION ALL
        (SELECT level, code, name, ST_Envelope(geom), 1 FROM admin_areas
          WHERE code LIKE :prefix OR name LIKE :part ORDER BY code LIMIT :limit)
        UNION ALL
        (SELECT 'building', code, coalesce(name, code), ST_Envelope(geom), 2 FROM buildings
          WHERE code LIKE :prefix OR name LIKE :part ORDER BY code LIMIT :limit)
      ) hits ORDER BY code = :exact DESC, (code LIKE :prefix) DESC, rank, code LIMIT :limit"""
    hits = [{"type": r[0], "code": r[1], "name": r[2], "bbox": [r[3], r[4], r[5], r[6]]}
            for r in session.execute(text(sql), params)]
    if len(hits) < limit:
        return hits, 0  # fewer than asked for: every match is listed
    matched = session.execute(text(f"""
      SELECT (SELECT count(*) FROM grids WHERE {dated.current('grids')} AND (code LIKE :prefix OR name LIKE :part))
           + (SELECT count(*) FROM admin_areas WHERE code LIKE :prefix OR name LIKE :part)
           + (SELECT count(*) FROM buildings WHERE code LIKE :prefix OR name LIKE :part)"""), params).scalar()
    return hits, matched - len(hits)


def report_categories(session: Session) -> list[dict]:
    """Active event and component categories, grouped by major class, for report forms."""
    rows = session.execute(text(
        "SELECT code, name, major_name, kind FROM categories WHERE active ORDER BY kind DESC, code"))
    return [{"code": r[0], "name": r[1], "major_name": r[2], "kind": r[3]} for r in rows]
