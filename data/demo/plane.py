"""The plane the district is drawn on (CGCS2000 Gauss-Krüger, metres about its centre), the 1 cm grid
every decision is snapped to, and the geometry helpers every phase shares."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import shapely
from pyproj import Transformer
from shapely import MultiPolygon

# 同安, north of Xiamen bay (records.DISTRICT_CODE says why its code never collides with a real one).
CENTER_LONLAT = (118.150, 24.735)
PLANE_CRS = "EPSG:4548"  # CGCS2000 / 3-degree Gauss-Kruger CM 117E
# Every coordinate the generator decides on is snapped to this grid first (and all boundaries are
# noded on it), so a last-bit difference between CPUs' maths kernels (BLAS, SIMD, libm) moves
# nothing: a value a few 1e-13 m off rounds to the same centimetre.
NODING_GRID_M = 0.01

# -- coordinates -----------------------------------------------------------------------------
_TRANSFORMS: dict[str, object] = {}


def transformers() -> dict[str, object]:
    """WGS84 ⇄ the plane, and the plane's coordinates of CENTER_LONLAT (the origin), made once."""
    if not _TRANSFORMS:
        fwd = Transformer.from_crs("EPSG:4326", PLANE_CRS, always_xy=True)
        inv = Transformer.from_crs(PLANE_CRS, "EPSG:4326", always_xy=True)
        _TRANSFORMS.update(fwd=fwd, inv=inv, origin=fwd.transform(*CENTER_LONLAT))
    return _TRANSFORMS


def plane_to_lonlat() -> Callable[[np.ndarray], np.ndarray]:
    """A function from (n, 2) plane metres about the origin to (n, 2) WGS84 lon/lat."""
    t = transformers()
    ox, oy = t["origin"]
    inv = t["inv"]

    def apply(xy: np.ndarray) -> np.ndarray:
        lon, lat = inv.transform(xy[:, 0] + ox, xy[:, 1] + oy)
        return np.column_stack([lon, lat])

    return apply


def polygons(rings: np.ndarray) -> np.ndarray:
    """Polygons from (n, k, 2) closed rings; twice as fast as shapely.polygons on a million footprints."""
    n, k = rings.shape[:2]
    return shapely.from_ragged_array(shapely.GeometryType.POLYGON, rings.reshape(-1, 2),
                                     (np.arange(0, n * k + 1, k), np.arange(n + 1)))


def multi(geom) -> MultiPolygon:
    """geom as a MultiPolygon (the stored type)."""
    return geom if isinstance(geom, MultiPolygon) else MultiPolygon([geom])


def snap(xy):
    """Coordinates rounded to the 1 cm grid exactly as GEOS rounds them (scale 100, then divide)."""
    scale = 1.0 / NODING_GRID_M
    return np.round(np.asarray(xy, dtype=float) * scale) / scale + 0.0  # + 0.0: no -0.0 from a -1e-300


def on_grid(geom, grid: float = NODING_GRID_M):
    """geom snap-rounded to `grid`, handed back with a floating precision model.

    GEOS keeps the grid on the result and every later overlay would snap its output to it,
    leaving slivers where a cut meets a neighbour's edge; the noding snaps all pieces together.
    """
    return shapely.transform(shapely.set_precision(shapely.set_precision(geom, grid), 0.0), lambda xy: xy + 0.0)


# -- grouped point-in-polygon tests ------------------------------------------------------------
def groups(group: np.ndarray, n: int):
    """(g, indices of the items in group g) for each non-empty group g < n."""
    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(n + 1))
    for g in np.flatnonzero(np.diff(bounds)).tolist():
        yield g, order[bounds[g]:bounds[g + 1]]


def contains_by_group(polys: np.ndarray, group: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Whether polys[group[i]] contains the point (x[i], y[i]), one prepared polygon at a time."""
    out = np.zeros(len(x), dtype=bool)
    for g, idx in groups(group, len(polys)):
        shapely.prepare(polys[g])
        out[idx] = shapely.contains_xy(polys[g], x[idx], y[idx])
    return out
