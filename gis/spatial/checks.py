"""Rules for features arriving from files: geometry type, validity, coordinate range, nesting, overlaps."""
from __future__ import annotations

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.core import dated

POLYGONAL = ("Polygon", "MultiPolygon")
# Overlaps and parts outside a parent smaller than this are digitising noise, not errors.
TOLERANCE_M2 = 1.0
# How far outside the districts' bounding box (degrees) a feature may lie before a swap is suspected.
SWAP_MARGIN_DEG = 0.5


def coordinate_problems(bounds: np.ndarray) -> dict[int, str]:
    """Per row of (minx, miny, maxx, maxy), why the coordinates cannot be WGS84 longitude/latitude.

    Longitude must lie in −180…180 and latitude in −90…90; a latitude out of range whose
    longitude would fit as a latitude is reported as a likely lon/lat swap.
    """
    out: dict[int, str] = {}
    finite = np.isfinite(bounds).all(axis=1)
    for i in np.flatnonzero(~finite):
        out[int(i)] = "coordinates are not finite numbers (NaN or infinite)"
    with np.errstate(invalid="ignore"):
        minx, miny, maxx, maxy = bounds.T
        bad_lat = finite & ((miny < -90) | (maxy > 90))
        bad_lon = finite & ~bad_lat & ((minx < -180) | (maxx > 180))
    for i in np.flatnonzero(bad_lat):
        lat = maxy[i] if maxy[i] > 90 else miny[i]
        hint = " — are lon and lat swapped?" if -90 <= minx[i] and maxx[i] <= 90 else ""
        out[int(i)] = f"latitude {lat:g} is out of range (−90…90){hint}"
    for i in np.flatnonzero(bad_lon):
        lon = maxx[i] if maxx[i] > 180 else minx[i]
        out[int(i)] = f"longitude {lon:g} is out of range (−180…180)"
    return out


def geometry_problems(geoms: np.ndarray, want: str, *, optional: bool = False) -> dict[int, str]:
    """Per index, why a geometry cannot be stored: missing, wrong type, out of range, invalid.

    `want` is 'polygon' (Polygon or MultiPolygon) or 'point'. Coordinates are checked by
    coordinate_problems. Validity is GEOS's, with its reason (the same rule as the tables'
    CHECK ST_IsValid).
    """
    out: dict[int, str] = {}
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    types = shapely.get_type_id(geoms)
    names = np.array(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString",
                      "MultiPolygon", "GeometryCollection"])
    allowed = {"polygon": (3, 6), "point": (0,)}[want]
    wanted = "Polygon or MultiPolygon" if want == "polygon" else "Point"
    for i in np.flatnonzero(missing):
        if not optional:
            out[int(i)] = f"has no geometry (needs a {wanted})"
    bad_type = ~missing & ~np.isin(types, allowed)
    for i in np.flatnonzero(bad_type):
        out[int(i)] = f"geometry is a {names[types[i]] if types[i] >= 0 else 'nothing'}; it must be a {wanted}"
    idx = np.flatnonzero(~missing & ~bad_type)
    for j, m in coordinate_problems(shapely.bounds(geoms[idx])).items():
        out[int(idx[j])] = m
    idx = np.array([i for i in idx if i not in out], dtype=int)
    if len(idx):
        valid = shapely.is_valid(geoms[idx])
        for i in idx[~valid]:
            out[int(i)] = f"invalid geometry: {shapely.is_valid_reason(geoms[i])}"
    return out


def district_extent(session: Session) -> tuple[float, float, float, float] | None:
    """The bounding box (lon/lat) around every district in the database, or None."""
    row = session.execute(text("""
        SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
        FROM (SELECT ST_Extent(geom) AS e FROM admin_areas WHERE level = 'district') x
    """)).one()
    return None if row[0] is None else tuple(row)


def swapped_coordinates(bounds: np.ndarray, extent: tuple[float, float, float, float] | None) -> dict[int, str]:
    """Per row of (minx, miny, maxx, maxy), a message when a feature lies far from every district
    (more than SWAP_MARGIN_DEG outside their bounding box) but would lie inside it swapped.

    Helsinki read as (lat, lon) lands in the Indian Ocean, well inside the valid range, so the
    range check cannot see it; the districts already in the database can.
    """
    if extent is None or len(bounds) == 0:
        return {}
    x0, y0, x1, y1 = extent
    m = SWAP_MARGIN_DEG
    b = np.asarray(bounds, dtype=float)
    known = np.isfinite(b).all(axis=1)
    minx, miny, maxx, maxy = b.T

    def inside(ax0, ay0, ax1, ay1):
        return (ax0 >= x0 - m) & (ax1 <= x1 + m) & (ay0 >= y0 - m) & (ay1 <= y1 + m)

    with np.errstate(invalid="ignore"):
        far = known & ~inside(minx, miny, maxx, maxy)
        swapped = far & inside(miny, minx, maxy, maxx)
    return {int(i): (f"lies at lon {minx[i]:.5f}, lat {miny[i]:.5f}, far from every district; with lon and lat "
                     f"swapped it would lie inside — are lon and lat swapped?")
            for i in np.flatnonzero(swapped)}


def outside_parent(session: Session, stage: str, parent_code_col: str, tolerance_m2: float = TOLERANCE_M2
                   ) -> list[tuple[int, str, str, float]]:
    """Staged features sticking out of their parent area by more than `tolerance_m2` (geodesic m²).

    `stage` has columns row, code, geom and `parent_code_col`; the parent is the admin area
    with that code (in the database, or staged in `stage` itself when it holds areas).
    Returns (row, code, parent code, m² outside).
    """
    return [tuple(r) for r in session.execute(text(f"""
        WITH parents AS (
            SELECT code, geom FROM admin_areas WHERE code NOT IN (SELECT code FROM {stage})
            UNION ALL SELECT code, geom FROM {stage}
        )
        SELECT s.row, s.code, p.code, ST_Area(ST_Difference(s.geom, p.geom)::geography) AS outside_m2
        FROM {stage} s JOIN parents p ON p.code = s.{parent_code_col}
        WHERE NOT ST_Covers(p.geom, s.geom)
          AND ST_Area(ST_Difference(s.geom, p.geom)::geography) > :tol
        ORDER BY s.row
    """), {"tol": tolerance_m2})]


def grid_overlaps(session: Session, stage: str, tolerance_m2: float = TOLERANCE_M2
                  ) -> list[tuple[int, str, int | None, str, float]]:
    """Staged grids overlapping another staged grid or a current grid the file does not replace.

    Two grids overlap when their interiors share more than `tolerance_m2` (geodesic m²);
    sharing an edge or a corner is how grids should meet. Returns (row, code, other row or
    None for a grid already in the database, other code, overlap m²), each pair once.
    """
    return [tuple(r) for r in session.execute(text(f"""
        WITH others AS (
            SELECT s.row, s.code, s.geom FROM {stage} s
            UNION ALL
            SELECT NULL, g.code, g.geom FROM grids g
            WHERE {dated.current('g')} AND g.code NOT IN (SELECT code FROM {stage})
        )
        SELECT a.row, a.code, o.row, o.code, ST_Area(ST_Intersection(a.geom, o.geom)::geography) AS m2
        FROM {stage} a JOIN others o
          ON a.geom && o.geom AND a.code <> o.code AND (o.row IS NULL OR o.row > a.row)
         AND ST_Relate(a.geom, o.geom, '2********')
        WHERE ST_Area(ST_Intersection(a.geom, o.geom)::geography) > :tol
        ORDER BY a.row, o.row
    """), {"tol": tolerance_m2})]
