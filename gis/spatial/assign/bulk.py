"""Assigning many events in one statement: assign_events() in place, insert_assigned() from a staging
table, grids_at() for an edit's hand-over — locate_point's rule on every row."""
from __future__ import annotations

import datetime as dt
import math
import sys
import time
from collections.abc import Callable, Iterable, Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.core import clock
from gis.core.errors import InvalidInput, NotFound
from gis.core.models import ASSIGN_STATUSES
from gis.spatial.assign.rule import DECIDE, DEFAULT_SNAP_M, deg_radius, frame_columns, near_ring, src_by_probe, valid_at

# The time an event is assigned at: when it occurred — unless a boundary edit has since handed the
# open case to the grid that covers it after the edit (issue 7, gis/spatial/editing/impact.py), which
# records the edit's time in reassigned_at. A re-run of the assignment then keeps that grid.
_EVENT_TIME = "COALESCE(e.reassigned_at, e.occurred_at)"

# Above this many events in scope, covering grids are found driven from the grids side: for each
# grid version (an OFFSET 0 fence keeps the planner from turning it around) its events come from
# an index probe on events.geom and are tested with ST_Covers against the one polygon PostGIS has
# prepared. The planner's default (UPDATE … FROM grids WHERE ST_Covers) probes the grid index per
# event and re-prepares polygons: ten times slower on 1M events. Below it, a probe per event.
GRID_DRIVEN_MIN_EVENTS = 20_000


def _src_by_grids(grid_filter: str, scoped: bool, ticks: bool, relation: str = "events") -> str:
    tick = (", CASE WHEN (row_number() OVER w) % greatest((count(*) OVER ()) / 50, 1) = 0"
            " OR (row_number() OVER w) = (count(*) OVER ())"
            " THEN pg_temp.gridgov_tick('grids', row_number() OVER w, count(*) OVER ()) END AS tick"
            if ticks else "")
    window = " WINDOW w AS (ORDER BY g.id)" if ticks else ""
    in_scope = "WHERE id IN (SELECT id FROM scope)" if scoped else ""
    return f"""
pairs AS (
  SELECT x.id, g.id AS grid_id, g.code,
         {near_ring('g.ring', 'x.geom', 'x.accuracy_m')} AS near_ring
  FROM (SELECT g.id, g.code, g.geom, g.valid_from, g.valid_to, ST_Boundary(g.geom) AS ring{tick}
        FROM grids g WHERE {grid_filter}{window} OFFSET 0) g
  CROSS JOIN LATERAL (
    SELECT e.id, e.geom, {_EVENT_TIME} AS occurred_at, e.accuracy_m
    FROM {relation} e WHERE ST_Covers(g.geom, e.geom) OFFSET 0) x
  WHERE {valid_at('g', 'x.occurred_at')}
),
cover AS (
  SELECT DISTINCT ON (id) id, grid_id, near_ring, count(*) OVER (PARTITION BY id) AS n
  FROM pairs {in_scope} ORDER BY id, code
),
src AS (
  SELECT e.id, e.geom, {_EVENT_TIME} AS at, e.accuracy_m, {frame_columns('e.geom')},
         c.grid_id AS cover_grid_id, c.n AS cover_n, COALESCE(c.near_ring, false) AS near_ring
  FROM {relation} e LEFT JOIN cover c ON c.id = e.id
  {"WHERE e.id IN (SELECT id FROM scope)" if scoped else ""}
)"""


def _bulk_sql(scope_ids: str | None, src: str, ticks: bool) -> str:
    tick = ("CASE WHEN x.id % :write_step = 0 THEN pg_temp.gridgov_tick('written', x.id, 0) END"
            if ticks else "1")
    return f"""
WITH {f"scope AS MATERIALIZED ({scope_ids})," if scope_ids else ""}
{src.strip()},
{DECIDE.strip()},
written AS (
  UPDATE events e
  SET grid_id = x.grid_id, assign_status = x.status, assign_distance_m = x.distance_m,
      building_id = x.building_id, community_id = x.community_id, street_id = x.street_id,
      district_id = x.district_id, updated_at = now()
  FROM placed x
  WHERE e.id = x.id
    AND (e.grid_id, e.assign_status, e.assign_distance_m, e.building_id, e.community_id, e.street_id,
         e.district_id)
        IS DISTINCT FROM (x.grid_id, x.status, x.distance_m, x.building_id, x.community_id, x.street_id,
                          x.district_id)
  RETURNING {tick} AS tick
)
SELECT status, count(*) AS n FROM placed GROUP BY status
UNION ALL SELECT 'changed', count(*) FROM written
"""


def _scope_ids(session: Session, scope: str) -> tuple[str | None, dict]:
    """SQL selecting the ids of the events in scope (None: every event), and its parameters."""
    if scope == "all":
        return None, {}
    if scope == "unassigned":
        return "SELECT id FROM events WHERE assign_status IS NULL OR grid_id IS NULL", {}
    if not (isinstance(scope, str) and scope.isdigit() and len(scope) == 15):
        raise InvalidInput("Invalid scope", "Scope is 'all', 'unassigned' or a 15-digit grid code.")
    if session.scalar(text("SELECT count(*) FROM grids WHERE code = :c"), {"c": scope}) == 0:
        raise NotFound("No such grid", f"No grid has code {scope}.")
    # A grid's events: those assigned to any version of it, and those within snap_m of any version
    # (the ones a redrawn boundary may have gained or lost).
    lat = "greatest(abs(ST_YMin(s.geom)), abs(ST_YMax(s.geom)))"
    return f"""
      SELECT e.id FROM events e WHERE e.grid_id IN (SELECT id FROM grids WHERE code = :scope_code)
      UNION
      SELECT e.id FROM grids s JOIN events e ON ST_DWithin(s.geom, e.geom, {deg_radius(':snap_m', lat)})
      WHERE s.code = :scope_code""", {"scope_code": scope}


_TICK_FUNCTION = """
CREATE OR REPLACE FUNCTION pg_temp.gridgov_tick(phase text, done bigint, total bigint) RETURNS int
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  RAISE NOTICE 'gridgov-progress % % %', phase, done, total;
  RETURN 1;
END $$
"""


def assign_events(session: Session, *, scope: str = "all", snap_m: float = DEFAULT_SNAP_M,
                  progress: bool | Callable[[str, int, int], None] = False,
                  event_ids: Iterable[int] | None = None) -> dict[str, int]:
    """(Re)assign the events in scope ('all', 'unassigned', a grid code, or `event_ids`) in one SQL statement.

    Applies locate_point's rule (the same SQL expressions) at each event's occurred_at (or
    reassigned_at, once an edit handed it over) and accuracy_m; writes only rows whose assignment
    changes. Returns the count of events in scope by status, plus 'changed'. `progress` (True, or
    a callback(phase, done, total)) reports grids scanned and rows written while the statement
    runs. The caller commits.
    """
    if not (math.isfinite(snap_m) and snap_m >= 0):
        raise InvalidInput("Invalid snap_m", "snap_m must be a finite number of metres >= 0.")
    if event_ids is not None:
        scope_ids, params = "SELECT unnest(CAST(:event_ids AS bigint[])) AS id", {"event_ids": sorted(set(event_ids))}
    else:
        scope_ids, params = _scope_ids(session, scope)
    params["snap_m"] = float(snap_m)
    in_scope = session.scalar(text(f"SELECT count(*) FROM ({scope_ids or 'SELECT id FROM events'}) s"), params)
    report = _progress_printer(in_scope) if progress is True else (progress or None)
    if in_scope >= GRID_DRIVEN_MIN_EVENTS:
        src = _src_by_grids("true", scoped=scope_ids is not None, ticks=bool(report))
    else:
        points = (f"(SELECT e.id, e.geom, {_EVENT_TIME} AS at, e.accuracy_m FROM events e"
                  f"{' WHERE e.id IN (SELECT id FROM scope)' if scope_ids else ''})")
        src = src_by_probe(points)
    params["write_step"] = max(in_scope // 50, 1)
    raw = None
    if report:
        session.execute(text(_TICK_FUNCTION))
        raw = session.connection().connection.driver_connection

        def on_notice(diag) -> None:
            parts = (diag.message_primary or "").split()
            if len(parts) == 4 and parts[0] == "gridgov-progress":
                report(parts[1], int(parts[2]), int(parts[3]))

        raw.add_notice_handler(on_notice)
    try:
        rows = session.execute(text(_bulk_sql(scope_ids, src, bool(report))), params).all()
    finally:
        if raw is not None:
            raw.remove_notice_handler(on_notice)
    counts = {status: 0 for status in ASSIGN_STATUSES}
    for status, n in rows:
        counts[status] = counts.get(status, 0) + n
    if report:
        report("done", counts["changed"], in_scope)
    return counts


# What an insert of new events writes besides the staged columns: the assignment.
_ASSIGNED = {"grid_id": "grid_id", "assign_status": "status", "assign_distance_m": "distance_m",
             "building_id": "building_id", "community_id": "community_id", "street_id": "street_id",
             "district_id": "district_id"}


def insert_assigned(session: Session, stage: str, columns: Sequence[str], *,
                    snap_m: float = DEFAULT_SNAP_M) -> dict[str, int]:
    """Insert the rows of the temporary table `stage` into events, assigned by locate_point's rule.

    `stage` is shaped like events (CREATE TEMP TABLE … (LIKE events INCLUDING DEFAULTS)), ids
    drawn already; `columns` are the ones filled. Each row is assigned before it is written and
    written once: assigning after the insert would write every row twice (a new tuple and new
    index entries per row, a million dead tuples left behind). Returns the count per status.
    """
    n = session.scalar(text(f"SELECT count(*) FROM {stage}"))
    if not n:
        return {}
    if n >= GRID_DRIVEN_MIN_EVENTS:
        # The grid-driven join probes the staged points' index from every grid.
        session.execute(text(f"CREATE INDEX ON {stage} USING gist (geom)"))
        src = _src_by_grids("true", scoped=False, ticks=False, relation=stage)
    else:
        src = src_by_probe(f"(SELECT e.id, e.geom, {_EVENT_TIME} AS at, e.accuracy_m FROM {stage} e)")
    session.execute(text(f"ANALYZE {stage}"))
    cols = ["id", *(c for c in columns if c not in _ASSIGNED and c != "id")]
    rows = session.execute(text(f"""
        WITH {src.strip()},
        {DECIDE.strip()},
        written AS (
          INSERT INTO events ({", ".join(cols + list(_ASSIGNED))})
          SELECT {", ".join(f"s.{c}" for c in cols)}, {", ".join(f"x.{c}" for c in _ASSIGNED.values())}
          FROM {stage} s JOIN placed x ON x.id = s.id
          RETURNING assign_status)
        SELECT assign_status, count(*) FROM written GROUP BY 1"""), {"snap_m": float(snap_m)}).all()
    return dict(rows)


def grids_at(session: Session, event_ids: Iterable[int], at: dt.datetime,
             snap_m: float = DEFAULT_SNAP_M) -> dict[int, int | None]:
    """The grid version each event would be assigned to at time `at` by locate_point's rule (no writes).

    The same SQL expressions as locate_point and assign_events, with every event located at `at`
    instead of its own time: what a boundary edit uses to see which open events it hands over.
    """
    ids = sorted(set(event_ids))
    if not ids:
        return {}
    points = ("(SELECT e.id, e.geom, CAST(:at AS timestamptz) AS at, e.accuracy_m FROM events e"
              " WHERE e.id = ANY(CAST(:ids AS bigint[])))")
    sql = f"WITH {src_by_probe(points).strip()},\n{DECIDE.strip()}\nSELECT id, grid_id FROM decided"
    session.execute(text("SET LOCAL jit = off"))
    params = {"ids": ids, "at": clock.aware(at, session), "snap_m": float(snap_m)}
    return dict(session.execute(text(sql), params).all())


def _progress_printer(in_scope: int) -> Callable[[str, int, int], None]:
    start = time.monotonic()
    step = max(in_scope // 50, 1)
    ticks = [0]

    def show(phase: str, done: int, total: int) -> None:
        elapsed = time.monotonic() - start
        if phase == "grids":
            line = f"scanning grids {done}/{total} ({100 * done // max(total, 1)}%)"
        elif phase == "written":
            # A tick per written row whose id is a multiple of `step`: about one per `step` rows.
            ticks[0] += 1
            line = f"writing: about {ticks[0] * step} of at most {in_scope} events"
        else:
            line = f"{done} of {total} events changed"
        end = "\n" if phase == "done" else ""
        print(f"\r{line}  [{elapsed:.1f} s]\033[K", end=end, file=sys.stderr, flush=True)

    return show
