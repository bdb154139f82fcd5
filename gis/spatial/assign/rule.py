"""The rule that places a point — grid, status, building, areas — as SQL the single and the bulk path share."""
from __future__ import annotations

from gis.core import dated

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


def valid_at(g: str, t: str) -> str:
    """SQL: grid version `g` is valid at time `t` — [valid_from, valid_to), NULL meaning unbounded."""
    return dated.in_force(g, t)


def deg_radius(metres: str, abs_lat: str) -> str:
    """SQL: a planar radius in degrees that surely covers `metres` on the ellipsoid around |latitude| `abs_lat`."""
    # One degree is at least 110 574 m of latitude and 111 319·cos(φ) m of longitude.
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


def frame_columns(pt: str) -> str:
    """SQL columns x, y, kx, ky: the local metric frame at the point, computed once per event."""
    kx, ky = _scales(pt)
    return f"ST_X({pt}) AS x, ST_Y({pt}) AS y, {kx} AS kx, {ky} AS ky"


_ORIGIN = "'SRID=4326;POINT(0 0)'::geometry"


def near_ring(ring: str, pt: str, acc: str) -> str:
    """SQL: the accuracy circle crosses the grid's boundary (the boundary lies within accuracy_m)."""
    return (f"COALESCE({acc} > 0 AND ST_DWithin({ring}, {pt}, {deg_radius(acc, f'abs(ST_Y({pt}))')})"
            f" AND ST_DWithin({_local_m(ring, pt)}, {_ORIGIN}, {acc}), false)")


# Decides every row of `src` (id, geom, at, accuracy_m, x, y, kx, ky, cover_grid_id, cover_n, near_ring).
# cover_grid_id: the covering grid with the smallest code; cover_n: how many grids cover it;
# near_ring: whether its accuracy circle crosses that grid's boundary.
DECIDE = f"""
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
    WHERE s.cover_grid_id IS NULL AND {valid_at('g', 's.at')}
    ORDER BY g.geom <-> s.geom LIMIT 1) k0 ON true
  LEFT JOIN LATERAL (
    SELECT g.id, ST_Distance(g.geom::geography, s.geom::geography) AS d
    FROM grids g
    WHERE k0.d <= {EXACT_NEAREST_M} AND {valid_at('g', 's.at')}
      AND ST_DWithin(g.geom, s.geom, {deg_radius('k0.d', 'abs(ST_Y(s.geom))')})
    ORDER BY 2, g.code LIMIT 1) k1 ON true
  CROSS JOIN LATERAL (SELECT COALESCE(k1.id, k0.id) AS id, COALESCE(k1.d, k0.d) AS d) n
  -- The building: the footprint covering the point (smallest code on a shared wall), else the
  -- nearest within {BUILDING_NEAR_M:g} m.
  LEFT JOIN LATERAL (
    SELECT c.id, c.geom, c.covers FROM (
      SELECT b.id, b.geom, b.code, ST_Covers(b.geom, s.geom) AS covers,
             ST_Distance(ST_Affine(b.geom, s.kx, 0, 0, s.ky, -s.kx * s.x, -s.ky * s.y), {_ORIGIN}) AS d
      FROM buildings b
      WHERE ST_DWithin(b.geom, s.geom, {deg_radius(str(BUILDING_NEAR_M), 'abs(ST_Y(s.geom))')}) OFFSET 0) c
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
    WHERE st.status = 'ambiguous' AND b.covers AND {valid_at('g', 's.at')}
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


def src_by_probe(points: str) -> str:
    """SQL, the `src` step: for each point of `points` (id, geom, at, accuracy_m), the covering grids by an
    index probe."""
    return f"""
src AS (
  SELECT p.id, p.geom, p.at, p.accuracy_m, {frame_columns('p.geom')}, c.id AS cover_grid_id, c.n AS cover_n,
         {near_ring('ST_Boundary(c.geom)', 'p.geom', 'p.accuracy_m')} AS near_ring
  FROM {points} p
  LEFT JOIN LATERAL (
    SELECT g.id, g.geom, count(*) OVER () AS n
    FROM grids g
    WHERE ST_Covers(g.geom, p.geom) AND {valid_at('g', 'p.at')}
    ORDER BY g.code LIMIT 1) c ON true
)"""
