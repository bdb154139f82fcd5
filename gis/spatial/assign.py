"""Which grid an event belongs to: locate_point() for one point, assign_events() for many, one rule."""
from __future__ import annotations

import datetime as dt
import math
import re
import sys
import time
from collections import namedtuple
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import psycopg
from psycopg.adapt import Transformer
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from gis.core import clock
from gis.core.errors import DatabaseUnavailable, InvalidInput, NotFound
from gis.core.models import ASSIGN_STATUSES, CADRE_TYPES

DEFAULT_SNAP_M = 30.0
# The building of an event: the footprint covering it, else the nearest within this distance.
BUILDING_NEAR_M = 15.0
# Beyond this distance from every grid, the nearest grid reported for an `outside` point is the
# first one found by the index's planar order rather than the exact geodesic nearest (no caller
# acts on which grid is 10 km away; the search stays cheap for a point in the wrong province).
EXACT_NEAREST_M = 10_000.0

# -- SQL building blocks shared by the single and the bulk path -------------------------------
# Both paths run the *same* expressions below on the same inputs, so they cannot disagree; only
# the way candidate grids are found differs (one index probe for a point; for many events a scan
# driven from the grids side, so PostGIS prepares each grid polygon once and tests its events).


def _valid(g: str, t: str) -> str:
    # The grid version valid at time t: [valid_from, valid_to), NULL meaning unbounded.
    return f"({g}.valid_from IS NULL OR {g}.valid_from <= {t}) AND ({g}.valid_to IS NULL OR {t} < {g}.valid_to)"


def _deg(metres: str, abs_lat: str) -> str:
    # A planar radius in degrees that surely covers `metres` on the ellipsoid around |latitude|
    # abs_lat: one degree is at least 110 574 m of latitude and 111 319·cos(φ) m of longitude.
    # Only an index prefilter: every decision is then taken on exact geodesic distances.
    return (f"(({metres}) / (110574.0 * cos(radians(least({abs_lat} + ({metres}) / 110574.0, 89.9))))"
            " * 1.001 + 1e-9)")


# Distances that decide (accuracy circles, the 15 m building rule) are measured in a local metric
# frame at the point: lon/lat scaled by the WGS84 ellipsoid's metres per degree there. Grid and
# building edges stay straight, as ST_Covers sees them; within a few hundred metres this agrees
# with the geodesic distance to well under a millimetre, and costs an affine transform instead of
# a geography computation. Distances to the nearest grid (snapping, `outside`) are geodesic.
_E2 = 0.00669437999014  # WGS84 first eccentricity squared
_A = 6378137.0


def _scales(pt: str) -> tuple[str, str]:
    # Metres per degree of longitude and of latitude at the point, on the WGS84 ellipsoid.
    phi = f"radians(ST_Y({pt}))"
    return (f"(pi() / 180 * {_A} * cos({phi}) / sqrt(1 - {_E2} * sin({phi})^2))",
            f"(pi() / 180 * {_A} * (1 - {_E2}) / (1 - {_E2} * sin({phi})^2)^1.5)")


def _local_m(geom: str, pt: str) -> str:
    # `geom` in metres east/north of `pt`.
    kx, ky = _scales(pt)
    return f"ST_Affine({geom}, {kx}, 0, 0, {ky}, -{kx} * ST_X({pt}), -{ky} * ST_Y({pt}))"


def _frame(pt: str) -> str:
    # The same frame as columns computed once per event: x, y, kx, ky.
    kx, ky = _scales(pt)
    return f"ST_X({pt}) AS x, ST_Y({pt}) AS y, {kx} AS kx, {ky} AS ky"


_ORIGIN = "'SRID=4326;POINT(0 0)'::geometry"


def _near_ring(ring: str, pt: str, acc: str) -> str:
    # The accuracy circle crosses the grid's boundary: the boundary lies within accuracy_m.
    return (f"COALESCE({acc} > 0 AND ST_DWithin({ring}, {pt}, {_deg(acc, f'abs(ST_Y({pt}))')})"
            f" AND ST_DWithin({_local_m(ring, pt)}, {_ORIGIN}, {acc}), false)")


# Decides every row of `src` (id, geom, at, accuracy_m, x, y, kx, ky, cover_grid_id, cover_n, near_ring).
# cover_grid_id: the covering grid with the smallest code; cover_n: how many grids cover it;
# near_ring: whether its accuracy circle crosses that grid's boundary.
_DECIDE = f"""
decided AS (
  SELECT s.id, st.status,
         CASE WHEN st.status = 'ambiguous' AND bg.id IS NOT NULL THEN bg.id ELSE st.grid_id END AS grid_id,
         CASE WHEN st.status = 'ambiguous' AND bg.id IS NOT NULL THEN bg.d ELSE st.distance_m END AS distance_m,
         CASE WHEN s.cover_grid_id IS NULL THEN n.id END AS nearest_grid_id,
         CASE WHEN s.cover_grid_id IS NULL THEN n.d END AS nearest_d,
         b.id AS building_id, s.geom, s.at
  FROM src s
  -- Nothing covers the point: the nearest grid, first by the index's planar order, then exactly.
  LEFT JOIN LATERAL (
    SELECT g.id, ST_Distance(g.geom::geography, s.geom::geography) AS d
    FROM grids g
    WHERE s.cover_grid_id IS NULL AND {_valid('g', 's.at')}
    ORDER BY g.geom <-> s.geom LIMIT 1) k0 ON true
  LEFT JOIN LATERAL (
    SELECT g.id, ST_Distance(g.geom::geography, s.geom::geography) AS d
    FROM grids g
    WHERE k0.d <= {EXACT_NEAREST_M} AND {_valid('g', 's.at')}
      AND ST_DWithin(g.geom, s.geom, {_deg('k0.d', 'abs(ST_Y(s.geom))')})
    ORDER BY 2, g.code LIMIT 1) k1 ON true
  CROSS JOIN LATERAL (SELECT COALESCE(k1.id, k0.id) AS id, COALESCE(k1.d, k0.d) AS d) n
  -- The building: the footprint covering the point (smallest code on a shared wall), else the
  -- nearest within {BUILDING_NEAR_M:g} m.
  LEFT JOIN LATERAL (
    SELECT c.id, c.geom, c.covers FROM (
      SELECT b.id, b.geom, b.code, ST_Covers(b.geom, s.geom) AS covers,
             ST_Distance(ST_Affine(b.geom, s.kx, 0, 0, s.ky, -s.kx * s.x, -s.ky * s.y), {_ORIGIN}) AS d
      FROM buildings b
      WHERE ST_DWithin(b.geom, s.geom, {_deg(str(BUILDING_NEAR_M), 'abs(ST_Y(s.geom))')}) OFFSET 0) c
    WHERE c.covers OR c.d <= {BUILDING_NEAR_M}
    ORDER BY c.covers DESC, c.d, c.code LIMIT 1) b ON true
  CROSS JOIN LATERAL (
    SELECT CASE
             WHEN s.cover_grid_id IS NOT NULL THEN
               CASE WHEN s.near_ring THEN 'ambiguous' WHEN s.cover_n > 1 THEN 'edge' ELSE 'inside' END
             WHEN n.d <= :snap_m THEN
               CASE WHEN s.accuracy_m > 0 AND n.d <= s.accuracy_m THEN 'ambiguous' ELSE 'snapped' END
             ELSE 'outside'
           END AS status,
           COALESCE(s.cover_grid_id, CASE WHEN n.d <= :snap_m THEN n.id END) AS grid_id,
           CASE WHEN s.cover_grid_id IS NOT NULL THEN 0.0 ELSE n.d END AS distance_m) st
  -- Ambiguous: the grid holding the building footprint that covers the point decides.
  LEFT JOIN LATERAL (
    SELECT g.id, CASE WHEN ST_Covers(g.geom, s.geom) THEN 0.0
                      ELSE ST_Distance(g.geom::geography, s.geom::geography) END AS d
    FROM grids g
    WHERE st.status = 'ambiguous' AND b.covers AND {_valid('g', 's.at')}
      AND ST_Covers(g.geom, ST_PointOnSurface(b.geom))
    ORDER BY g.code LIMIT 1) bg ON true
),
placed AS (
  -- Community, street and district: the grid's; without a grid, the areas covering the point.
  SELECT d.*, com.id AS community_id, str.id AS street_id, COALESCE(str.parent_id, ad.id) AS district_id
  FROM decided d
  LEFT JOIN grids fg ON fg.id = d.grid_id
  LEFT JOIN LATERAL (
    SELECT a.id FROM admin_areas a
    WHERE fg.id IS NULL AND a.level = 'community' AND ST_Covers(a.geom, d.geom)
    ORDER BY a.code LIMIT 1) ac ON true
  LEFT JOIN admin_areas com ON com.id = COALESCE(fg.community_id, ac.id)
  LEFT JOIN LATERAL (
    SELECT a.id FROM admin_areas a
    WHERE com.id IS NULL AND a.level = 'street' AND ST_Covers(a.geom, d.geom)
    ORDER BY a.code LIMIT 1) ast ON true
  LEFT JOIN admin_areas str ON str.id = COALESCE(com.parent_id, ast.id)
  LEFT JOIN LATERAL (
    SELECT a.id FROM admin_areas a
    WHERE str.id IS NULL AND a.level = 'district' AND ST_Covers(a.geom, d.geom)
    ORDER BY a.code LIMIT 1) ad ON true
)"""

def _src_by_probe(points: str) -> str:
    # For each point of `points` (id, geom, at, accuracy_m): the covering grids by an index probe.
    return f"""
src AS (
  SELECT p.id, p.geom, p.at, p.accuracy_m, {_frame('p.geom')}, c.id AS cover_grid_id, c.n AS cover_n,
         {_near_ring('ST_Boundary(c.geom)', 'p.geom', 'p.accuracy_m')} AS near_ring
  FROM {points} p
  LEFT JOIN LATERAL (
    SELECT g.id, g.geom, count(*) OVER () AS n
    FROM grids g
    WHERE ST_Covers(g.geom, p.geom) AND {_valid('g', 'p.at')}
    ORDER BY g.code LIMIT 1) c ON true
)"""


# One point: the covering grids from one index probe, then the shared decision.
_LOCATE_SQL = f"""
WITH p AS (
  SELECT 0::bigint AS id, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS geom,
         CAST(:at AS timestamptz) AS at, CAST(:accuracy_m AS float8) AS accuracy_m
),
{_src_by_probe('p').strip()},
{_DECIDE.strip()},
contracted AS (
  -- Cadres contracted at that date (x.at::date is the district's date: every connection runs in
  -- its zone, gis.core.clock): on the grid's code, or by a drawn area covering the point.
  SELECT ct.cadre_id FROM placed x JOIN grids g ON g.id = x.grid_id
  JOIN contracts ct ON ct.grid_code = g.code
  WHERE ct.valid_from <= x.at::date AND (ct.valid_to IS NULL OR x.at::date < ct.valid_to)
  UNION
  SELECT ct.cadre_id FROM placed x JOIN contracts ct ON ct.geom IS NOT NULL AND ST_Covers(ct.geom, x.geom)
  WHERE ct.valid_from <= x.at::date AND (ct.valid_to IS NULL OR x.at::date < ct.valid_to)
)
SELECT x.status, x.distance_m, x.nearest_d,
       x.grid_id, g.code AS grid_code, g.name AS grid_name,
       ng.code AS nearest_code, ng.name AS nearest_name,
       x.building_id, b.code AS building_code, b.name AS building_name,
       x.community_id, com.code AS community_code, com.name AS community_name,
       x.street_id, str.code AS street_code, str.name AS street_name,
       x.district_id, dis.code AS district_code, dis.name AS district_name,
       (SELECT COALESCE(json_agg(json_build_array(cd.code, cd.name, cd.type)
                        ORDER BY array_position(ARRAY[{", ".join(f"'{t}'" for t in CADRE_TYPES)}]::text[], cd.type::text),
                                 cd.code), '[]')
        FROM cadres cd WHERE cd.id IN (SELECT cadre_id FROM contracted)) AS cadres
FROM placed x
LEFT JOIN grids g ON g.id = x.grid_id
LEFT JOIN grids ng ON ng.id = x.nearest_grid_id
LEFT JOIN buildings b ON b.id = x.building_id
LEFT JOIN admin_areas com ON com.id = x.community_id
LEFT JOIN admin_areas str ON str.id = x.street_id
LEFT JOIN admin_areas dis ON dis.id = x.district_id
"""


def _psycopg_sql(sql: str) -> str:
    # SQLAlchemy's :name parameters → psycopg's %(name)s ('::' casts are left alone).
    return re.sub(r"(?<![:\w]):([a-z_]+)\b", r"%(\1)s", sql.replace("%", "%%"))


_LOCATE_PSYCOPG = _psycopg_sql(_LOCATE_SQL)

# The same statement as a named server-side prepared statement, for connections that keep it
# (the API's autocommit read pool, and the benchmark's bare floor).
_LOCATE_PARAMS = ("lon", "lat", "at", "accuracy_m", "snap_m")
_LOCATE_PREPARE = ("PREPARE gridgov_locate (float8, float8, timestamptz, float8, float8) AS "
                   + re.sub(r"(?<![:\w]):([a-z_]+)\b", lambda m: f"${_LOCATE_PARAMS.index(m.group(1)) + 1}",
                            _LOCATE_SQL))

# The locate statement's columns never change, so its row type is made once, from the first
# result (psycopg's namedtuple_row rebuilds the column list on every execute: ~5 µs a call).
_locate_row: type | None = None


def _locate_row_type(names: Callable[[], list[str]]) -> type:
    global _locate_row
    if _locate_row is None:
        _locate_row = namedtuple("LocateRow", names())
    return _locate_row


def _text_param(value: float | dt.datetime | None) -> bytes | None:
    # Floats as repr, which round-trips exactly through float8; times in ISO 8601.
    if value is None:
        return None
    return value.isoformat().encode() if isinstance(value, dt.datetime) else repr(float(value)).encode()


def prepare_locate(raw: psycopg.Connection) -> None:
    """PREPARE the locate statement (gridgov_locate) on an autocommit driver connection."""
    raw.execute(_LOCATE_PREPARE)


def execute_locate(raw: psycopg.Connection, params: dict):
    """Run gridgov_locate (see prepare_locate) with lon, lat, at, accuracy_m, snap_m: one row."""
    # Straight through libpq's PQexecPrepared (the GIL is released while it waits): one Bind of
    # text parameters, one round trip. Through a cursor, psycopg re-parses this 7 kB query on
    # every call (its parse cache stops at 4 kB), and an EXECUTE with inline values is a
    # statement the server parses each time: together 40-60 µs more CPU per locate.
    result = raw.pgconn.exec_prepared(b"gridgov_locate", [_text_param(params[k]) for k in _LOCATE_PARAMS])
    if result.status != psycopg.pq.ExecStatus.TUPLES_OK:
        if raw.pgconn.status == psycopg.pq.ConnStatus.BAD:  # the server went away: as psycopg says it
            raise psycopg.OperationalError(result.get_error_message(raw.info.encoding).strip())
        raise psycopg.errors.error_from_result(result, encoding=raw.info.encoding)
    loader = Transformer(raw)
    loader.set_pgresult(result)
    row_type = _locate_row_type(lambda: [result.fname(i).decode() for i in range(result.nfields)])
    return row_type._make(loader.load_row(0, tuple))


def _fetch_locate_row(cursor):
    values = cursor.fetchone()
    return _locate_row_type(lambda: [d.name for d in cursor.description])._make(values)


def _run_locate(session: Session | Connection, params: dict):
    # Planning this statement costs ~4 ms and running it ~0.5 ms, and PostgreSQL's "auto" plan
    # cache keeps re-planning it because a generic plan's estimates look worse. The generic plan
    # is as good here (every lookup is an index probe on the parameters), so the statement is
    # prepared once per connection and run with a forced generic plan; the setting is scoped to
    # this statement, sent in one pipeline round trip with it.
    # A connection whose engine forces generic plans already (the execution option
    # "generic_plans": the API's read pool) runs the statement alone: one round trip.
    conn = session if isinstance(session, Connection) else session.connection()
    pooled = conn.connection
    raw = pooled.driver_connection
    try:
        if conn.get_execution_options().get("generic_plans"):
            # Autocommit connections: a PREPARE lasts as long as the connection, as pooled.info does.
            if not pooled.info.get("gridgov_locate"):
                prepare_locate(raw)
                pooled.info["gridgov_locate"] = True
            return execute_locate(raw, params)
        cursor = raw.cursor()
        with raw.pipeline():
            raw.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            cursor.execute(_LOCATE_PSYCOPG, params, prepare=True)
            raw.execute("SET LOCAL plan_cache_mode = DEFAULT")
        return _fetch_locate_row(cursor)
    except psycopg.OperationalError as exc:
        # The driver connection is used directly, past SQLAlchemy's own disconnect handling: when
        # the server went away (a restart, a terminated backend), every pooled connection is
        # dead. Drop this one and start a new pool, so the next request connects afresh instead
        # of failing on each stale connection in turn.
        if not (raw.closed or raw.broken):
            raise  # the connection is fine (e.g. a statement timeout): not an outage
        conn.invalidate()
        conn.engine.dispose(close=False)
        reason = str(exc).strip()[:120]
        raise DatabaseUnavailable("Database unavailable",
                                  f"The database connection failed ({reason}); retry in a moment.") from None


@dataclass(frozen=True)
class Ref:
    """A code and name (a grid, building or administrative area)."""

    code: str
    name: str | None


@dataclass(frozen=True)
class CadreRef:
    """A cadre contracted to the place: code, name, type (no personal data)."""

    code: str
    name: str
    type: str


@dataclass
class Location:
    """Where a point lies: the issue's locate shape, plus the ids the event row stores."""

    status: str
    distance_m: float | None
    district: Ref | None = None
    street: Ref | None = None
    community: Ref | None = None
    grid: Ref | None = None
    building: Ref | None = None
    cadres: list[CadreRef] = field(default_factory=list)
    nearest_grid: Ref | None = None
    lon: float | None = None
    lat: float | None = None
    grid_id: int | None = None
    building_id: int | None = None
    community_id: int | None = None
    street_id: int | None = None
    district_id: int | None = None

    def to_json(self) -> dict:
        """The JSON shape of GET /api/v1/locate and of an event's `assignment`."""
        out = {"status": self.status,
               "distance_m": None if self.distance_m is None else round(self.distance_m, 3)}
        for key in ("district", "street", "community", "grid", "building"):
            ref = getattr(self, key)
            out[key] = {"code": ref.code, "name": ref.name} if ref else None
        out["cadres"] = [{"code": c.code, "name": c.name, "type": c.type} for c in self.cadres]
        near = self.nearest_grid
        out["nearest_grid"] = {"code": near.code, "name": near.name} if near else None
        if self.lon is not None:
            out["lon"], out["lat"] = self.lon, self.lat
        return out


def _ref(row, prefix: str) -> Ref | None:
    code = getattr(row, f"{prefix}_code")
    return Ref(code, getattr(row, f"{prefix}_name")) if code is not None else None


def _check_point(lon: float, lat: float, accuracy_m: float | None, snap_m: float) -> None:
    for value, name, lo, hi in ((lon, "lon", -180, 180), (lat, "lat", -90, 90)):
        if not isinstance(value, (int, float)) or not math.isfinite(value) or not lo <= value <= hi:
            raise InvalidInput(f"Invalid {name}", f"`{name}` must be a number between {lo} and {hi}.",
                               parameter=name)
    if accuracy_m is not None and not (math.isfinite(accuracy_m) and accuracy_m >= 0):
        raise InvalidInput("Invalid accuracy_m", "`accuracy_m` must be a finite number of metres >= 0.",
                           parameter="accuracy_m")
    if not (math.isfinite(snap_m) and snap_m >= 0):
        raise InvalidInput("Invalid snap_m", "snap_m must be a finite number of metres >= 0.")


def locate_point(session: Session | Connection, lon: float, lat: float, *, accuracy_m: float | None = None,
                 at: dt.datetime | None = None, snap_m: float = DEFAULT_SNAP_M) -> Location:
    """Where the WGS84 point (lon, lat) belongs, at time `at` (default now).

    The rule (assign_events applies the same SQL expressions to many events):
    - Grid versions count when valid at `at`: valid_from <= at < valid_to, NULL meaning unbounded.
    - The point belongs to the grid that *covers* it (ST_Covers: boundary points count): `inside`.
    - Covered by several grids (a shared edge or corner), the smallest grid code wins: `edge`.
    - Covered by none but within `snap_m` metres (geodesic) of a grid: the nearest grid (ties: the
      smallest code), `snapped`, with distance_m. Farther: `outside`, no grid, and the nearest grid
      and its distance reported (exactly nearest within 10 km).
    - With accuracy_m > 0, when the accuracy circle crosses the assigned grid's boundary, status is
      `ambiguous`, and the building footprint covering the point decides: the grid covering that
      footprint's ST_PointOnSurface (smallest code) wins; with no such building the grid stays.
    - The building is the footprint covering the point (smallest code), else the nearest within
      15 m. Community, street, district are the grid's; with no grid, the areas covering the point.
    - Cadres are those contracted at the date of `at` (China time) to the grid's code, or by a
      drawn contract area covering the point: valid_from <= date < valid_to (NULL: open).
    """
    _check_point(lon, lat, accuracy_m, snap_m)
    row = _run_locate(session, {"lon": float(lon), "lat": float(lat), "at": clock.aware(at, session),
                                "accuracy_m": accuracy_m, "snap_m": float(snap_m)})
    return Location(
        status=row.status,
        distance_m=row.distance_m,
        district=_ref(row, "district"), street=_ref(row, "street"), community=_ref(row, "community"),
        grid=_ref(row, "grid"), building=_ref(row, "building"),
        cadres=[CadreRef(*c) for c in row.cadres],
        nearest_grid=Ref(row.nearest_code, row.nearest_name) if row.nearest_code else None,
        lon=float(lon), lat=float(lat),
        grid_id=row.grid_id, building_id=row.building_id, community_id=row.community_id,
        street_id=row.street_id, district_id=row.district_id,
    )


# -- many events ------------------------------------------------------------------------------
# The time an event is assigned at: when it occurred — unless a boundary edit has since handed the
# open case to the grid that covers it after the edit (issue 7, gis/spatial/editing.py), which records the
# edit's time in reassigned_at. A re-run of the assignment then keeps that grid.
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
         {_near_ring('g.ring', 'x.geom', 'x.accuracy_m')} AS near_ring
  FROM (SELECT g.id, g.code, g.geom, g.valid_from, g.valid_to, ST_Boundary(g.geom) AS ring{tick}
        FROM grids g WHERE {grid_filter}{window} OFFSET 0) g
  CROSS JOIN LATERAL (
    SELECT e.id, e.geom, {_EVENT_TIME} AS occurred_at, e.accuracy_m
    FROM {relation} e WHERE ST_Covers(g.geom, e.geom) OFFSET 0) x
  WHERE {_valid('g', 'x.occurred_at')}
),
cover AS (
  SELECT DISTINCT ON (id) id, grid_id, near_ring, count(*) OVER (PARTITION BY id) AS n
  FROM pairs {in_scope} ORDER BY id, code
),
src AS (
  SELECT e.id, e.geom, {_EVENT_TIME} AS at, e.accuracy_m, {_frame('e.geom')},
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
{_DECIDE.strip()},
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
      SELECT e.id FROM grids s JOIN events e ON ST_DWithin(s.geom, e.geom, {_deg(':snap_m', lat)})
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
        src = _src_by_probe(points)
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
        src = _src_by_probe(f"(SELECT e.id, e.geom, {_EVENT_TIME} AS at, e.accuracy_m FROM {stage} e)")
    session.execute(text(f"ANALYZE {stage}"))
    cols = ["id", *(c for c in columns if c not in _ASSIGNED and c != "id")]
    rows = session.execute(text(f"""
        WITH {src.strip()},
        {_DECIDE.strip()},
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
    sql = f"WITH {_src_by_probe(points).strip()},\n{_DECIDE.strip()}\nSELECT id, grid_id FROM decided"
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
