"""generate(): draw the whole district, phase by phase, deterministically from (scale, seed, as_of)."""
from __future__ import annotations

import csv
import datetime as dt
import math
from pathlib import Path

import numpy as np
import shapely
from shapely import Polygon
from shapely.ops import split

from data import names as nm
from data.demo.basemap import draw_water
from data.demo.buildings import draw_buildings
from data.demo.cadres import draw_cadres
from data.demo.checks import check_invariants
from data.demo.events import draw_events
from data.demo.hierarchy import node_faces, number_and_name
from data.demo.layout import (
    LEAVES_PER_EXPECTED_GRID,
    Cutter,
    DensityField,
    Samples,
    draw_outline,
    draw_shores,
    largest_remainder,
    partition,
    polygon_parts,
    subdivide,
)
from data.demo.plane import multi, on_grid, plane_to_lonlat
from data.demo.records import SCALES, DemoDistrict, Scale
from data.demo.roads import name_roads

CATEGORIES_CSV = Path(__file__).resolve().parents[1] / "categories.csv"


def read_categories(path: Path = CATEGORIES_CSV) -> list[dict]:
    """The category table as rows (code, name, major_code, major_name, kind, urgent)."""
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
    unit_outline, _ = draw_outline(np.random.default_rng(seed), 1.0, grid=1e-6)
    probe = DensityField(1.0, (-0.15, 0.12), sc)
    unit_samples = Samples(unit_outline, probe, 0.01)
    expected_per_r2 = float((unit_samples.w).sum())
    # Whole metres: everything below is drawn from the radius, so it must not carry last bits.
    radius = float(round(math.sqrt(sc.grids / (expected_per_r2 * LEAVES_PER_EXPECTED_GRID))))
    outline, river, bay = draw_shores(np.random.default_rng(seed), radius)
    fld = DensityField(radius, (-0.15 * radius, 0.12 * radius), sc)
    samples = Samples(outline, fld, radius / 160)

    cutter = Cutter(geo_rng, pool)
    halves = polygon_parts(on_grid(split(outline, river)))
    river_in = river.intersection(outline)
    cutter.cuts.append((river_in, "river", "幸福河"))

    # Streets: share them between the river's banks by weight, then cut each bank.
    weights = np.array([samples.weight(h) for h in halves])
    alloc = np.maximum(1, largest_remainder(weights, sc.streets))
    street_polys = []
    for half, k in zip(halves, alloc, strict=True):
        if k:
            street_polys += partition(half, int(k), cutter, samples, "arterial")
    street_polys = [p for p in street_polys if not p.is_empty]

    # Communities: each street gets its share of the wanted count.
    sw = np.array([samples.weight(p) for p in street_polys])
    calloc = np.maximum(1, largest_remainder(sw, sc.communities))
    comm_polys: list[tuple[int, object]] = []
    for si, (sp, k) in enumerate(zip(street_polys, calloc, strict=True)):
        for cp in partition(sp, int(k), cutter, samples, "secondary"):
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
        for p, kind, target, zone in subdivide(cp, fld, cutter, special):
            leaves.append((p, ci, kind, target, zone))

    faces = node_faces(np.array([leaf[0] for leaf in leaves], dtype=object))

    # Hierarchy and codes.
    areas, grids = number_and_name(faces, leaves, comm_polys, fld, pool)
    roads = name_roads(faces, outline, cutter.cuts)
    to_ll = plane_to_lonlat()
    # One projection call per layer: PROJ transforms each point on its own, so batching changes
    # no coordinate, only the per-call overhead (seconds on a city).
    for items in (areas, grids, roads):
        projected = shapely.transform(np.array([it.geom_m for it in items], dtype=object), to_ll)
        for it, geom in zip(items, projected, strict=True):
            it.geom = geom if items is roads else multi(geom)

    buildings = draw_buildings(grids, roads, bld_rng, pool)
    cats = categories if categories is not None else read_categories()
    events, hotspots = draw_events(grids, buildings, sc, evt_rng, as_of, cats, to_ll, pool)
    cadres, contracts = draw_cadres(areas, grids, sc, cad_rng, as_of)
    district = DemoDistrict(sc, seed, as_of, areas, grids, roads, buildings, events, cadres, contracts, hotspots,
                            water=draw_water(river_in, bay, to_ll))
    check_invariants(district)
    return district
