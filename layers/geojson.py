"""Features of a layer as GeoJSON: full resolution, or simplified for a zoom (coverages together)."""
from __future__ import annotations

import datetime as dt
import decimal
import json
import math
from collections.abc import Iterable, Sequence

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.core.errors import InvalidInput
from layers.query import LayerQuery
from layers.registry import LayerSpec


def pixel_degrees(zoom: int) -> float:
    """The width of one 256-px web-map pixel at `zoom`, in degrees of longitude."""
    return 360.0 / (256 * 2 ** zoom)


def json_value(value):
    """A database value as JSON can carry it (datetimes as RFC 3339)."""
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _columns(spec: LayerSpec) -> str:
    return ", ".join(f"t.{name}" for name in spec.properties)


def fetch(session: Session, q: LayerQuery, *, limit: int | None = None, offset: int = 0,
          order: bool = True, ids: Sequence | None = None) -> list:
    """Rows (id, wkb, *properties) of the features matching `q`, ordered by id for stable paging."""
    spec = q.spec
    where, params = q.where()
    if ids is not None:
        where += f" AND t.{spec.id_column} = ANY(:ids)"
        params["ids"] = list(ids)
    sql = (f"SELECT t.{spec.id_column}, ST_AsBinary(t.{spec.geom_column}), {_columns(spec)} "
           f"FROM {spec.source} AS t WHERE {where}")
    if order:
        sql += f" ORDER BY t.{spec.id_column}"
    if limit is not None:
        sql += " LIMIT :limit OFFSET :offset"
        params.update(limit=limit, offset=offset)
    return session.execute(text(sql), params).all()


def count(session: Session, q: LayerQuery) -> int:
    """How many features match `q`."""
    where, params = q.where()
    return session.execute(text(f"SELECT count(*) FROM {q.spec.source} AS t WHERE {where}"), params).scalar_one()


def count_upto(session: Session, q: LayerQuery, limit: int) -> int:
    """How many features match `q`, counting no further than `limit`."""
    where, params = q.where()
    return session.execute(text(f"SELECT count(*) FROM (SELECT 1 FROM {q.spec.source} AS t WHERE {where} "
                                "LIMIT :upto) s"), {**params, "upto": limit}).scalar_one()


def simplify(geoms: np.ndarray, zoom: int | None, *, coverage: bool) -> np.ndarray:
    """Polygons simplified to half a pixel at `zoom` (None: untouched).

    Grids and the areas of one level tile the plane (`coverage`), so their shared edges are
    simplified once, together (shapely.coverage_simplify): neighbours keep meeting exactly, with
    no slivers or gaps, which simplifying each polygon on its own cannot promise.
    """
    if zoom is None or len(geoms) == 0:
        return geoms
    tolerance = pixel_degrees(zoom) / 2
    if coverage:
        out = shapely.coverage_simplify(geoms, tolerance)
    else:
        out = shapely.simplify(geoms, tolerance, preserve_topology=True)
    return round_for(out, zoom)


def point_texts(points: np.ndarray, zoom: int) -> list[str]:
    """GeoJSON Point texts with as many decimals as a 1/16 pixel at `zoom` needs (not 17 digits)."""
    places = max(1, min(8, math.ceil(-math.log10(pixel_degrees(zoom) / 16))))
    xy = shapely.get_coordinates(points)
    return [f'{{"type":"Point","coordinates":[{x:.{places}f},{y:.{places}f}]}}' for x, y in xy]


def round_for(geoms: np.ndarray, zoom: int) -> np.ndarray:
    """Vertices rounded to 1/16 pixel at `zoom` (each the same way, so shared vertices stay shared)."""
    return shapely.set_precision(geoms, pixel_degrees(zoom) / 16, mode="pointwise")


def feature_texts(spec: LayerSpec, rows: Iterable, zoom: int | None = None, *,
                  single_slice: bool = True, extra: dict | None = None) -> list[str]:
    """GeoJSON Feature texts for rows from `fetch` (simplified for `zoom` when given)."""
    rows = list(rows)
    if not rows:
        return []
    geoms = shapely.from_wkb([r[1] for r in rows])
    if not spec.is_point:
        # Several versions of one grid overlap in time and are no coverage: an interval query
        # (single_slice False) simplifies them one by one.
        geoms = simplify(geoms, zoom, coverage=spec.coverage and single_slice)
    geo_texts = point_texts(geoms, zoom) if spec.is_point and zoom is not None else shapely.to_geojson(geoms)
    names = list(spec.properties)
    out = []
    for row, geometry in zip(rows, geo_texts):
        props = {name: json_value(value) for name, value in zip(names, row[2:])}
        if extra:
            props.update(extra)
        out.append('{"type":"Feature","id":' + json.dumps(json_value(row[0])) + ',"geometry":'
                   + (geometry or "null") + ',"properties":' + json.dumps(props, ensure_ascii=False) + "}")
    return out


def collection_text(features: list[str], **members) -> str:
    """A FeatureCollection text from Feature texts and extra top-level members."""
    head = "".join(json.dumps(k) + ":" + json.dumps(v, ensure_ascii=False) + "," for k, v in members.items())
    return '{"type":"FeatureCollection",' + head + '"features":[' + ",".join(features) + "]}"


def layer_geojson(session: Session, q: LayerQuery, *, zoom: int | None = None,
                  overflow: str = "error", max_features: int | None = None) -> str:
    """The layer's features in the request's bbox as one FeatureCollection text.

    Below the layer's min zoom it holds per-grid aggregates instead (never raw features). More
    than the layer's feature cap is refused with a problem that says how to ask for less — or,
    with overflow="aggregate" (what the map uses), answered with the aggregates.
    """
    spec = q.spec
    cap = max_features or spec.max_features
    if zoom is not None and zoom < spec.min_zoom:
        return _aggregate_or_refuse(session, q, zoom, reason=f"zoom {zoom} is below its min zoom {spec.min_zoom}")
    if overflow == "aggregate" and spec.aggregate is not None and count_upto(session, q, cap + 1) > cap:
        # Counting first (the planner drops the joins) is cheaper than fetching cap + 1 features.
        return _aggregate_or_refuse(session, q, zoom, reason=f"more than {cap} features match")
    rows = fetch(session, q, limit=cap + 1)
    if len(rows) > cap:
        if overflow == "aggregate" and spec.aggregate is not None:
            return _aggregate_or_refuse(session, q, zoom, reason=f"more than {cap} features match")
        raise InvalidInput(
            "Too many features",
            f"More than {cap} {spec.name} features match; narrow the bbox, zoom in, add a filter "
            f"({', '.join(spec.filters) or 'none'}), or page through /ogc/collections/{spec.name}/items.",
            limit=cap, layer=spec.name)
    features = feature_texts(spec, rows, zoom, single_slice=q.interval is None)
    return collection_text(features, layer=spec.name, aggregated=False, numberReturned=len(features))


def _aggregate_or_refuse(session: Session, q: LayerQuery, zoom: int | None, reason: str) -> str:
    spec = q.spec
    if spec.aggregate is None:
        raise InvalidInput("Zoom in", f"Layer {spec.name} is served from zoom {spec.min_zoom}; {reason}.",
                           min_zoom=spec.min_zoom)
    rows = aggregate_rows(session, q)
    geoms = shapely.from_wkb([r[3] for r in rows]) if rows else np.array([])
    if spec.aggregate.shape == "polygon" and len(geoms):
        geoms = simplify(geoms, zoom, coverage=True)  # the aggregates' polygons are grids
    if not len(geoms):
        texts = []
    elif spec.aggregate.shape == "point" and zoom is not None:
        texts = point_texts(geoms, zoom)
    else:
        texts = shapely.to_geojson(geoms)
    names = list(spec.aggregate.measures)
    features = []
    for row, geometry in zip(rows, texts):
        props = {"grid_code": row[1], "grid_name": row[2]}
        props.update({name: json_value(v) for name, v in zip(names, row[4:])})
        features.append('{"type":"Feature","id":' + json.dumps(row[0]) + ',"geometry":' + geometry
                        + ',"properties":' + json.dumps(props, ensure_ascii=False) + "}")
    return collection_text(features, layer=spec.name, aggregated=True, numberReturned=len(features),
                           note=f"Counts per grid: {reason}.")


def aggregate_sql(q: LayerQuery, grids_filter: str, geom_expr: str = "g.geom") -> tuple[str, dict]:
    """SQL for per-grid aggregates of `q`: rows (grid id, code, name, geometry, *measures).

    Grids are chosen by `grids_filter` (over `g`), and every matching feature of each chosen grid
    is counted — not only the part inside a bbox or tile — so neighbouring tiles agree.
    """
    spec, agg = q.spec, q.spec.aggregate
    where, params = q.where(include_bbox=False)
    point = agg.shape == "point"
    shape = f"ST_PointOnSurface({geom_expr})" if point else geom_expr
    measures = ", ".join(f"{sql} AS {name}" for name, sql in agg.measures.items())
    outer = ", ".join(f"a.{name}" for name in agg.measures)
    sql = f"""
      WITH g AS MATERIALIZED (SELECT id, code, name, geom FROM grids g WHERE {grids_filter})
      SELECT g.id, g.code, g.name, {shape} AS shape, {outer}
        FROM g JOIN (SELECT t.{agg.group_column} AS gid, {measures}
                       FROM {spec.source} AS t
                      WHERE t.{agg.group_column} IN (SELECT id FROM g) AND {where}
                      GROUP BY 1) a ON a.gid = g.id
       ORDER BY g.id"""
    return sql, params


def aggregate_rows(session: Session, q: LayerQuery) -> list:
    """Per-grid aggregates of `q` over the grids meeting its bbox: (id, code, name, wkb, *measures)."""
    if q.bbox is not None:
        grids_filter = "g.geom && ST_MakeEnvelope(:gx0, :gy0, :gx1, :gy1, 4326)"
        extra = dict(zip(("gx0", "gy0", "gx1", "gy1"), q.bbox))
    else:
        grids_filter, extra = "TRUE", {}
    sql, params = aggregate_sql(q, grids_filter)
    wrapped = f"SELECT id, code, name, ST_AsBinary(shape), {', '.join(q.spec.aggregate.measures)} FROM ({sql}) s"
    return session.execute(text(wrapped), {**params, **extra}).all()
