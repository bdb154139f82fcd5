"""The district's invariants, checked on what would be stored before anything is."""
from __future__ import annotations

import numpy as np
import shapely
from pyproj import Geod

from data.demo.layout import GRID_AREA_TOLERANCE
from data.demo.plane import contains_by_group, groups, plane_to_lonlat
from data.demo.records import DemoDistrict


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
    for gi, of in groups(b.grid, len(grids)):
        shapely.prepare(grids[gi])
        inside[of] = shapely.contains_properly(grids[gi], footprints[of])
    rule("every building lies inside its grid", np.array(b.code, dtype=object)[~inside])
    corridors = shapely.transform(shapely.buffer(np.array([r.geom_m for r in d.roads], dtype=object),
                                                 np.array([r.width_m for r in d.roads]) / 2), plane_to_lonlat())
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
    covered = contains_by_group(grids, b.grid[e.building], e.lon, e.lat)
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
    geod = Geod(ellps="WGS84")
    return np.array([abs(geod.geometry_area_perimeter(g)[0]) for g in geoms])
