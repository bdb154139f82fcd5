"""Mapbox vector tiles of a layer, made by PostGIS (ST_AsMVT) from the registry's spec."""
from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.core.errors import InvalidInput
from layers.geojson import aggregate_sql
from layers.query import LayerQuery

EXTENT = 4096  # tile coordinate units
BUFFER = 64  # units drawn beyond the tile edge, so strokes do not stop at it
MAX_ZOOM = 24


def check_tile(z: int, x: int, y: int) -> None:
    """Refuse tile addresses that do not exist."""
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidInput("Invalid tile", f"Zoom must be 0–{MAX_ZOOM}; got {z}.")
    n = 2 ** z
    if not (0 <= x < n and 0 <= y < n):
        raise InvalidInput("Invalid tile", f"At zoom {z}, x and y must be 0–{n - 1}; got x={x}, y={y}.")


def _property_sql(name: str, kind: str, alias: str = "t") -> str:
    # MVT values are strings, numbers or booleans; dates go out as RFC 3339 like in GeoJSON.
    if kind in ("datetime", "date"):
        return f"to_json({alias}.{name}) #>> '{{}}' AS {name}"
    return f"{alias}.{name}"


def tile_sql(q: LayerQuery, z: int, x: int, y: int) -> tuple[str, dict]:
    """The SQL (and parameters) of one tile: raw features from the min zoom, per-grid aggregates below."""
    spec = q.spec
    params = {"z": z, "x": x, "y": y, "layer": spec.name, "margin": BUFFER / EXTENT}
    env = "ST_TileEnvelope(:z, :x, :y)"
    # The features' own index is in 4326: select by the tile (plus its buffer) transformed to it.
    env4326 = "ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => :margin), 4326)"
    mvt_geom = f"ST_AsMVTGeom(ST_Transform({{geom}}, 3857), {env}, {EXTENT}, {BUFFER}, true)"
    if z < spec.min_zoom and spec.aggregate is not None:
        inner, agg_params = aggregate_sql(q, f"g.geom && {env4326}")
        params.update(agg_params)
        measures = ", ".join(f"s.{name}" for name in spec.aggregate.measures)
        body = (f"SELECT s.id, s.code AS grid_code, s.name AS grid_name, {measures}, "
                f"{mvt_geom.format(geom='s.shape')} AS geom FROM ({inner}) s")
    else:
        where, where_params = q.where()
        params.update(where_params)
        if spec.tile_rule:
            where = f"{where} AND {spec.tile_rule}"
        props = ", ".join(_property_sql(n, k) for n, k in spec.properties.items())
        body = (f"SELECT t.{spec.id_column} AS id, {props}, {mvt_geom.format(geom='t.' + spec.geom_column)} AS geom "
                f"FROM {spec.source} AS t WHERE t.{spec.geom_column} && {env4326} AND {where}")
    # No "WHERE geom IS NOT NULL" around it: the planner would push it into the scan and clip
    # every geometry twice. ST_AsMVT skips rows whose clipped geometry is NULL by itself.
    sql = f"SELECT ST_AsMVT(m.*, :layer, {EXTENT}, 'geom', 'id') FROM ({body}) m"
    return sql, params


def tile(session: Session, q: LayerQuery, z: int, x: int, y: int) -> bytes:
    """One MVT tile of the layer (empty bytes when nothing is in it).

    Below the min zoom a layer with an aggregate gives one feature per grid with its counts
    (buildings per grid, events per grid): a z10 tile of raw buildings would be tens of MB.
    A layer without an aggregate gives nothing below its min zoom.
    """
    check_tile(z, x, y)
    if z < q.spec.min_zoom and q.spec.aggregate is None:
        return b""
    sql, params = tile_sql(q, z, x, y)
    # A tile query is short and runs once per tile: starting parallel workers costs more than
    # they win on a few thousand rows (the server serves many tiles at once anyway). JIT is off
    # for every connection (gis.core.db.make_engine).
    session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
    data = session.execute(text(sql), params).scalar_one()
    return bytes(data or b"")
