"""The metric frame: measuring lon/lat geometry in metres near a place, and its local plane."""
from __future__ import annotations

import functools
import math
from collections.abc import Iterable

import numpy as np
import shapely
from pyproj import CRS, Transformer
from shapely.geometry.base import BaseGeometry

# Grid edges are straight lines in lon/lat: that is how PostGIS (geometry, SRID 4326) and every
# rule of gridgov (ST_Covers, the building rule) see them. So overlays — intersections,
# differences, unions — run on the lon/lat coordinates themselves, and only their results are
# *measured* in metres. (Overlaying in a projected plane would bend each long edge by millimetres
# and turn a vertex lying on a neighbour's edge into a phantom sliver.)
_E2 = 0.00669437999014  # WGS84 first eccentricity squared
_A = 6378137.0


@functools.lru_cache(maxsize=64)
def _transformers(lon0: float, lat0: float) -> tuple[Transformer, Transformer]:
    laea = CRS.from_proj4(f"+proj=laea +lat_0={lat0} +lon_0={lon0} +ellps=WGS84 +units=m +no_defs")
    return (Transformer.from_crs("EPSG:4326", laea, always_xy=True),
            Transformer.from_crs(laea, "EPSG:4326", always_xy=True))


class Frame:
    """Measuring in metres near (lon, lat): areas and lengths, and a local plane for snapping.

    Areas and lengths come from a Lambert azimuthal equal-area projection of the WGS84 ellipsoid
    centred there: areas are the geodesic areas, lengths true to about 10⁻⁵ within a district.
    Snapping distances use the local plane — lon/lat scaled by the ellipsoid's metres per degree
    at the centre — an affine map, so lon/lat-straight edges stay straight in it.
    """

    def __init__(self, lon: float, lat: float):
        # Rounded so that every check near one place shares one frame (and one cached transformer).
        self.lon0, self.lat0 = round(lon, 2), round(lat, 2)
        self._fwd, self._inv = _transformers(self.lon0, self.lat0)
        phi = math.radians(self.lat0)
        self.kx = math.pi / 180 * _A * math.cos(phi) / math.sqrt(1 - _E2 * math.sin(phi) ** 2)
        self.ky = math.pi / 180 * _A * (1 - _E2) / (1 - _E2 * math.sin(phi) ** 2) ** 1.5

    @classmethod
    def around(cls, geoms: Iterable[BaseGeometry]) -> Frame:
        """The frame centred on the bounding box of `geoms` (lon/lat)."""
        x0, y0, x1, y1 = shapely.total_bounds(np.asarray(list(geoms), dtype=object))
        return cls((x0 + x1) / 2, (y0 + y1) / 2)

    def to_m(self, geom):
        """Lon/lat geometry (or array of them) → the equal-area plane, metres."""
        return shapely.transform(geom, lambda c: np.column_stack(self._fwd.transform(c[:, 0], c[:, 1])))

    def area_m2(self, geom):
        """Area in m² of a lon/lat geometry (or array)."""
        return shapely.area(self.to_m(geom))

    def length_m(self, geom):
        """Length in m of a lon/lat geometry (or array)."""
        return shapely.length(self.to_m(geom))

    def to_local(self, geom):
        """Lon/lat → the local plane (metres east and north of the centre; affine)."""
        return shapely.transform(geom, lambda c: (c - (self.lon0, self.lat0)) * (self.kx, self.ky))

    def from_local(self, geom):
        """The local plane → lon/lat."""
        return shapely.transform(geom, lambda c: c / (self.kx, self.ky) + (self.lon0, self.lat0))
