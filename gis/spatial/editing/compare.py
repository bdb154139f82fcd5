"""Before and after an edit, in its transaction: each affected grid's figures, and which warnings the edit brings.

- **Figures** (area in geodesic m², buildings, households, open events) are read set-based: one
  statement for all the grids before the edit and one after, never a query per grid.
- **Warnings** of the affected grids are those of their community's partition check
  (gis.spatial.topology) naming an affected grid, or a gap touching one: read before and after,
  a problem after that was there before (same rule, grid and neighbour, whatever its size now)
  is "already there", the rest are new with this edit.
"""
from __future__ import annotations

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.spatial.topology import Problem, Rules, validate_partition

FIGURES = ("area_m2", "buildings", "households", "open_events")

# Open events count by code: those that stay in their grid keep the version in force when they occurred.
# Households: with a building register the sum over the grid's buildings (as the commit sets them), else
# the grid's own count.
_FIGURES_SQL = text("""
    SELECT g.code, g.name, g.version, ST_Area(g.geom::geography) AS area_m2,
           CASE WHEN :register THEN coalesce(b.households, 0) ELSE g.households END AS households,
           coalesce(b.n, 0) AS buildings, coalesce(e.n, 0) AS open_events
    FROM grids g
    LEFT JOIN (SELECT grid_id, count(*) AS n, sum(households) AS households FROM buildings
               WHERE grid_id = ANY(CAST(:ids AS integer[])) GROUP BY grid_id) b ON b.grid_id = g.id
    LEFT JOIN (SELECT v.code, count(*) AS n FROM events ev JOIN grids v ON v.id = ev.grid_id
               WHERE v.code IN (SELECT code FROM grids WHERE id = ANY(CAST(:ids AS integer[])))
                 AND event_is_open(ev.status) GROUP BY v.code) e
           ON e.code = g.code
    WHERE g.id = ANY(CAST(:ids AS integer[]))
""")


def grid_figures(session: Session, ids: list[int], register: bool) -> dict[str, dict]:
    """Code → {name, version, area_m2, buildings, households, open_events} of these versions, in one statement."""
    if not ids:
        return {}
    return {r.code: {"name": r.name, "version": r.version, "area_m2": round(float(r.area_m2), 2),
                     "buildings": int(r.buildings), "households": int(r.households or 0),
                     "open_events": int(r.open_events)}
            for r in session.execute(_FIGURES_SQL, {"ids": ids, "register": register})}


def before_after(before: dict[str, dict], after: dict[str, dict]) -> list[dict]:
    """One row per affected grid: its figures before and after (None where it did not exist), by code."""
    rows = []
    for code in sorted(set(before) | set(after)):
        old, new = before.get(code), after.get(code)
        name = (new or old)["name"]
        rows.append({"code": code, "name": name,
                     "before": {k: old[k] for k in ("version", *FIGURES)} if old else None,
                     "after": {k: new[k] for k in ("version", *FIGURES)} if new else None})
    return rows


def affected_problems(session: Session, community_code: str, codes: set[str], near: BaseGeometry,
                      rules: Rules) -> list[Problem]:
    """Problems of the community's partition that concern the affected grids: naming one, or a gap touching `near`."""
    report = validate_partition(session, community_code, rules)
    return [p for p in report.errors + report.warnings
            if p.grid in codes or (p.other in codes and p.grid is not None)
            or (p.grid is None and p.where is not None and shapely.intersects(p.where, near))]


def _key(p: Problem) -> tuple:
    # Not the area: a gap the edit made smaller, a grid still too big, is the same problem as before.
    return (p.rule, p.grid, p.other)


def split_warnings(before: list[Problem], after: list[Problem]) -> tuple[list[Problem], list[Problem]]:
    """(new with this edit, already there before it) among the problems after the edit."""
    seen = {_key(p) for p in before}
    new = [p for p in after if _key(p) not in seen]
    already = [p for p in after if _key(p) in seen]
    return new, already
