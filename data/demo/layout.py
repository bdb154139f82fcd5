"""The district's layout: its outline and river, the density field of grid sizes, and cutting by roads
into streets, communities and grids."""
from __future__ import annotations

import math

import numpy as np
import shapely
from shapely import LineString, MultiPolygon, Polygon

from data import names as nm
from data.demo.plane import NODING_GRID_M, on_grid, snap
from data.demo.records import Scale

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


# -- the density field -----------------------------------------------------------------------
class DensityField:
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


class Samples:
    """Weighted sample points: weight(poly) ≈ the number of grids a polygon will hold."""

    def __init__(self, outline: Polygon, fld: DensityField, spacing: float):
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
class Cutter:
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
        centimetre coordinates. They are not snapped themselves (see on_grid).
        """
        ux, uy = math.cos(angle), math.sin(angle)
        nx, ny = -uy, ux
        minx, miny, maxx, maxy = poly.bounds
        big = 4 * math.sqrt((maxx - minx) ** 2 + (maxy - miny) ** 2) + 10
        mx, my = (minx + maxx) / 2, (miny + maxy) / 2
        m = mx * nx + my * ny  # the dot product in plain arithmetic: BLAS kernels differ in the last bit
        cx, cy = t * ux + m * nx, t * uy + m * ny  # on the cut line, level with the polygon
        ends = snap([[cx - nx * big, cy - ny * big], [cx + nx * big, cy + ny * big]])
        back = snap(ends - 2 * big * np.array([ux, uy]))
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


def polygon_parts(geom) -> list[Polygon]:
    """The non-empty polygons of a (multi)polygon or collection."""
    return [p for p in shapely.get_parts(geom) if isinstance(p, Polygon) and p.area > 1.0]


def partition(poly, parts: int, cutter: Cutter, samples: Samples, cls: str) -> list:
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
            return partition(lo, k1, cutter, samples, cls) + partition(hi, parts - k1, cutter, samples, cls)
        del cutter.cuts[n_before:]
    return [poly]


def _dominant(geom):
    """A polygon piece; multi-part pieces keep all parts (a street may straddle a bend)."""
    parts = polygon_parts(geom)
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


_Piece = tuple[Polygon, str | None, float, str]  # a grid to be: shape, special kind or None, target m², zone


def subdivide(poly, fld: DensityField, cutter: Cutter, special: str | None) -> list[_Piece]:
    """Cut a community into grids by local roads: (piece, special kind or None, target m², zone).

    Every basic grid comes out within _size_bounds of its target by construction: a piece above
    the upper bound is always cut, a cut is taken only if each piece it makes reaches the lower
    bound of its own target, and a piece's target (the field at its representative point) may
    rise at most TARGET_DRIFT above its parent's, so that a piece too big for its target can
    always be cut into two that are big enough for theirs. A piece no cut can split that way
    would be kept whole (never seen: check_invariants would name it).
    """
    rng = cutter.rng
    stack = [(q, math.inf) for q in polygon_parts(poly)]
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


def _cut_in_two(p, area: float, target: float, least: float, fld: DensityField, cutter: Cutter) -> list[Polygon]:
    """Pieces of one local road across p, each reaching the lower bound of its own target; [] if none found."""
    rng = cutter.rng
    angle0 = cutter.long_axis(p)
    # Split by the number of grids p will make, as partition does (k // 2 of them on one side), so
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
            pieces = polygon_parts(low) + polygon_parts(high)
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
def draw_outline(rng: np.random.Generator, radius: float, grid: float = NODING_GRID_M) -> tuple[Polygon, LineString]:
    """An irregular district outline with a bay in the south, and the river into the bay."""
    outline, river, _bay = draw_shores(rng, radius, grid)
    return outline, river


def draw_shores(rng: np.random.Generator, radius: float, grid: float = NODING_GRID_M
                ) -> tuple[Polygon, LineString, Polygon]:
    """The district outline, the river and the bay (the sea the basemap draws).

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
    outline = on_grid(shapely.difference(blob, bay), grid)
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
    river = on_grid(LineString(pts), grid)
    return outline, river, on_grid(bay, grid)


def largest_remainder(weights: np.ndarray, total: int) -> np.ndarray:
    """Whole shares of `total` in proportion to `weights` (largest remainders round up)."""
    share = weights / weights.sum() * total
    out = np.floor(share).astype(int)
    for i in np.argsort(-(share - out))[: total - out.sum()]:
        out[i] += 1
    return out
