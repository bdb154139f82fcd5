"""What the demo generator draws: the scales, the district's names and codes, and its records in memory."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
from shapely import LineString, MultiPolygon, Polygon

from data.demo.plane import plane_to_lonlat, polygons, snap

# The code 350209 is not assigned by GB/T 2260, so the demo never collides with a real district
# someone imports beside it.
DISTRICT_CODE = "350209"
DISTRICT_NAME = "幸福湾区"
CITY_NAME = "厦门市"


@dataclass(frozen=True)
class Scale:
    """How big a district to draw."""

    name: str
    grids: int
    streets: int
    communities: int
    events: int
    cadres: int
    grids_per_worker: float  # how many grids one 网格员 holds
    # Target grid area at the district's edge; with the land uses below it sets how many
    # buildings there are (tiny ≈ 2.5k, demo ≈ 32k, city ≈ 950k, measured).
    edge_grid_m2: float = 60_000.0


SCALES = {
    "tiny": Scale("tiny", grids=60, streets=2, communities=4, events=1_500, cadres=20, grids_per_worker=6),
    "demo": Scale("demo", grids=600, streets=5, communities=40, events=20_000, cadres=150, grids_per_worker=10,
                  edge_grid_m2=75_000.0),
    # The benchmark city has big village and suburban grids (a village is often one grid),
    # which is where most of its million buildings stand.
    "city": Scale("city", grids=9_700, streets=80, communities=650, events=1_000_000, cadres=1_500,
                  grids_per_worker=15, edge_grid_m2=168_000.0),
}


# -- results ---------------------------------------------------------------------------------
@dataclass
class Area:
    """A district, street or community of the demo."""

    level: str
    code: str
    name: str
    parent_code: str | None
    geom_m: Polygon | MultiPolygon
    geom: MultiPolygon | None = None


@dataclass
class GridRec:
    """A grid of the demo, with its land use (what its buildings look like)."""

    code: str
    name: str
    kind: str
    community_code: str
    use: str
    geom_m: Polygon
    geom: MultiPolygon | None = None
    # Its place, where cutting measured it: the zone (old 老城区, urban, suburb) and the target
    # area there; a basic grid lies within layout._size_bounds(target_m2).
    zone: str = ""
    target_m2: float = 0.0


@dataclass
class Road:
    """A road or river segment between two junctions; boundaries of grids follow them."""

    name: str
    cls: str
    width_m: float
    geom_m: LineString
    geom: LineString | None = None


@dataclass
class Water:
    """The river or the bay, as the basemap draws it (an area, in WGS84)."""

    kind: str
    name: str
    geom: MultiPolygon


@dataclass
class Buildings:
    """Rectangular footprints (centre, size, angle in plane metres) and their attributes."""

    cx: np.ndarray
    cy: np.ndarray
    w: np.ndarray
    h: np.ndarray
    theta: np.ndarray
    cos_t: np.ndarray  # cos and sin of theta, from math.cos/sin once per grid (NumPy's SIMD kernels
    sin_t: np.ndarray  # may differ from them in the last bit)
    floors: np.ndarray
    households: np.ndarray
    population: np.ndarray
    grid: np.ndarray  # index into DemoDistrict.grids (where it was drawn; the loader re-derives it)
    code: list[str]
    name: list[str]

    def __len__(self) -> int:
        return len(self.cx)

    def corners_m(self, sl: slice = slice(None)) -> np.ndarray:
        """(n, 5, 2) closed rings of the footprints in plane metres, on the 1 cm grid."""
        cx, cy, w, h = self.cx[sl], self.cy[sl], self.w[sl], self.h[sl]
        dx = np.array([-0.5, 0.5, 0.5, -0.5, -0.5])
        dy = np.array([-0.5, -0.5, 0.5, 0.5, -0.5])
        lx, ly = w[:, None] * dx, h[:, None] * dy
        c, s = self.cos_t[sl][:, None], self.sin_t[sl][:, None]
        return snap(np.stack([cx[:, None] + lx * c - ly * s, cy[:, None] + lx * s + ly * c], axis=-1))

    def subset(self, keep: np.ndarray) -> Buildings:
        """The buildings where `keep` is true (codes and names are given afterwards)."""
        arrays = [getattr(self, f)[keep] for f in ("cx", "cy", "w", "h", "theta", "cos_t", "sin_t", "floors",
                                                   "households", "population", "grid")]
        return Buildings(*arrays, code=[], name=[])


@dataclass
class Events:
    """Generated events (WGS84 points) with category, status and times."""

    lon: np.ndarray
    lat: np.ndarray
    category: np.ndarray
    title: list[str]
    description: list[str]
    status: np.ndarray
    occurred_at: np.ndarray  # datetime64[s], UTC
    reported_at: np.ndarray
    updated_at: np.ndarray
    accuracy_m: np.ndarray  # NaN: not given
    contact: list[dict | None]
    hotspot: np.ndarray  # index of the hotspot it came from, -1 for background
    building: np.ndarray  # index of the building it was drawn around (into DemoDistrict.buildings)

    def __len__(self) -> int:
        return len(self.lon)


@dataclass
class DemoDistrict:
    """Everything the generator draws, in memory."""

    scale: Scale
    seed: int
    as_of: dt.datetime
    areas: list[Area]
    grids: list[GridRec]
    roads: list[Road]
    buildings: Buildings
    events: Events
    cadres: list[dict]
    contracts: list[dict]
    hotspots: list[dict] = field(default_factory=list)
    water: list[Water] = field(default_factory=list)

    def footprint_rings(self, sl: slice = slice(None)) -> np.ndarray:
        """Building footprints as (n, 5, 2) closed WGS84 rings."""
        rings = self.buildings.corners_m(sl)
        return plane_to_lonlat()(rings.reshape(-1, 2)).reshape(rings.shape)

    def footprints(self, sl: slice = slice(None)) -> np.ndarray:
        """Building footprints as WGS84 polygons."""
        return polygons(self.footprint_rings(sl))
