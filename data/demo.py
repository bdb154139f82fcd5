"""The demo district 幸福湾区 (厦门市, code 350209): a deterministic, realistic generator and its loader."""
from __future__ import annotations

# How the district is drawn. Everything is laid out on the CGCS2000 Gauss-Krüger plane
# (metres) that Chinese survey data use, then projected to WGS84 for storage.
#  1. An irregular outline with a bay (湾) on its south side; a river (幸福河) meanders
#     across it into the bay.
#  2. Streets and communities are cut out of it by straight roads (arterials, then
#     secondary roads), each cut placed so the pieces hold the wanted number of grids
#     (a density field makes the old town dense and the suburbs sparse).
#  3. Each community is cut recursively by local roads until the pieces reach the grid
#     size of their place (≈10,000 m² in the old town, several hectares outside), each within
#     GRID_AREA_TOLERANCE of it; a few pieces become special grids (park, school, hospital,
#     market, industrial park).
#  4. All boundaries are noded together on a 1 cm grid and polygonised, so neighbouring
#     grids share exactly the same vertices: the grids tile each community, communities
#     tile streets, streets tile the district (shapely.coverage_is_valid holds).
#  5. Buildings are rectangles on a lattice aligned with each grid's long axis, kept
#     only where they stay clear of every road's half-width plus a gap.
#  6. Events over the last 90 days come from hotspots (a market, a construction site, an
#     old compound, a school gate…) and from background noise near homes, each inside a
#     grid; statuses follow the age of the case. Cadres of every type contract most grids,
#     not all.
#  7. check_invariants checks the district's rules on what would be stored, before anything is.
# Every decision is taken on coordinates snapped to 1 cm (NODING_GRID_M) and computed with plain
# arithmetic or math on scalars, never BLAS (@, np.dot) or NumPy's array trigonometry: their
# kernels differ between CPUs in the last bit, and one flipped comparison redraws the district.
import datetime as dt
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
from shapely import LineString, MultiPolygon, Polygon
from shapely.affinity import rotate
from shapely.ops import split

from data import names as nm
from gis.core import clock
from gis.core.models import CADRE_TYPES, EVENT_STATUSES
from gis.spatial.codes import building_code, grid_code, reading_order

# The statuses the generator draws, one probability each below ('merged' needs a case to join).
DEMO_STATUSES = ("reported", "registered", "dispatched", "in_progress", "handled", "closed", "rejected")
assert set(DEMO_STATUSES) <= set(EVENT_STATUSES)

DISTRICT_CODE = "350209"
DISTRICT_NAME = "幸福湾区"
CITY_NAME = "厦门市"
# 同安, north of Xiamen bay. The code 350209 is not assigned by GB/T 2260, so the demo
# never collides with a real district someone imports beside it.
CENTER_LONLAT = (118.150, 24.735)
PLANE_CRS = "EPSG:4548"  # CGCS2000 / 3-degree Gauss-Kruger CM 117E
# Every coordinate the generator decides on is snapped to this grid first (and all boundaries are
# noded on it), so a last-bit difference between CPUs' maths kernels (BLAS, SIMD, libm) moves
# nothing: a value a few 1e-13 m off rounds to the same centimetre.
NODING_GRID_M = 0.01
CATEGORIES_CSV = Path(__file__).resolve().parent / "categories.csv"
DAYS = 90
# Grids come out a little above their place's target area on average (cutting stops anywhere
# up to 1.45× it): 0.97 grids per "expected" grid, measured.
LEAVES_PER_EXPECTED_GRID = 0.97
# 万米单元网格: a city-management unit grid is "about 10,000 m²" (CJ/T 213-2005 and the local rules
# that follow it give the size as a guide, 面积适当, not as a tolerance). The demo reads "about" as
# within a factor of 1.5 either way of its place's target (10,000 m² in the old town, so
# 6,667–15,000 m²), per basic grid; special grids (park, school…) are larger by design.
GRID_AREA_TOLERANCE = 1.5
# Cutting keeps 1 % inside those bounds: the noding moves boundaries by under a centimetre and
# the plane's scale (Gauss-Krüger, 1.15° off its meridian) changes areas by 0.03 %.
GRID_CUT_MARGIN = 0.01
# A piece's target may rise at most this much above the piece it was cut from, where the field
# climbs steeply within one grid's width (the old town's edge in a small district).
TARGET_DRIFT = 1.05


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

ROAD_CLASSES = ("boundary", "local", "secondary", "arterial", "river")  # by rank
ROAD_WIDTH_M = {"boundary": 12.0, "local": 10.0, "secondary": 24.0, "arterial": 40.0, "river": 60.0}
BUILDING_GAP_M = 2.0  # kept between a building and the edge of a road
# Every demo event lies inside a grid, at least this far from its edges, so that which grid
# it is in never hangs on the last bits of a projection (the loader assigns events in WGS84).
EVENT_EDGE_MARGIN_M = 0.5
EVENT_PULLS = 4  # halvings of its offset from its building before an event is put on the building


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
    # area there; a basic grid lies within _size_bounds(target_m2).
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
        return _snap(np.stack([cx[:, None] + lx * c - ly * s, cy[:, None] + lx * s + ly * c], axis=-1))

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

    def footprint_rings(self, sl: slice = slice(None)) -> np.ndarray:
        """Building footprints as (n, 5, 2) closed WGS84 rings."""
        rings = self.buildings.corners_m(sl)
        return _plane_to_lonlat()(rings.reshape(-1, 2)).reshape(rings.shape)

    def footprints(self, sl: slice = slice(None)) -> np.ndarray:
        """Building footprints as WGS84 polygons."""
        return _polygons(self.footprint_rings(sl))


# -- coordinates -----------------------------------------------------------------------------
_TRANSFORMS: dict[str, object] = {}


def _transformers():
    if not _TRANSFORMS:
        from pyproj import Transformer

        fwd = Transformer.from_crs("EPSG:4326", PLANE_CRS, always_xy=True)
        inv = Transformer.from_crs(PLANE_CRS, "EPSG:4326", always_xy=True)
        _TRANSFORMS.update(fwd=fwd, inv=inv, origin=fwd.transform(*CENTER_LONLAT))
    return _TRANSFORMS


def _plane_to_lonlat() -> Callable[[np.ndarray], np.ndarray]:
    t = _transformers()
    ox, oy = t["origin"]
    inv = t["inv"]

    def apply(xy: np.ndarray) -> np.ndarray:
        lon, lat = inv.transform(xy[:, 0] + ox, xy[:, 1] + oy)
        return np.column_stack([lon, lat])

    return apply


def _polygons(rings: np.ndarray) -> np.ndarray:
    """Polygons from (n, k, 2) closed rings; twice as fast as shapely.polygons on a million footprints."""
    n, k = rings.shape[:2]
    return shapely.from_ragged_array(shapely.GeometryType.POLYGON, rings.reshape(-1, 2),
                                     (np.arange(0, n * k + 1, k), np.arange(n + 1)))


def _multi(geom) -> MultiPolygon:
    return geom if isinstance(geom, MultiPolygon) else MultiPolygon([geom])


def _snap(xy):
    """Coordinates rounded to the 1 cm grid exactly as GEOS rounds them (scale 100, then divide)."""
    scale = 1.0 / NODING_GRID_M
    return np.round(np.asarray(xy, dtype=float) * scale) / scale + 0.0  # + 0.0: no -0.0 from a -1e-300


def _on_grid(geom, grid: float = NODING_GRID_M):
    """geom snap-rounded to `grid`, handed back with a floating precision model.

    GEOS keeps the grid on the result and every later overlay would snap its output to it,
    leaving slivers where a cut meets a neighbour's edge; the noding snaps all pieces together.
    """
    return shapely.transform(shapely.set_precision(shapely.set_precision(geom, grid), 0.0), lambda xy: xy + 0.0)


# -- the density field -----------------------------------------------------------------------
class _Field:
    """Target grid area (m²) at each place: dense old town, larger grids towards the edge."""

    def __init__(self, radius: float, old_center: tuple[float, float], scale: Scale):
        self.R = radius
        self.ox, self.oy = old_center
        self.edge = scale.edge_grid_m2
        self.old_r = 0.22

    # Plain arithmetic and sqrt only: IEEE rounds them the same on every CPU, where hypot and
    # pow come from libm or NumPy's SIMD kernels and may differ in the last bit.
    def rel(self, x, y):
        """Distance from the old-town centre in district radii."""
        dx, dy = np.asarray(x, dtype=float) - self.ox, np.asarray(y, dtype=float) - self.oy
        return np.sqrt(dx * dx + dy * dy) / self.R

    def grid_m2(self, x, y):
        """The target grid area at (x, y): 10,000 m² in the old town, rising towards the edge."""
        d = self.rel(x, y)
        r = np.clip((d - self.old_r) / (1.0 - self.old_r), 0.0, 1.0)
        ramp = r * (0.75 + 0.25 * r)  # a little steeper towards the edge
        return 10_000.0 + (self.edge - 10_000.0) * ramp

    def place(self, poly) -> tuple[float, str]:
        """Target area and zone of a piece, both at its representative point (one place per piece)."""
        rp = poly.representative_point()
        return float(self.grid_m2(rp.x, rp.y)), self.zone(rp.x, rp.y)

    def zone(self, x, y) -> str:
        """old (老城区), urban (城区) or suburb (城郊)."""
        d = float(self.rel(x, y))
        return "old" if d < self.old_r else "urban" if d < 0.55 else "suburb"


class _Samples:
    """Weighted sample points: weight(poly) ≈ the number of grids a polygon will hold."""

    def __init__(self, outline: Polygon, fld: _Field, spacing: float):
        minx, miny, maxx, maxy = outline.bounds
        xs = np.arange(minx + spacing / 2, maxx, spacing)
        ys = np.arange(miny + spacing / 2, maxy, spacing)
        gx, gy = np.meshgrid(xs, ys)
        gx, gy = gx.ravel(), gy.ravel()
        keep = shapely.contains_xy(outline, gx, gy)
        self.x, self.y = gx[keep], gy[keep]
        self.w = spacing * spacing / fld.grid_m2(self.x, self.y)

    def inside(self, poly) -> np.ndarray:
        """Indices of samples inside poly."""
        minx, miny, maxx, maxy = poly.bounds
        cand = np.flatnonzero((self.x >= minx) & (self.x <= maxx) & (self.y >= miny) & (self.y <= maxy))
        return cand[shapely.contains_xy(poly, self.x[cand], self.y[cand])]

    def weight(self, poly) -> float:
        """Expected number of grids in poly."""
        return float(self.w[self.inside(poly)].sum())


# -- cutting polygons by roads ---------------------------------------------------------------
class _Cutter:
    """Cuts polygons by straight roads and remembers every cut with its class and name."""

    def __init__(self, rng: np.random.Generator, pool: nm.NamePool):
        self.rng = rng
        self.pool = pool
        self.cuts: list[tuple[LineString, str, str]] = []
        self._arterials = list(nm.ARTERIAL_NAMES)

    def road_name(self, cls: str) -> str:
        if cls == "arterial" and self._arterials:
            return self._arterials.pop(0)
        word = self.pool.word() if cls == "secondary" else self.pool.any()
        if cls == "secondary":
            return word + str(self.rng.choice(["路", "大道", "街"]))
        return word + str(self.rng.choice(nm.ROAD_SUFFIXES))

    @staticmethod
    def long_axis(poly) -> float:
        """Angle (radians) of the long side of the minimum rotated rectangle."""
        ring = np.asarray(shapely.oriented_envelope(poly).exterior.coords)
        (x0, y0), (x1, y1), (x2, y2) = ring[0], ring[1], ring[2]
        a = (x1 - x0, y1 - y0)
        b = (x2 - x1, y2 - y1)
        e = a if a[0] * a[0] + a[1] * a[1] >= b[0] * b[0] + b[1] * b[1] else b
        return math.atan2(e[1], e[0])

    def cut(self, poly, angle: float, t: float, cls: str):
        """Split poly by the line {p·u = t} (u at `angle`); returns (low side, high side).

        The cut line runs between two points of the 1 cm grid, so it is the same line whatever
        the last bits of `t` and `angle` (libm's cos/sin); the pieces are then exact functions of
        centimetre coordinates. They are not snapped themselves (see _on_grid).
        """
        ux, uy = math.cos(angle), math.sin(angle)
        nx, ny = -uy, ux
        minx, miny, maxx, maxy = poly.bounds
        big = 4 * math.sqrt((maxx - minx) ** 2 + (maxy - miny) ** 2) + 10
        mx, my = (minx + maxx) / 2, (miny + maxy) / 2
        m = mx * nx + my * ny  # the dot product in plain arithmetic: BLAS kernels differ in the last bit
        cx, cy = t * ux + m * nx, t * uy + m * ny  # on the cut line, level with the polygon
        ends = _snap([[cx - nx * big, cy - ny * big], [cx + nx * big, cy + ny * big]])
        back = _snap(ends - 2 * big * np.array([ux, uy]))
        half = Polygon([ends[1], back[1], back[0], ends[0]])
        lo, hi = poly.intersection(half), poly.difference(half)
        line = LineString(ends).intersection(poly)
        if not line.is_empty:
            self.cuts.append((line, cls, self.road_name(cls)))
        return lo, hi

    @staticmethod
    def extent(poly, angle: float) -> tuple[float, float]:
        """Min and max of the projection of poly's vertices on the axis at `angle`."""
        xy = shapely.get_coordinates(poly)
        s = _along(xy[:, 0], xy[:, 1], angle)
        return float(s.min()), float(s.max())


def _along(x: np.ndarray, y: np.ndarray, angle: float) -> np.ndarray:
    """Projection of points on the axis at `angle`, in plain arithmetic (BLAS kernels round differently)."""
    return x * math.cos(angle) + y * math.sin(angle)


def _pieces(geom) -> list[Polygon]:
    """The non-empty polygons of a (multi)polygon or collection."""
    return [p for p in shapely.get_parts(geom) if isinstance(p, Polygon) and p.area > 1.0]


def _partition(poly, parts: int, cutter: _Cutter, samples: _Samples, cls: str) -> list:
    """Cut poly into `parts` pieces of about equal expected grid count by `cls` roads."""
    if parts <= 1:
        return [poly]
    rng = cutter.rng
    k1 = parts // 2
    idx = samples.inside(poly)
    base = cutter.long_axis(poly)
    for attempt in range(6):
        angle = base + rng.normal(0, math.radians(8)) + (math.pi / 2 if attempt % 2 else 0)
        lo_s, hi_s = cutter.extent(poly, angle)
        if len(idx) >= 8:
            s = _along(samples.x[idx], samples.y[idx], angle)
            order = np.argsort(s)
            cum = np.cumsum(samples.w[idx][order])
            j = int(np.searchsorted(cum, cum[-1] * k1 / parts))
            t = float(s[order][min(j, len(order) - 1)])
        else:
            t = lo_s + (hi_s - lo_s) * k1 / parts
        t = min(max(t, lo_s + 0.1 * (hi_s - lo_s)), hi_s - 0.1 * (hi_s - lo_s))
        n_before = len(cutter.cuts)
        lo, hi = cutter.cut(poly, angle, t, cls)
        lo, hi = _dominant(lo), _dominant(hi)
        if not lo.is_empty and not hi.is_empty:
            return _partition(lo, k1, cutter, samples, cls) + _partition(hi, parts - k1, cutter, samples, cls)
        del cutter.cuts[n_before:]
    return [poly]


def _dominant(geom):
    """A polygon piece; multi-part pieces keep all parts (a street may straddle a bend)."""
    parts = _pieces(geom)
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


_Piece = tuple[Polygon, str | None, float, str]  # a grid to be: shape, special kind or None, target m², zone


def _subdivide(poly, fld: _Field, cutter: _Cutter, special: str | None) -> list[_Piece]:
    """Cut a community into grids by local roads: (piece, special kind or None, target m², zone).

    Every basic grid comes out within _size_bounds of its target by construction: a piece above
    the upper bound is always cut, a cut is taken only if each piece it makes reaches the lower
    bound of its own target, and a piece's target (the field at its representative point) may
    rise at most TARGET_DRIFT above its parent's, so that a piece too big for its target can
    always be cut into two that are big enough for theirs. A piece no cut can split that way
    would be kept whole (never seen: check_invariants would name it).
    """
    rng = cutter.rng
    stack = [(q, math.inf) for q in _pieces(poly)]
    out: list[_Piece] = []
    while stack:
        p, cap = stack.pop()
        target, zone = fld.place(p)
        target = min(target, cap)
        area = p.area
        if special and 2.5 * target <= area <= 8 * target:
            compact = area / shapely.oriented_envelope(p).area
            if compact > 0.6:
                out.append((p, special, target, zone))
                special = None
                continue
        largest = _size_bounds(target)[1]
        least = _size_bounds(target * TARGET_DRIFT)[0]  # the smallest either piece of a cut may be
        # Stop at a random size near the target (grids differ, as real ones do), and always when
        # the piece cannot make two pieces of that size (2 % to spare for placing the cut).
        if area <= min(largest, target * rng.uniform(1.0, 1.45)) or area < 2 * 1.02 * least:
            out.append((p, None, target, zone))
            continue
        pieces = _cut_in_two(p, area, target, least, fld, cutter)
        if pieces:
            stack.extend((q, target * TARGET_DRIFT) for q in pieces)
        else:
            out.append((p, None, target, zone))
    return out


def _size_bounds(target: float) -> tuple[float, float]:
    """The smallest and largest area cutting leaves a basic grid of this target area."""
    return (target / GRID_AREA_TOLERANCE * (1 + GRID_CUT_MARGIN),
            target * GRID_AREA_TOLERANCE * (1 - GRID_CUT_MARGIN))


def _cut_in_two(p, area: float, target: float, least: float, fld: _Field, cutter: _Cutter) -> list[Polygon]:
    """Pieces of one local road across p, each reaching the lower bound of its own target; [] if none found."""
    rng = cutter.rng
    angle0 = cutter.long_axis(p)
    # Split by the number of grids p will make, as _partition does (k // 2 of them on one side), so
    # the grids come out near the target rather than halves of halves; the line wanders a little.
    k = max(2, round(area / target))
    share = min(0.5, 1.02 * least / area)  # the least share of p's area either side may get
    for attempt in range(8):
        # Across the long axis first; after four misses, along it too.
        angle = angle0 + rng.normal(0, math.radians(10)) + (math.pi / 2 if attempt >= 4 and attempt % 2 else 0)
        want = min(max((k // 2) / k * rng.uniform(0.85, 1.15), share), 1 - share)
        lo_s, hi_s = cutter.extent(p, angle)
        t = lo_s + (hi_s - lo_s) * want
        for _newton in range(3):
            n_before = len(cutter.cuts)
            low, high = cutter.cut(p, angle, t, "local")
            pieces = _pieces(low) + _pieces(high)
            if len(pieces) >= 2 and all(
                    q.area >= _size_bounds(min(fld.place(q)[0], target * TARGET_DRIFT))[0] for q in pieces):
                return pieces
            chord = cutter.cuts[-1][0].length if len(cutter.cuts) > n_before else 0.0
            del cutter.cuts[n_before:]
            if chord <= 0:
                break
            # The low side grows by about the chord's length per metre the line moves (Newton).
            t = min(max(t + (want * area - low.area) / chord, lo_s), hi_s)
    return []


# -- the outline -----------------------------------------------------------------------------
def _outline(rng: np.random.Generator, radius: float, grid: float = NODING_GRID_M) -> tuple[Polygon, LineString]:
    """An irregular district outline with a bay in the south, and the river into the bay.

    Drawn with math.cos/sin on scalars (NumPy's array kernels may differ in the last bit between
    CPUs) and snapped to `grid` (1 cm; the sizing probe draws a unit outline with a finer grid).
    """
    th = [2 * math.pi * i / 180 for i in range(180)]
    r = [1.0] * len(th)
    for k, amp in ((2, 0.08), (3, 0.06), (5, 0.035), (7, 0.02)):
        phase = float(rng.uniform(0, 2 * np.pi))
        r = [ri + amp * math.cos(k * a + phase) for ri, a in zip(r, th, strict=True)]
    blob = Polygon([(1.15 * ri * math.cos(a) * radius, ri * math.sin(a) * radius)
                    for ri, a in zip(r, th, strict=True)])
    bay_c = (0.1 + rng.uniform(-0.1, 0.1), -1.08)
    bay = shapely.Polygon([((bay_c[0] + 0.38 * math.cos(a)) * radius, (bay_c[1] + 0.38 * math.sin(a)) * radius)
                           for a in (2 * math.pi * i / 64 for i in range(64))])
    outline = _on_grid(shapely.difference(blob, bay), grid)
    # The river enters from the north-west and meanders south-east into the bay.
    x0, y0 = -0.75, 1.4
    x1, y1 = bay_c[0], bay_c[1] + 0.2
    nx, ny = -(y1 - y0), (x1 - x0)
    norm = math.sqrt(nx * nx + ny * ny)
    phase = float(rng.uniform(0, 2 * np.pi))
    pts = []
    for i in range(60):
        s = i / 59
        wig = 0.07 * math.sin(s * math.pi * 5 + phase) * math.sin(s * math.pi)
        pts.append(((x0 + (x1 - x0) * s + wig * nx / norm) * radius,
                    (y0 + (y1 - y0) * s + wig * ny / norm) * radius))
    river = _on_grid(LineString(pts), grid)
    return outline, river


# -- generation ------------------------------------------------------------------------------
def read_categories(path: Path = CATEGORIES_CSV) -> list[dict]:
    """The category table as rows (code, name, major_code, major_name, kind, urgent)."""
    import csv

    with path.open(encoding="utf-8") as f:
        return [dict(r, urgent=str(r.get("urgent", "")).lower() in ("true", "t", "1")) for r in csv.DictReader(f)]


def generate(scale: str | Scale = "demo", seed: int = 1, as_of: dt.datetime | None = None,
             categories: list[dict] | None = None) -> DemoDistrict:
    """Draw the district deterministically from (scale, seed, as_of) — nothing is random beyond them."""
    sc = SCALES[scale] if isinstance(scale, str) else scale
    if as_of is None:
        as_of = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    as_of = as_of.astimezone(dt.UTC)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence([seed, 20261126]).spawn(6)]
    geo_rng, bld_rng, evt_rng, cad_rng, name_rng, _ = streams
    pool = nm.NamePool(name_rng)

    # Size the outline so the expected number of grids matches the scale.
    unit_outline, _ = _outline(np.random.default_rng(seed), 1.0, grid=1e-6)
    probe = _Field(1.0, (-0.15, 0.12), sc)
    unit_samples = _Samples(unit_outline, probe, 0.01)
    expected_per_r2 = float((unit_samples.w).sum())
    # Whole metres: everything below is drawn from the radius, so it must not carry last bits.
    radius = float(round(math.sqrt(sc.grids / (expected_per_r2 * LEAVES_PER_EXPECTED_GRID))))
    outline, river = _outline(np.random.default_rng(seed), radius)
    fld = _Field(radius, (-0.15 * radius, 0.12 * radius), sc)
    samples = _Samples(outline, fld, radius / 160)

    cutter = _Cutter(geo_rng, pool)
    halves = _pieces(_on_grid(split(outline, river)))
    river_in = river.intersection(outline)
    cutter.cuts.append((river_in, "river", "幸福河"))

    # Streets: share them between the river's banks by weight, then cut each bank.
    weights = np.array([samples.weight(h) for h in halves])
    alloc = np.maximum(1, _largest_remainder(weights, sc.streets))
    street_polys = []
    for half, k in zip(halves, alloc, strict=True):
        if k:
            street_polys += _partition(half, int(k), cutter, samples, "arterial")
    street_polys = [p for p in street_polys if not p.is_empty]

    # Communities: each street gets its share of the wanted count.
    sw = np.array([samples.weight(p) for p in street_polys])
    calloc = np.maximum(1, _largest_remainder(sw, sc.communities))
    comm_polys: list[tuple[int, object]] = []
    for si, (sp, k) in enumerate(zip(street_polys, calloc, strict=True)):
        for cp in _partition(sp, int(k), cutter, samples, "secondary"):
            comm_polys.append((si, cp))

    # Grids: cut every community down to the local grid size; some get a special grid.
    leaves: list[tuple[Polygon, int, str | None, float, str]] = []
    for ci, (_si, cp) in enumerate(comm_polys):
        rp = cp.representative_point()
        zone = fld.zone(rp.x, rp.y)
        special = None
        if geo_rng.random() < 0.22:
            pick = ["school", "hospital", "market"] if zone != "suburb" else ["park", "industrial", "school", "park"]
            special = str(geo_rng.choice(pick))
        for p, kind, target, zone in _subdivide(cp, fld, cutter, special):
            leaves.append((p, ci, kind, target, zone))

    faces = _node(np.array([leaf[0] for leaf in leaves], dtype=object))

    # Hierarchy and codes.
    areas, grids = _hierarchy(faces, leaves, comm_polys, fld, pool)
    roads = _roads(faces, outline, cutter.cuts)
    to_ll = _plane_to_lonlat()
    # One projection call per layer: PROJ transforms each point on its own, so batching changes
    # no coordinate, only the per-call overhead (seconds on a city).
    for items in (areas, grids, roads):
        projected = shapely.transform(np.array([it.geom_m for it in items], dtype=object), to_ll)
        for it, geom in zip(items, projected, strict=True):
            it.geom = geom if items is roads else _multi(geom)

    buildings = _buildings(grids, roads, bld_rng, pool)
    cats = categories if categories is not None else read_categories()
    events, hotspots = _events(grids, buildings, sc, evt_rng, as_of, cats, to_ll, pool)
    cadres, contracts = _cadres(areas, grids, sc, cad_rng, as_of)
    district = DemoDistrict(sc, seed, as_of, areas, grids, roads, buildings, events, cadres, contracts, hotspots)
    check_invariants(district)
    return district


def _largest_remainder(weights: np.ndarray, total: int) -> np.ndarray:
    share = weights / weights.sum() * total
    out = np.floor(share).astype(int)
    for i in np.argsort(-(share - out))[: total - out.sum()]:
        out[i] += 1
    return out


def _node(polys: np.ndarray) -> np.ndarray:
    """Faces of the noded union of all boundaries, in the order of `polys` (one face each)."""
    lines = shapely.union_all(shapely.boundary(polys), grid_size=NODING_GRID_M)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(lines)))
    pts = shapely.point_on_surface(faces)
    tree = shapely.STRtree(polys)
    face_i, poly_i = tree.query(pts, predicate="within")
    if len(face_i) != len(faces) or len(set(poly_i)) != len(polys):
        raise RuntimeError(f"noding changed the partition: {len(polys)} pieces, {len(faces)} faces")
    out = np.empty(len(polys), dtype=object)
    out[poly_i] = faces[face_i]
    return out


def _hierarchy(faces, leaves, comm_polys, fld: _Field, pool: nm.NamePool):
    """Number streets, communities and grids west→east, north→south and name them."""
    comm_faces: dict[int, list[int]] = {}
    for i, (_p, ci, *_rest) in enumerate(leaves):
        comm_faces.setdefault(ci, []).append(i)
    comm_geom = {ci: shapely.coverage_union_all(faces[idx]) for ci, idx in comm_faces.items()}
    street_comms: dict[int, list[int]] = {}
    for ci, (si, _cp) in enumerate(comm_polys):
        if ci in comm_geom:
            street_comms.setdefault(si, []).append(ci)
    street_geom = {si: shapely.coverage_union_all([comm_geom[c] for c in cs]) for si, cs in street_comms.items()}
    district_geom = shapely.coverage_union_all(list(street_geom.values()))

    areas = [Area("district", DISTRICT_CODE, DISTRICT_NAME, None, district_geom)]
    grids: list[GridRec] = []
    sids = list(street_geom)
    spts = shapely.point_on_surface([street_geom[s] for s in sids])
    srow = math.sqrt(np.median([street_geom[s].area for s in sids]))
    n_jd, n_town = 0, 0
    for s_order in reading_order(shapely.get_x(spts), shapely.get_y(spts), srow):
        si = sids[s_order]
        sp = spts[s_order]
        town = fld.zone(sp.x, sp.y) == "suburb"
        if town:
            scode = f"{DISTRICT_CODE}{100 + n_town:03d}"
            n_town += 1
            sname = pool.word() + nm.TOWN_SUFFIX
        else:
            n_jd += 1
            scode = f"{DISTRICT_CODE}{n_jd:03d}"
            sname = pool.word() + nm.STREET_SUFFIX
        areas.append(Area("street", scode, sname, DISTRICT_CODE, street_geom[si]))
        cids = street_comms[si]
        cpts = shapely.point_on_surface([comm_geom[c] for c in cids])
        crow = math.sqrt(np.median([comm_geom[c].area for c in cids]))
        n_sq, n_cun = 0, 0
        for c_order in reading_order(shapely.get_x(cpts), shapely.get_y(cpts), crow):
            ci = cids[c_order]
            cp = cpts[c_order]
            village = town and fld.rel(cp.x, cp.y) > 0.62
            if village:
                ccode = f"{scode}{200 + n_cun:03d}"
                n_cun += 1
                cname = pool.word() + "村"
            else:
                n_sq += 1
                ccode = f"{scode}{n_sq:03d}"
                cname = pool.word() + "社区"
            areas.append(Area("community", ccode, cname, scode, comm_geom[ci]))
            idx = comm_faces[ci]
            gp = shapely.point_on_surface(faces[idx])
            grow = math.sqrt(np.median(shapely.area(faces[idx])))
            for seq, g_order in enumerate(reading_order(shapely.get_x(gp), shapely.get_y(gp), grow), start=1):
                li = idx[g_order]
                _p, _ci, kind, target, zone = leaves[li]
                if kind:
                    options = nm.SPECIAL_GRIDS[kind]
                    gname = pool.word() + options[len(grids) % len(options)] + "网格"
                    use = kind
                else:
                    gname = f"{cname}第{nm.chinese_number(seq) if seq < 100 else seq}网格"
                    use = zone
                grids.append(GridRec(grid_code(ccode, seq), gname, "special" if kind else "basic", ccode, use,
                                     faces[li], zone=zone, target_m2=target))
    return areas, grids


def _roads(faces, outline, cuts) -> list[Road]:
    """The noded edges with the class and name of the road each follows."""
    lines = shapely.union_all(shapely.boundary(faces), grid_size=NODING_GRID_M)
    edges = shapely.get_parts(lines)
    mids = shapely.line_interpolate_point(edges, 0.5, normalized=True)
    cut_geoms = np.array([c[0] for c in cuts], dtype=object)
    tree = shapely.STRtree(cut_geoms)
    e_i, c_i = tree.query(mids, predicate="dwithin", distance=0.05)
    rank = {c: i for i, c in enumerate(ROAD_CLASSES)}
    best = np.full(len(edges), -1)
    best_rank = np.full(len(edges), -1)
    for e, c in zip(e_i, c_i, strict=True):
        r = rank[cuts[c][1]]
        if r > best_rank[e]:
            best_rank[e], best[e] = r, c
    boundary = outline.boundary
    roads = []
    for e, geom in enumerate(edges):
        if best[e] >= 0:
            _g, cls, name = cuts[best[e]]
        else:
            cls, name = "boundary", "区界路"
            if boundary.distance(mids[e]) > 1.0:
                cls, name = "local", "巷道"
        roads.append(Road(name, cls, ROAD_WIDTH_M[cls], geom))
    return roads


# -- buildings -------------------------------------------------------------------------------
# Per land use: footprint width/depth ranges (m), lattice pitch along/across (m), share of
# lattice places left empty, floors range, m² of floor per household (0: nobody lives there).
USES = {
    "old": dict(w=(10, 12.5), h=(10, 11.5), pitch=(13.5, 12.8), drop=0.08, floors=(2, 7), flat=55),
    "urban_estate": dict(w=(18, 30), h=(15, 22), pitch=(36, 33), drop=0.1, floors=(12, 33), flat=90),
    "urban_mixed": dict(w=(12, 28), h=(12, 20), pitch=(30, 25), drop=0.15, floors=(4, 18), flat=70),
    "commercial": dict(w=(20, 50), h=(18, 40), pitch=(55, 45), drop=0.15, floors=(3, 25), flat=0),
    "village": dict(w=(10, 13), h=(10, 12), pitch=(14.5, 13.5), drop=0.1, floors=(3, 7), flat=45),
    "suburb_estate": dict(w=(40, 62), h=(12, 15), pitch=(66, 36), drop=0.08, floors=(6, 18), flat=95),
    "industrial": dict(w=(30, 80), h=(20, 60), pitch=(80, 64), drop=0.15, floors=(1, 4), flat=0),
    "farmland": dict(w=(10, 14), h=(10, 12), pitch=(45, 45), drop=0.6, floors=(2, 4), flat=50),
    "school": dict(w=(45, 70), h=(14, 18), pitch=(85, 50), drop=0.45, floors=(3, 6), flat=0),
    "hospital": dict(w=(30, 70), h=(20, 40), pitch=(80, 60), drop=0.3, floors=(5, 16), flat=0),
    "market": dict(w=(40, 80), h=(30, 60), pitch=(90, 70), drop=0.2, floors=(1, 3), flat=0),
    "park": dict(w=(10, 16), h=(10, 14), pitch=(110, 110), drop=0.75, floors=(1, 2), flat=0),
}
ZONE_USES = {
    "old": (("old", 1.0),),
    "urban": (("urban_estate", 0.3), ("urban_mixed", 0.35), ("old", 0.22), ("commercial", 0.13)),
    "suburb": (("village", 0.5), ("suburb_estate", 0.22), ("industrial", 0.16), ("farmland", 0.12)),
}


def _land_use(grid: GridRec, rng: np.random.Generator) -> str:
    if grid.kind == "special":
        return grid.use
    options = ZONE_USES[grid.use]
    names_, p = zip(*options, strict=True)
    return str(rng.choice(names_, p=np.array(p) / sum(p)))


def _buildings(grids: list[GridRec], roads: list[Road], rng: np.random.Generator, pool: nm.NamePool) -> Buildings:
    """Footprints inside each grid, clear of every road, aligned with the grid's long axis."""
    cols: dict[str, list] = {k: [] for k in ("cx", "cy", "w", "h", "theta", "cos", "sin", "floors", "hh", "pop",
                                             "grid")}
    naming: dict[int, str | None] = {}  # grid index → estate name of its homes (None: numbered 号楼)
    for gi, g in enumerate(grids):
        use = _land_use(g, rng)
        g.use = use
        spec = USES[use]
        theta = _Cutter.long_axis(g.geom_m) + rng.normal(0, math.radians(3))
        origin = g.geom_m.centroid
        # The lattice fills the grid; _clear_of_roads then drops what comes too close to a road.
        rot = rotate(g.geom_m, -theta, origin=origin, use_radians=True)
        shapely.prepare(rot)
        px, py = spec["pitch"]
        minx, miny, maxx, maxy = rot.bounds
        xs = np.arange(minx - rng.uniform(0, px), maxx + px, px)
        ys = np.arange(miny - rng.uniform(0, py), maxy + py, py)
        gx, gy = np.meshgrid(xs, ys)
        gx, gy = gx.ravel(), gy.ravel()
        n = len(gx)
        w = np.minimum(rng.uniform(*spec["w"], n), max(10.0, px - BUILDING_GAP_M * 1.5))
        h = np.minimum(rng.uniform(*spec["h"], n), max(10.0, py - BUILDING_GAP_M * 1.5))
        w, h = np.clip(w, 10, 80), np.clip(h, 10, 80)
        sx = np.maximum(px - w - BUILDING_GAP_M, 0) / 2
        sy = np.maximum(py - h - BUILDING_GAP_M, 0) / 2
        gx = gx + rng.uniform(-1, 1, n) * sx
        gy = gy + rng.uniform(-1, 1, n) * sy
        boxes = shapely.box(gx - w / 2, gy - h / 2, gx + w / 2, gy + h / 2)
        keep = shapely.contains(rot, boxes) & (rng.random(n) >= spec["drop"])
        if not keep.any():
            continue
        gx, gy, w, h = gx[keep], gy[keep], w[keep], h[keep]
        if min(px, py) < 10 + BUILDING_GAP_M:
            # Tight lattices (village, city density): drop any box overlapping a neighbour.
            gx, gy, w, h = _without_overlaps(gx, gy, w, h)
        k = len(gx)
        c, s = math.cos(theta), math.sin(theta)
        dx, dy = gx - origin.x, gy - origin.y
        cols["cx"].append(origin.x + dx * c - dy * s)
        cols["cy"].append(origin.y + dx * s + dy * c)
        cols["w"].append(w)
        cols["h"].append(h)
        cols["theta"].append(np.full(k, theta))
        cols["cos"].append(np.full(k, c))
        cols["sin"].append(np.full(k, s))
        lo, hi = spec["floors"]
        floors = rng.integers(lo, hi + 1, k)
        if spec["flat"]:
            per_floor = np.maximum(1, np.floor(w * h * 0.8 / spec["flat"]))
            hh = (per_floor * floors).astype(int)
            pop = np.round(hh * rng.uniform(2.0, 3.2, k)).astype(int)
        else:
            hh = np.zeros(k, dtype=int)
            pop = np.zeros(k, dtype=int)
        cols["floors"].append(floors)
        cols["hh"].append(hh)
        cols["pop"].append(pop)
        cols["grid"].append(np.full(k, gi))
        estate = pool.any() + str(rng.choice(nm.ESTATE_SUFFIXES))
        naming[gi] = estate if spec["flat"] else None

    def cat(key, dtype=float):
        return np.concatenate(cols[key]).astype(dtype) if cols[key] else np.zeros(0, dtype=dtype)

    drawn = Buildings(cat("cx"), cat("cy"), cat("w"), cat("h"), cat("theta"), cat("cos"), cat("sin"),
                      cat("floors", int), cat("hh", int), cat("pop", int), cat("grid", int), [], [])
    b = drawn.subset(_clear_of_roads(drawn, roads))
    # Numbered after the clearance check, so each grid's buildings run 00001, 00002, … without
    # gaps (they come grid by grid, in the order of the grids).
    counts = np.bincount(b.grid, minlength=len(grids))
    for gi in np.flatnonzero(counts).tolist():
        g, estate = grids[gi], naming[gi]
        stem = g.name.removesuffix("网格")
        for j in range(1, int(counts[gi]) + 1):
            b.code.append(building_code(g.code, j))
            b.name.append(f"{estate}{j}栋" if estate else f"{stem}{j}号楼")
    return b


def _clear_of_roads(b: Buildings, roads: list[Road]) -> np.ndarray:
    """Which footprints, as stored (corners snapped to 1 cm), keep BUILDING_GAP_M from every road corridor.

    Every road counts, not only the grid's own edges: a wide road that ends a few metres beyond
    a grid's corner still takes a bite out of it. Footprints of one grid keep BUILDING_GAP_M from
    each other by the lattice's pitch, and from another grid's by the road between them.
    """
    corridors = shapely.buffer(np.array([r.geom_m for r in roads], dtype=object),
                               np.array([r.width_m for r in roads]) / 2 + BUILDING_GAP_M, quad_segs=4)
    keep = np.ones(len(b), dtype=bool)
    # Each corridor asks the footprints' tree: 30 times fewer geometries to prepare than the other way.
    _, hit = shapely.STRtree(_polygons(b.corners_m())).query(corridors, predicate="intersects")
    keep[hit] = False
    return keep


def _without_overlaps(gx, gy, w, h):
    boxes = shapely.box(gx - w / 2, gy - h / 2, gx + w / 2, gy + h / 2)
    tree = shapely.STRtree(boxes)
    a, b = tree.query(boxes, predicate="intersects")
    clash = a < b
    drop = np.zeros(len(gx), dtype=bool)
    for i, j in zip(a[clash], b[clash], strict=True):
        if not drop[i]:
            drop[j] = True
    keep = ~drop
    return gx[keep], gy[keep], w[keep], h[keep]


# -- events ----------------------------------------------------------------------------------
# How often each major class is reported (share of all cases), before the hotspots.
MAJOR_MIX = {
    ("event", "市容环境"): 22, ("event", "街面秩序"): 20, ("event", "宣传广告"): 8, ("event", "施工管理"): 6,
    ("event", "突发事件"): 2, ("event", "其他"): 2, ("event", "矛盾纠纷"): 10, ("event", "安全隐患"): 9,
    ("event", "公共服务"): 11, ("component", "公用设施"): 3, ("component", "道路交通"): 3,
    ("component", "市容环境"): 1.5, ("component", "园林绿化"): 1.5, ("component", "房屋土地"): 0.5,
    ("component", "其他"): 0.5,
}
# Hotspots: what kind of place, which categories (by name) dominate there, when it is busy.
THEMES = {
    "market": (("无照经营游商", "店外经营", "暴露垃圾", "非机动车乱停放", "占道废品收购"), "day", "农贸市场"),
    "construction": (("施工扰民", "工地扬尘", "无证掘路", "积存垃圾渣土"), "day", "建设工地"),
    "old_compound": (("邻里纠纷", "物业纠纷", "消防安全隐患", "电动车违规充电", "高空坠物隐患", "环境卫生诉求"),
                     "evening", "老旧小区"),
    "school_gate": (("机动车乱停放", "非机动车乱停放", "交通信号灯", "无照经营游商"), "school", "校门口"),
    "night_market": (("店外经营", "暴露垃圾", "道路不洁", "施工扰民"), "night", "夜市街"),
    "village": (("电动车违规充电", "消防安全隐患", "乱堆物堆料", "土地纠纷", "违规张贴悬挂广告"), "evening", "城中村"),
}
THEME_SHARES = {"market": 0.2, "construction": 0.15, "old_compound": 0.2, "school_gate": 0.1,
                "night_market": 0.15, "village": 0.2}
USE_THEMES = {
    "old": ("old_compound", "night_market", "market"), "urban_estate": ("old_compound",),
    "urban_mixed": ("night_market", "old_compound"), "commercial": ("night_market", "market"),
    "village": ("village",), "suburb_estate": ("construction",), "industrial": ("construction",),
    "farmland": ("construction",), "school": ("school_gate",), "market": ("market",),
    "hospital": ("market",), "park": ("night_market",),
}
HOURS = {
    "day": np.array([0, 0, 0, 0, 0, 1, 2, 5, 9, 10, 10, 9, 7, 7, 8, 9, 9, 8, 6, 4, 3, 2, 1, 0], float),
    "evening": np.array([1, 0, 0, 0, 0, 1, 2, 4, 6, 7, 7, 6, 5, 5, 6, 6, 7, 8, 9, 10, 9, 7, 4, 2], float),
    "school": np.array([0, 0, 0, 0, 0, 1, 3, 12, 6, 2, 2, 5, 6, 3, 2, 3, 10, 12, 4, 1, 1, 0, 0, 0], float),
    "night": np.array([3, 2, 1, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 3, 5, 9, 12, 13, 12, 9, 6], float),
}
DESCRIPTIONS = {
    "矛盾纠纷": "群众反映{t}，当事双方情绪激动，请网格员尽快上门调解。",
    "安全隐患": "巡查发现{t}，存在安全风险，请尽快核实并督促整改。",
    "公共服务": "居民来电求助：{t}，请社区跟进办理并回复。",
    "突发事件": "紧急：{t}，已影响通行，请立即派员处置。",
}


def _category_weights(cats: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    codes = np.array([c["code"] for c in cats])
    weights = np.zeros(len(cats))
    by_major: dict[tuple, list[int]] = {}
    for i, c in enumerate(cats):
        by_major.setdefault((c.get("kind", "event"), c.get("major_name", "")), []).append(i)
    for key, idx in by_major.items():
        share = MAJOR_MIX.get(key, 1.0)
        decay = np.array([0.7 ** k for k in range(len(idx))])  # scalar pow, not NumPy's SIMD kernels
        weights[idx] = share * decay / decay.sum()
    return codes, weights / weights.sum()


def _hotspot_place(theme: str, grid: GridRec, building_name: str, pool: nm.NamePool) -> str:
    """What people call the place of a hotspot, e.g. 锦湖农贸市场, 东港村, 丽景花园."""
    community = grid.name.split("第")[0] if "第" in grid.name else grid.name.removesuffix("网格")
    if theme == "old_compound":
        return building_name.rstrip("0123456789栋号楼")
    if theme == "village":
        return community if community.endswith("村") else community + "城中村"
    if theme == "school_gate":
        return pool.any() + "小学校门口"
    if theme == "construction":
        return pool.any() + "项目"
    return pool.any() + THEMES[theme][2]


def _events(grids, b: Buildings, sc: Scale, rng, as_of: dt.datetime, cats: list[dict], to_ll,
            pool: nm.NamePool):
    """Events over the last 90 days: hotspots plus background near homes."""
    cats = [c for c in cats if str(c.get("active", "true")).lower() not in ("false", "f", "0")]
    codes, weights = _category_weights(cats)
    by_name = {c["name"]: c["code"] for c in cats}
    cat_name = {c["code"]: c["name"] for c in cats}
    cat_major = {c["code"]: c.get("major_name", "") for c in cats}
    urgent = {c["code"]: bool(c.get("urgent")) for c in cats}
    n = sc.events
    # Days are the district's days: day 0 starts at local midnight DAYS - 1 days before today, so a
    # market's morning and a night market's evening fall at those local hours (times stay UTC here).
    tz = clock.zone(clock.DEFAULT_ZONE)
    first_day = as_of.astimezone(tz).date() - dt.timedelta(days=DAYS - 1)
    start = np.datetime64(clock.midnight(first_day, tz).astimezone(dt.UTC).replace(tzinfo=None), "s")

    # Hotspots: first the kind of place (a fixed mix), then a building on land of a fitting use.
    n_hot = max(6, len(grids) // 25)
    use_of = np.array([g.use for g in grids])[b.grid]
    themes, shares = zip(*THEME_SHARES.items(), strict=True)
    hotspots = []
    taken: set[int] = set()
    fitting: dict[str, np.ndarray] = {}  # theme → buildings on land of a fitting use, found once
    for rank in range(n_hot):
        theme = str(rng.choice(themes, p=np.array(shares) / sum(shares)))
        if theme not in fitting:
            uses = [u for u, ts in USE_THEMES.items() if theme in ts]
            found = np.flatnonzero(np.isin(use_of, uses))
            fitting[theme] = found if len(found) else np.arange(len(b))
        cand = fitting[theme]
        bi = int(cand[rng.integers(0, len(cand))])
        if bi in taken:
            continue
        taken.add(bi)
        g = grids[b.grid[bi]]
        first = int(rng.integers(0, 70))
        hotspots.append(dict(building=int(bi), theme=theme, sigma=float(rng.uniform(25, 90)),
                             intensity=1.0 / (rank + 1) ** 0.7, first_day=first,
                             last_day=int(min(DAYS, first + rng.integers(20, 91))),
                             place=_hotspot_place(theme, g, b.name[bi], pool)))
    is_hot = rng.random(n) < 0.5
    hot_idx = np.full(n, -1)
    inten = np.array([h["intensity"] for h in hotspots])
    hot_idx[is_hot] = rng.choice(len(hotspots), int(is_hot.sum()), p=inten / inten.sum())

    # Positions: around the hotspot, or near a home (weighted by residents).
    x = np.empty(n)
    y = np.empty(n)
    hs = hot_idx[is_hot]
    hb_arr = np.array([h["building"] for h in hotspots])
    sig = np.array([h["sigma"] for h in hotspots])
    x[is_hot] = b.cx[hb_arr[hs]] + rng.normal(0, 1, len(hs)) * sig[hs]
    y[is_hot] = b.cy[hb_arr[hs]] + rng.normal(0, 1, len(hs)) * sig[hs]
    bg = ~is_hot
    pw = (b.population + 15).astype(float)
    home = rng.choice(len(b), int(bg.sum()), p=pw / pw.sum())
    x[bg] = b.cx[home] + rng.normal(0, 14, len(home))
    y[bg] = b.cy[home] + rng.normal(0, 14, len(home))
    source = np.empty(n, dtype=int)  # the building each event was drawn around
    source[is_hot], source[bg] = hb_arr[hs], home
    x, y = _inside_grids(x, y, b.cx[source], b.cy[source], b.grid[source], grids)
    lonlat = to_ll(np.column_stack([x, y]))

    # Categories: the theme's own most of the time at a hotspot, else the district mix.
    cat = rng.choice(codes, n, p=weights)
    for h_i, h in enumerate(hotspots):
        own = [by_name[nm_] for nm_ in THEMES[h["theme"]][0] if nm_ in by_name]
        sel = np.flatnonzero((hot_idx == h_i) & (rng.random(n) < 0.75))
        if own and len(sel):
            cat[sel] = rng.choice(own, len(sel))

    # Times: recent days a little busier, weekends quieter, hours by the place's rhythm.
    weekday = (first_day.weekday() + np.arange(DAYS)) % 7  # 0 = Monday, of the local day
    per_day = (1 + 0.4 * np.arange(DAYS) / (DAYS - 1)) * np.where(weekday >= 5, 0.75, 1.0)
    day = rng.choice(DAYS, n, p=per_day / per_day.sum())
    for h_i, h in enumerate(hotspots):
        sel = hot_idx == h_i
        day[sel] = rng.integers(h["first_day"], max(h["first_day"] + 1, h["last_day"]), int(sel.sum()))
    rhythm = np.array(["day"] * n, dtype=object)
    for h_i, h in enumerate(hotspots):
        rhythm[hot_idx == h_i] = THEMES[h["theme"]][1]
    hour = np.empty(n, dtype=int)
    for key, prof in HOURS.items():
        sel = rhythm == key
        hour[sel] = rng.choice(24, int(sel.sum()), p=prof / prof.sum())
    secs = day.astype(np.int64) * 86400 + hour * 3600 + rng.integers(0, 3600, n)
    occurred = start + secs.astype("timedelta64[s]")
    end = np.datetime64(as_of.replace(tzinfo=None), "s")
    # Today's hours still to come happened yesterday at the same hour instead (no pile-up at "now").
    occurred = np.where(occurred > end - np.timedelta64(600, "s"), occurred - np.timedelta64(86400, "s"), occurred)
    occurred = np.minimum(occurred, end - np.timedelta64(600, "s"))
    delay = np.minimum(rng.exponential(25 * 60, n).astype(np.int64) + 60, 6 * 3600)
    reported = np.minimum(occurred + delay.astype("timedelta64[s]"), end)

    # Statuses follow the age of the case; urgent categories close sooner.
    age_days = (end - occurred).astype(np.int64) / 86400
    urg = np.array([urgent.get(c, False) for c in cat])
    age_days = np.where(urg, age_days * 2.5, age_days)
    status = np.empty(n, dtype=object)
    bands = (
        (age_days < 3, (0.2, 0.18, 0.2, 0.2, 0.1, 0.1, 0.02)),
        ((age_days >= 3) & (age_days < 10), (0.02, 0.04, 0.08, 0.12, 0.15, 0.56, 0.03)),
        (age_days >= 10, (0.0, 0.01, 0.01, 0.02, 0.04, 0.88, 0.04)),
    )
    for sel, p in bands:
        status[sel] = rng.choice(DEMO_STATUSES, int(sel.sum()), p=np.array(p) / sum(p))
    work = np.minimum((end - reported).astype(np.int64), (age_days * 0.3 * 86400).astype(np.int64) + 1800)
    updated = reported + np.maximum(work, 0).astype("timedelta64[s]")

    accuracy = np.where(rng.random(n) < 0.6, np.round(rng.uniform(3, 30, n), 1), np.nan)
    spots = [h["place"] + ("附近" if h["theme"] == "old_compound" else "") for h in hotspots]
    place = np.empty(n, dtype=object)
    place[is_hot] = np.array(spots, dtype=object)[hot_idx[is_hot]]
    place[bg] = np.array(b.name, dtype=object)[home] + "附近"
    cname = np.array([cat_name[c] for c in codes], dtype=object)[np.searchsorted(codes, cat)] \
        if np.all(codes[:-1] <= codes[1:]) else np.array([cat_name[c] for c in cat], dtype=object)
    titles = (place + cname).tolist()
    template = {m: DESCRIPTIONS.get(m, "网格员巡查发现：{t}，请相关部门处理。") for m in set(cat_major.values())}
    majors = [cat_major[c] for c in cat]
    descs = [template[m].format(t=t) for m, t in zip(majors, titles, strict=True)]
    # Residents who report disputes, hazards and requests often leave a name and phone.
    resident = np.isin(np.array(majors, dtype=object), ["矛盾纠纷", "公共服务", "安全隐患"]) & (rng.random(n) < 0.45)
    who = nm.person_names(rng, int(resident.sum()))
    phones = nm.phone_numbers(rng, int(resident.sum()))
    honor = rng.choice(["女士", "先生"], int(resident.sum()))
    contacts: list[dict | None] = [None] * n
    for j, i in enumerate(np.flatnonzero(resident)):
        contacts[i] = {"name": who[j][0] + honor[j], "phone": phones[j]}
    events = Events(lonlat[:, 0], lonlat[:, 1], cat, titles, descs, status.astype(str), occurred, reported, updated,
                    accuracy, contacts, hot_idx, source)
    return events, hotspots


def _inside_grids(x: np.ndarray, y: np.ndarray, sx: np.ndarray, sy: np.ndarray, sg: np.ndarray,
                  grids: list[GridRec]) -> tuple[np.ndarray, np.ndarray]:
    """Event positions snapped to 1 cm and at least EVENT_EDGE_MARGIN_M inside a grid.

    (sx, sy) is the centre of the building each event was drawn around and sg that building's
    grid. A position in no grid (it fell in the bay, beyond the outline, or on a grid's edge) is
    pulled halfway back towards its building, again if need be, and at last onto the building's
    centre, which is always well inside its grid.
    """
    inner = shapely.buffer(np.array([g.geom_m for g in grids], dtype=object), -EVENT_EDGE_MARGIN_M)
    x, y = _snap(x), _snap(y)
    # Most stay in their building's grid: test those by grid, the rest against every grid.
    todo = np.flatnonzero(~_contains_by_group(inner, sg, x, y))
    tree = shapely.STRtree(inner)
    for pull in range(EVENT_PULLS + 2):
        inside, _ = tree.query(shapely.points(x[todo], y[todo]), predicate="within")
        todo = np.delete(todo, inside)
        if not len(todo):
            return x, y
        if pull > EVENT_PULLS:
            break
        keep = 0.5 if pull < EVENT_PULLS else 0.0
        x[todo] = _snap(sx[todo] + (x[todo] - sx[todo]) * keep)
        y[todo] = _snap(sy[todo] + (y[todo] - sy[todo]) * keep)
    raise RuntimeError(f"{len(todo)} demo events lie outside every grid even on their building's centre")


def _groups(group: np.ndarray, n: int):
    """(g, indices of the items in group g) for each non-empty group g < n."""
    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(n + 1))
    for g in np.flatnonzero(np.diff(bounds)).tolist():
        yield g, order[bounds[g]:bounds[g + 1]]


def _contains_by_group(polys: np.ndarray, group: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Whether polys[group[i]] contains the point (x[i], y[i]), one prepared polygon at a time."""
    out = np.zeros(len(x), dtype=bool)
    for g, idx in _groups(group, len(polys)):
        shapely.prepare(polys[g])
        out[idx] = shapely.contains_xy(polys[g], x[idx], y[idx])
    return out


# -- cadres and contracts --------------------------------------------------------------------
CADRE_ROLES = {
    "镇街领导": ("包片领导",),
    "三官一律": ("驻村法官", "联系检察官", "社区民警", "法律顾问"),
    "机关干部": ("联系干部",),
    "网格员": ("专职网格员",),
    "下沉力量": ("下沉巡查",),
    "社会力量": ("志愿服务",),
}
CADRE_PREFIX = {"镇街领导": "LD", "三官一律": "SG", "机关干部": "JG", "网格员": "WG", "下沉力量": "XC",
                "社会力量": "SH"}


def _cadres(areas: list[Area], grids: list[GridRec], sc: Scale, rng, as_of: dt.datetime):
    """Cadres of every type and their contracts: most grids held, some by two, a few by nobody."""
    streets = [a for a in areas if a.level == "street"]
    comms = [a for a in areas if a.level == "community"]
    grids_of: dict[str, list[GridRec]] = {}
    for g in grids:
        grids_of.setdefault(g.community_code, []).append(g)
    today = as_of.astimezone(clock.zone(clock.DEFAULT_ZONE)).date()  # the district's today
    cadres: list[dict] = []
    contracts: list[dict] = []
    counters: dict[str, int] = {}

    def new_cadre(ctype: str, street: Area, org: str) -> dict:
        counters[street.code + ctype] = counters.get(street.code + ctype, 0) + 1
        code = f"{CADRE_PREFIX[ctype]}{street.code}{counters[street.code + ctype]:03d}"
        c = dict(code=code, name="", type=ctype, organisation=org, phone="")
        cadres.append(c)
        return c

    def contract(c: dict, codes: list[str], role: str, since_days: int, until: dt.date | None = None):
        start = today - dt.timedelta(days=since_days)
        for code in codes:
            contracts.append(dict(cadre_code=c["code"], grid_code=code, role=role, valid_from=start,
                                  valid_to=until, geom=None))

    # Budget by type, scaled to the wanted total.
    n_workers = max(1, round(len(grids) / sc.grids_per_worker))
    rest = max(0, sc.cadres - n_workers)
    budget = {"镇街领导": max(len(streets), round(rest * 0.22)), "三官一律": round(rest * 0.42),
              "机关干部": round(rest * 0.22), "下沉力量": max(1, round(rest * 0.07)),
              "社会力量": max(1, round(rest * 0.07))}
    street_of = {a.code: a for a in streets}

    # 网格员: each community's grids in code order, in runs; a few posts vacant, a few shared.
    per_comm = _largest_remainder(np.array([len(grids_of.get(c.code, [])) for c in comms], float), n_workers)
    for comm, k in zip(comms, per_comm, strict=True):
        gs = grids_of.get(comm.code, [])
        if not gs:
            continue
        street = street_of[comm.parent_code]
        runs = np.array_split(np.arange(len(gs)), max(1, int(k)))
        last: tuple[dict, list[str]] | None = None
        for run in runs:
            if not len(run):
                continue
            c = new_cadre("网格员", street, f"{comm.name}网格化服务管理站")
            held = [gs[i].code for i in run]
            r = rng.random()
            if r < 0.10 and len(held) > 1:
                held = held[:-1]  # the last grid of the run is vacant
            elif r < 0.14:
                held = []  # the post is vacant: the cadre waits for an assignment
            if rng.random() < 0.06 and held:
                # This post changed hands last month: the old contract ended.
                old = new_cadre("网格员", street, c["organisation"])
                contract(old, held, "专职网格员", int(rng.integers(400, 900)), today - dt.timedelta(days=30))
                contract(c, held, "专职网格员", 30)
            else:
                contract(c, held, "专职网格员", int(rng.integers(60, 900)))
            if last is not None and held and rng.random() < 0.5:
                # The previous worker also covers the first grid of this run (兼职): held twice.
                contract(last[0], held[:1], "兼职网格员", int(rng.integers(10, 200)))
            last = (c, held)

    # 镇街领导: each leader 包片 whole communities of their street; the secretary holds two more.
    by_street = {s.code: [c for c in comms if c.parent_code == s.code] for s in streets}
    per_street = np.maximum(1, _largest_remainder(np.array([len(by_street[s.code]) for s in streets], float),
                                                  budget["镇街领导"]))
    for s, k in zip(streets, per_street, strict=True):
        cs = by_street[s.code]
        leaders = [new_cadre("镇街领导", s, s.name + ("党工委" if s.name.endswith("街道") else "党委"))
                   for _ in range(int(k))]
        covered = cs[: max(1, len(cs) - (1 if len(cs) > 3 else 0))]  # one community waits for a leader
        for j, comm in enumerate(covered):
            contract(leaders[j % len(leaders)], [g.code for g in grids_of.get(comm.code, [])], "包片领导",
                     int(rng.integers(100, 700)))
        if len(cs) > 1 and len(leaders) > 1:
            # The secretary also holds a second community, already held by a colleague.
            contract(leaders[0], [g.code for g in grids_of.get(cs[1].code, [])], "包片领导", 45)

    # 三官一律 and 机关干部: each assigned into one community (进村入网).
    for ctype, orgs in (("三官一律", None), ("机关干部", nm.AGENCIES)):
        for j in range(budget[ctype]):
            comm = comms[int(rng.integers(0, len(comms)))]
            s = street_of[comm.parent_code]
            if ctype == "三官一律":
                role = CADRE_ROLES[ctype][j % 4]
                org = {"驻村法官": f"{DISTRICT_NAME}人民法院", "联系检察官": f"{DISTRICT_NAME}人民检察院",
                       "社区民警": f"{s.name.removesuffix('街道').removesuffix('镇')}派出所",
                       "法律顾问": f"{nm.SURNAMES[j % len(nm.SURNAMES)]}{'信诚和达'[j % 4]}律师事务所"}[role]
            else:
                role, org = "联系干部", orgs[j % len(orgs)]
            c = new_cadre(ctype, s, org)
            contract(c, [g.code for g in grids_of.get(comm.code, [])], role, int(rng.integers(30, 500)))

    # 下沉力量 and 社会力量: drawn patrol / service areas that cut across grids.
    for ctype in ("下沉力量", "社会力量"):
        for j in range(budget[ctype]):
            g = grids[int(rng.integers(0, len(grids)))]
            s = street_of[next(a.parent_code for a in comms if a.code == g.community_code)]
            org = ("区城管执法局" if j % 2 else f"{s.name}综合执法队") if ctype == "下沉力量" else \
                f"{s.name.removesuffix('街道').removesuffix('镇')}{nm.SOCIAL_ORGS[j % len(nm.SOCIAL_ORGS)]}"
            c = new_cadre(ctype, s, org)
            area = g.geom_m.centroid.buffer(float(rng.uniform(250, 600)), quad_segs=8)
            area = area.intersection(shapely.coverage_union_all([a.geom_m for a in areas if a.level == "district"]))
            contracts.append(dict(cadre_code=c["code"], grid_code=None, role=CADRE_ROLES[ctype][0],
                                  valid_from=today - dt.timedelta(days=int(rng.integers(10, 300))), valid_to=None,
                                  geom=_multi(shapely.transform(area, _plane_to_lonlat()))))

    who = nm.person_names(rng, len(cadres))
    phones = nm.phone_numbers(rng, len(cadres))
    for c, name, phone in zip(cadres, who, phones, strict=True):
        c["name"], c["phone"] = name, phone
    assert set(c["type"] for c in cadres) == set(CADRE_TYPES)
    return cadres, contracts


# -- the district's invariants ----------------------------------------------------------------
class InvariantError(RuntimeError):
    """The generated district breaks a rule of the domain (nothing has been written)."""

    def __init__(self, broken: dict[str, list[str]]):
        self.broken = broken
        lines = [f"{rule}: {len(items):,} ({', '.join(items[:5])}{', …' if len(items) > 5 else ''})"
                 for rule, items in broken.items()]
        super().__init__("the demo district breaks its rules:\n  " + "\n  ".join(lines))


def check_invariants(d: DemoDistrict) -> None:
    """Raise InvariantError naming each broken rule and its offenders; checks what would be stored (WGS84)."""
    broken: dict[str, list[str]] = {}

    def rule(name: str, offenders) -> None:
        offenders = [str(o) for o in offenders]
        if offenders:
            broken[name] = offenders

    rule("codes nest (district → street → community → grid → building)", _misnested(d))
    rule("children tile their parent (coverage_is_valid, areas add up)", _untiled(d))
    grids = np.array([g.geom for g in d.grids], dtype=object)
    basic = [g for g in d.grids if g.kind == "basic"]
    area = _geodesic_m2(np.array([g.geom for g in basic], dtype=object))
    rule(f"a basic grid is within ÷/× {GRID_AREA_TOLERANCE} of its place's target area (万米单元网格 in the "
         "old town)", [f"{g.code} {a:,.0f} m² (target {g.target_m2:,.0f})" for g, a in zip(basic, area, strict=True)
                       if not g.target_m2 / GRID_AREA_TOLERANCE <= a <= g.target_m2 * GRID_AREA_TOLERANCE])

    b = d.buildings
    footprints = d.footprints()
    inside = np.zeros(len(b), dtype=bool)
    for gi, of in _groups(b.grid, len(grids)):
        shapely.prepare(grids[gi])
        inside[of] = shapely.contains_properly(grids[gi], footprints[of])
    rule("every building lies inside its grid", np.array(b.code, dtype=object)[~inside])
    corridors = shapely.transform(shapely.buffer(np.array([r.geom_m for r in d.roads], dtype=object),
                                                 np.array([r.width_m for r in d.roads]) / 2), _plane_to_lonlat())
    tree = shapely.STRtree(footprints)
    road, hit = tree.query(corridors, predicate="intersects")
    rule("no building touches a road corridor (half the road's width either side)",
         [f"{b.code[i]} on {d.roads[r].name}" for i, r in zip(hit.tolist(), road.tolist(), strict=True)])
    one, other = tree.query(footprints, predicate="intersects")
    pairs = one < other
    rule("no building touches another", [f"{b.code[i]} and {b.code[j]}" for i, j in
                                         zip(one[pairs].tolist(), other[pairs].tolist(), strict=True)])

    e = d.events
    # First in the grid of the building each was drawn around, the others in any grid.
    covered = _contains_by_group(grids, b.grid[e.building], e.lon, e.lat)
    rest = np.flatnonzero(~covered)
    found, _ = shapely.STRtree(grids).query(shapely.points(e.lon[rest], e.lat[rest]), predicate="within")
    covered[rest[found]] = True
    rule("every event lies inside a grid", [f"event {i} at {e.lon[i]:.7f}, {e.lat[i]:.7f}"
                                            for i in np.flatnonzero(~covered).tolist()])
    if broken:
        raise InvariantError(broken)


def _misnested(d: DemoDistrict) -> list[str]:
    """Codes that do not extend their parent's code, and communities whose grids do not number 1…n."""
    bad = []
    parent = {a.code: a.parent_code for a in d.areas}
    digits = {"district": 6, "street": 9, "community": 12}
    for a in d.areas:
        ok = len(a.code) == digits[a.level] and a.code.isdigit()
        if a.level != "district":
            ok = ok and a.parent_code in parent and a.code[:-3] == a.parent_code
        if not ok:
            bad.append(a.code)
    seqs: dict[str, list[int]] = {}
    for g in d.grids:
        if len(g.code) != 15 or g.code[:12] != g.community_code or parent.get(g.community_code) is None:
            bad.append(g.code)
        seqs.setdefault(g.community_code, []).append(int(g.code[12:]))
    bad += [c for c, s in seqs.items() if sorted(s) != list(range(1, len(s) + 1))]
    grid_code = np.array([g.code for g in d.grids], dtype=object)[d.buildings.grid]
    bad += [c for c, gc in zip(d.buildings.code, grid_code, strict=True) if len(c) != 20 or c[:15] != gc]
    if len(set(d.buildings.code)) != len(d.buildings):
        bad.append("building codes repeat")
    return bad


def _untiled(d: DemoDistrict) -> list[str]:
    """Parents whose children overlap, leave a gap or spill over (stored WGS84 geometries)."""
    bad = []
    geom = {a.code: a.geom for a in d.areas}
    children: dict[str, list] = {}
    for a in d.areas:
        if a.parent_code:
            children.setdefault(a.parent_code, []).append(a.geom)
    for g in d.grids:
        children.setdefault(g.community_code, []).append(g.geom)
    for code, kids in children.items():
        kids = np.array(kids, dtype=object)
        parent = geom[code]
        if not (shapely.is_valid(kids).all() and shapely.coverage_is_valid(kids)) or \
                abs(shapely.area(kids).sum() - parent.area) > 1e-9 * parent.area or \
                shapely.coverage_union_all(kids).symmetric_difference(parent).area > 1e-9 * parent.area:
            bad.append(code)
    return bad


def _geodesic_m2(geoms: np.ndarray) -> np.ndarray:
    """Areas on the WGS84 ellipsoid (what a grid measures on the ground)."""
    from pyproj import Geod  # pyproj loads PROJ's database: only when a district is generated

    geod = Geod(ellps="WGS84")
    return np.array([abs(geod.geometry_area_perimeter(g)[0]) for g in geoms])


# -- loading ---------------------------------------------------------------------------------
DATA_TABLES = ("admin_areas", "grids", "buildings", "events", "cadres", "contracts")


@dataclass
class LoadReport:
    """What `load` wrote and how long each step took."""

    scale: str
    seed: int
    counts: dict[str, int]
    seconds: dict[str, float]

    def summary(self) -> str:
        """One line per table and the times."""
        rows = ", ".join(f"{v:,} {k}" for k, v in self.counts.items())
        secs = ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items())
        return f"{DISTRICT_NAME} ({self.scale}, seed {self.seed}): {rows}\n  {secs}"


def existing_rows(session) -> dict[str, int]:
    """Tables among the district's data tables that already hold rows, with their counts."""
    from sqlalchemy import text

    out = {}
    for table in DATA_TABLES:
        if session.execute(text(f"SELECT EXISTS (SELECT 1 FROM {table})")).scalar():
            out[table] = session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    return out


def load(engine, scale: str = "demo", seed: int = 1, progress: bool = False,
         as_of: dt.datetime | None = None) -> LoadReport:
    """Generate the district and COPY it into an empty database, all in one transaction."""
    from sqlalchemy import text

    from gis.core.db import session_factory
    from gis.core.errors import Conflict, InvalidInput

    if scale not in SCALES:
        raise InvalidInput("Unknown demo scale", f"Scale must be one of: {', '.join(SCALES)}.")
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    with session_factory(engine)() as session:
        present = existing_rows(session)
        if present:
            held = ", ".join(f"{n:,} {t}" for t, n in present.items())
            raise Conflict("The database already holds data",
                           f"It has {held}; the demo loads only into an empty database. Point DATABASE_URL "
                           "at a fresh one, or empty this one with `gridgov db downgrade base && "
                           "gridgov db migrate`.")
        cats = [dict(r._mapping) for r in session.execute(text(
            "SELECT code, name, major_code, major_name, kind, urgent, active FROM categories ORDER BY code"))]
        if not cats:
            raise InvalidInput("No categories", "The categories table is empty; run `gridgov db migrate`.")
        t = time.perf_counter()
        district = generate(scale, seed, as_of, categories=cats)
        seconds["generate"] = time.perf_counter() - t
        if progress:
            print(f"  generated {len(district.grids):,} grids, {len(district.buildings):,} buildings, "
                  f"{len(district.events):,} events in {seconds['generate']:.1f} s", file=_stderr(), flush=True)
        t = time.perf_counter()
        counts = write(session, district, progress=progress)
        session.commit()
        seconds["write"] = time.perf_counter() - t
    t = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in DATA_TABLES:
            conn.execute(text(f"VACUUM (ANALYZE) {table}"))
    seconds["analyze"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - started
    return LoadReport(SCALES[scale].name, seed, counts, seconds)


def _stderr():
    import sys

    return sys.stderr


def write(session, d: DemoDistrict, progress: bool = False) -> dict[str, int]:
    """Write a generated district into the session's (empty) tables; the caller commits."""
    import json

    import pandas as pd
    from sqlalchemy import text

    from data.bulk import (
        Progress,
        copy_columns,
        copy_frame,
        deferred_foreign_keys,
        deferred_indexes,
        enc_bytes,
        enc_fixed,
        enc_points,
        enc_rings,
        enc_text,
        ewkb_hex,
        pg_micros,
    )
    from gis.spatial.assign import insert_assigned
    from gis.spatial.buildings import footprint_grids_sql, refresh_grid_totals

    session.execute(text("SET LOCAL synchronous_commit = off"))
    counts: dict[str, int] = {}
    # Areas, parents first, so each child finds its parent's id by code.
    for a in d.areas:
        session.execute(text("""
            INSERT INTO admin_areas (level, code, name, parent_id, geom)
            VALUES (:level, :code, :name, (SELECT id FROM admin_areas WHERE code = :parent), CAST(:geom AS geometry))
        """), {"level": a.level, "code": a.code, "name": a.name, "parent": a.parent_code,
               "geom": shapely.to_wkb(shapely.set_srid(a.geom, 4326), hex=True, include_srid=True)})
    counts["areas"] = len(d.areas)
    comm_id = dict(session.execute(text("SELECT code, id FROM admin_areas WHERE level = 'community'")).all())

    # Keys go back after the indexes are rebuilt, so their checks can use them.
    with deferred_foreign_keys(session, "buildings"), deferred_foreign_keys(session, "events"):
        with deferred_indexes(session, ["buildings", "events", "contracts"]):
            grids = pd.DataFrame({
                "code": [g.code for g in d.grids], "name": [g.name for g in d.grids],
                "kind": [g.kind for g in d.grids], "community_id": [comm_id[g.community_code] for g in d.grids],
                "geom": ewkb_hex(np.array([g.geom for g in d.grids], dtype=object)),
            })
            bar = Progress("grids", len(grids), progress)
            counts["grids"] = copy_frame(session, "grids", grids, progress=bar)
            bar.close()

            # Buildings go through a staging table, so the grid is derived by the one rule.
            session.execute(text("""
                CREATE TEMP TABLE stage_buildings (id bigint, code text, name text, geom geometry(Polygon, 4326),
                    floors int, households int, population int) ON COMMIT DROP
            """))
            b = d.buildings
            bar = Progress("buildings", len(b), progress)

            def building_chunks(step: int = 100_000):
                for i in range(0, len(b), step):
                    sl = slice(i, i + step)
                    n = len(b.cx[sl])
                    yield [enc_fixed(np.arange(i, i + n), ">i8"), enc_text(b.code[sl]), enc_text(b.name[sl]),
                           enc_rings(d.footprint_rings(sl)), enc_fixed(b.floors[sl], ">i4"),
                           enc_fixed(b.households[sl], ">i4"), enc_fixed(b.population[sl], ">i4")]

            copy_columns(session, "stage_buildings", ["id", "code", "name", "geom", "floors", "households", "population"],
                         building_chunks(), progress=bar)
            session.execute(text("CREATE INDEX ON stage_buildings USING gist (geom)"))
            session.execute(text("ANALYZE stage_buildings"))
            counts["buildings"] = session.execute(text(f"""
                INSERT INTO buildings (code, name, geom, floors, households, population, grid_id)
                SELECT s.code, s.name, ST_Multi(s.geom), s.floors, s.households, s.population, m.grid_id
                FROM stage_buildings s LEFT JOIN ({footprint_grids_sql('stage_buildings')}) m ON m.id = s.id
                ORDER BY s.id
            """)).rowcount
            bar.close()
            refresh_grid_totals(session)

            e = d.events
            bar = Progress("events", len(e), progress)
            event_columns = ["geom", "category", "title", "description", "status", "occurred_at", "reported_at",
                             "updated_at", "source_x", "source_y", "accuracy_m", "contact"]

            def event_chunks(step: int = 100_000):
                for i in range(0, len(e), step):
                    sl = slice(i, i + step)
                    # jsonb's binary form is a version byte (1) and the JSON text.
                    contact = [b"\x01" + json.dumps(c, ensure_ascii=False).encode() if c else None
                               for c in e.contact[sl]]
                    yield [enc_points(e.lon[sl], e.lat[sl]), enc_text(e.category[sl]), enc_text(e.title[sl]),
                           enc_text(e.description[sl]), enc_text(e.status[sl]),
                           enc_fixed(pg_micros(e.occurred_at[sl]), ">i8"), enc_fixed(pg_micros(e.reported_at[sl]), ">i8"),
                           enc_fixed(pg_micros(e.updated_at[sl]), ">i8"), enc_fixed(e.lon[sl], ">f8"),
                           enc_fixed(e.lat[sl], ">f8"), enc_fixed(e.accuracy_m[sl], ">f8", null=np.isnan(e.accuracy_m[sl])),
                           enc_bytes(contact)]

            # Events are staged and assigned there once the indexes are back (gis.spatial.assign.insert_assigned).
            session.execute(text("CREATE TEMP TABLE stage_new_events (LIKE events INCLUDING DEFAULTS) ON COMMIT DROP"))
            counts["events"] = copy_columns(session, "stage_new_events", event_columns, event_chunks(), progress=bar)
            bar.close()

            cadres = pd.DataFrame(d.cadres, columns=["code", "name", "type", "organisation", "phone"])
            counts["cadres"] = copy_frame(session, "cadres", cadres)
            session.execute(text("""
                CREATE TEMP TABLE stage_contracts (cadre_code text, grid_code text, role text, valid_from date,
                    valid_to date, geom geometry(MultiPolygon, 4326)) ON COMMIT DROP
            """))
            contracts = pd.DataFrame(d.contracts, columns=["cadre_code", "grid_code", "role", "valid_from", "valid_to",
                                                           "geom"])
            has_geom = contracts["geom"].notna()
            contracts["geom"] = ""
            if has_geom.any():
                contracts.loc[has_geom, "geom"] = ewkb_hex(np.array([c["geom"] for c in d.contracts
                                                                     if c["geom"] is not None], dtype=object))
            copy_frame(session, "stage_contracts", contracts)
            counts["contracts"] = session.execute(text("""
                INSERT INTO contracts (cadre_id, grid_code, role, valid_from, valid_to, geom)
                SELECT c.id, s.grid_code, s.role, s.valid_from, s.valid_to, s.geom
                FROM stage_contracts s JOIN cadres c ON c.code = s.cadre_code
            """)).rowcount
        # Assign the events once the buildings' and grids' indexes are back (the assignment probes
        # them), then write them with the events' own indexes rebuilt once, and before the keys are
        # back: their checks then run once over the table, not once per row.
        for table in ("grids", "buildings"):
            session.execute(text(f"ANALYZE {table}"))  # fresh rows have no statistics; the joins are sized from them
        with deferred_indexes(session, ["events"]):
            insert_assigned(session, "stage_new_events", event_columns)
    return counts


def load_demo_if_empty(engine, echo: Callable[[str], object] = print, scale: str = "demo") -> LoadReport | None:
    """Load the demo district when the database holds no areas, grids or other data yet."""
    from gis.core.db import session_factory

    with session_factory(engine)() as session:
        present = existing_rows(session)
    if present:
        echo(f"database already holds data ({', '.join(present)}): demo district not loaded")
        return None
    echo(f"loading the demo district {DISTRICT_NAME} ({CITY_NAME}) into the empty database…")
    report = load(engine, scale, seed=1)
    echo(report.summary())
    return report


def attach_demo_worker(session, user_name: str = "worker") -> list[str]:
    """Scope the demo grid worker to one community's grids and link them to its 网格员 cadre.

    The community is that of the first 网格员 (by cadre code) holding a current contract; a
    worker who already has a grid scope keeps it. Returns the worker's grid codes.
    """
    from sqlalchemy import select, text

    from gis.core.models import Cadre, User
    from gis.core.users import set_user_grids, user_grid_codes

    user = session.scalar(select(User).where(User.name == user_name))
    if user is None:
        return []
    current = user_grid_codes(session, user.id)
    if current:
        return current
    row = session.execute(text("""
        SELECT c.id, g.community_id
        FROM cadres c JOIN contracts k ON k.cadre_id = c.id
        JOIN grids g ON g.code = k.grid_code AND g.valid_to IS NULL
        WHERE c.type = '网格员' AND (c.user_id IS NULL OR c.user_id = :uid)
          AND k.valid_from <= CURRENT_DATE AND (k.valid_to IS NULL OR k.valid_to > CURRENT_DATE)
        ORDER BY c.code, g.code LIMIT 1
    """), {"uid": user.id}).first()
    if row is None:
        return []
    cadre_id, community_id = row
    codes = list(session.scalars(text(
        "SELECT code FROM grids WHERE community_id = :c AND valid_to IS NULL ORDER BY code"), {"c": community_id}))
    set_user_grids(session, user, codes)
    if session.scalar(select(Cadre.id).where(Cadre.user_id == user.id)) is None:
        session.get(Cadre, cadre_id).user_id = user.id
    return codes
