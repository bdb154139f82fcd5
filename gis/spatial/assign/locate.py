"""Where one point belongs: locate_point(), one named statement, prepared once per connection."""
from __future__ import annotations

import datetime as dt
import math
import re
from collections import namedtuple
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
from psycopg.adapt import Transformer
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from gis.core import clock, dated
from gis.core.errors import DatabaseUnavailable, InvalidInput
from gis.core.models import CADRE_TYPES
from gis.spatial.assign.rule import DECIDE, DEFAULT_SNAP_M, src_by_probe

# One point: the covering grids from one index probe, then the shared decision.
_LOCATE_SQL = f"""
WITH p AS (
  SELECT 0::bigint AS id, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS geom,
         CAST(:at AS timestamptz) AS at, CAST(:accuracy_m AS float8) AS accuracy_m
),
{src_by_probe('p').strip()},
{DECIDE.strip()},
contracted AS (
  -- Cadres contracted at that date (x.at::date is the district's date: every connection runs in
  -- its zone, gis.core.clock): on the grid's code, or by a drawn area covering the point.
  SELECT ct.cadre_id FROM placed x JOIN grids g ON g.id = x.grid_id
  JOIN contracts ct ON ct.grid_code = g.code
  WHERE {dated.in_force('ct', 'x.at::date', open_start=False)}
  UNION
  SELECT ct.cadre_id FROM placed x JOIN contracts ct ON ct.geom IS NOT NULL AND ST_Covers(ct.geom, x.geom)
  WHERE {dated.in_force('ct', 'x.at::date', open_start=False)}
)
SELECT x.status, x.distance_m, x.nearest_d,
       x.grid_id, g.code AS grid_code, g.name AS grid_name,
       ng.code AS nearest_code, ng.name AS nearest_name,
       x.building_id, b.code AS building_code, b.name AS building_name,
       x.community_id, com.code AS community_code, com.name AS community_name,
       x.street_id, str.code AS street_code, str.name AS street_name,
       x.district_id, dis.code AS district_code, dis.name AS district_name,
       (SELECT COALESCE(json_agg(json_build_array(cd.code, cd.name, cd.type)
                        ORDER BY array_position(ARRAY[{", ".join(f"'{t}'" for t in CADRE_TYPES)}]::text[],
                                                cd.type::text),
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
