"""Buildings: footprints on a lattice along each grid's long axis, by land use, clear of every road."""
from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.affinity import rotate

from data import names as nm
from data.demo.layout import Cutter
from data.demo.plane import polygons
from data.demo.records import Buildings, GridRec, Road
from gis.spatial.codes import building_code

BUILDING_GAP_M = 2.0  # kept between a building and the edge of a road


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


def draw_buildings(grids: list[GridRec], roads: list[Road], rng: np.random.Generator, pool: nm.NamePool) -> Buildings:
    """Footprints inside each grid, clear of every road, aligned with the grid's long axis."""
    cols: dict[str, list] = {k: [] for k in ("cx", "cy", "w", "h", "theta", "cos", "sin", "floors", "hh", "pop",
                                             "grid")}
    naming: dict[int, str | None] = {}  # grid index → estate name of its homes (None: numbered 号楼)
    for gi, g in enumerate(grids):
        use = _land_use(g, rng)
        g.use = use
        spec = USES[use]
        theta = Cutter.long_axis(g.geom_m) + rng.normal(0, math.radians(3))
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
    _, hit = shapely.STRtree(polygons(b.corners_m())).query(corridors, predicate="intersects")
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
