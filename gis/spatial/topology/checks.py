"""Checking grid boundaries among their siblings: shape, parts outside, overlaps, gaps, slivers, bounds."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree

from gis.spatial.topology.frame import Frame
from gis.spatial.topology.rules import Problem, Rules, error, fmt_m2, warning


def shape_problem(geom: BaseGeometry | None) -> str | None:
    """Why a lon/lat geometry cannot be a grid boundary (type, emptiness, range, validity), or None."""
    if geom is None or geom.is_empty:
        return "the geometry is empty"
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        return f"a grid must be a Polygon or MultiPolygon, not a {geom.geom_type}"
    x0, y0, x1, y1 = geom.bounds
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        return ("coordinates must be longitude, latitude in WGS84 degrees (lon −180…180, lat −90…90); "
                "are they swapped, or projected?")
    if not geom.is_valid:
        return f"invalid geometry: {shapely.is_valid_reason(geom)}"
    return None


def polygonal(geom: BaseGeometry) -> BaseGeometry:
    """The polygonal part of an overlay result (dropping the lines and points it may carry)."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def pieces(frame: Frame, geom: BaseGeometry, noise_m2: float) -> list[tuple[BaseGeometry, float]]:
    """The polygons of an overlay result larger than noise, with their areas in m²."""
    parts = [p for p in shapely.get_parts(shapely.get_parts(geom)) if p.geom_type == "Polygon"]
    if not parts:
        return []
    areas = frame.area_m2(np.array(parts, dtype=object))
    return [(p, float(a)) for p, a in zip(parts, areas) if a > noise_m2]


@dataclass
class Candidate:
    """A grid boundary to check: its label (code), kind, lon/lat geometry, households if known."""

    code: str
    geom: BaseGeometry
    kind: str = "basic"
    households: int | None = None


def check_grids(frame: Frame, community_code: str, community: BaseGeometry, changed: list[Candidate],
                unchanged: list[Candidate], vacated: BaseGeometry | None, rules: Rules) -> list[Problem]:
    """Every problem of `changed` grids among `unchanged` siblings in one community.

    Checks each changed grid for parts outside the community, overlaps with unchanged siblings and
    with each other, slivers, size / household bounds and separate parts; and `vacated` (the area
    the changed grids covered before) for gaps: whatever of it no grid covers now. Shapes must
    already be valid polygons (see shape_problem). Overlays run in lon/lat; areas are m².
    """
    out: list[Problem] = []
    for cand in changed:
        outside = polygonal(shapely.difference(cand.geom, community))
        m2 = float(frame.area_m2(outside)) if not outside.is_empty else 0.0
        if m2 > rules.noise_m2:
            out.append(error("outside_community", f"grid {cand.code} extends {fmt_m2(m2)} outside its community "
                              f"{community_code}", grid=cand.code, other=community_code, area_m2=m2, where=outside))
    tree = STRtree([c.geom for c in unchanged]) if unchanged else None
    for i, cand in enumerate(changed):
        others = [unchanged[j] for j in (tree.query(cand.geom) if tree is not None else [])] + changed[i + 1:]
        for other in sorted(others, key=lambda o: o.code):
            if not shapely.intersects(cand.geom, other.geom):
                continue
            inter = polygonal(shapely.intersection(cand.geom, other.geom))
            m2 = float(frame.area_m2(inter)) if not inter.is_empty else 0.0
            if m2 > rules.noise_m2:
                out.append(error("overlap", f"grid {cand.code} overlaps grid {other.code} by {fmt_m2(m2)}",
                                  grid=cand.code, other=other.code, area_m2=m2, where=inter))
    if vacated is not None and not vacated.is_empty:
        now_covered = shapely.union_all([c.geom for c in changed] +
                                        [unchanged[j].geom for j in (tree.query(vacated) if tree else [])])
        left = shapely.intersection(shapely.difference(vacated, now_covered), community)
        for piece, m2 in pieces(frame, left, rules.noise_m2):
            out.append(error("gap", f"the edit leaves a gap of {fmt_m2(m2)} in community {community_code} "
                              "that no grid covers", other=community_code, area_m2=m2, where=piece))
    for cand in changed:
        out.extend(part_problems(frame, cand, rules))
    return out


def part_problems(frame: Frame, cand: Candidate, rules: Rules, area_m2: float | None = None,
                  perimeter_m: float | None = None) -> list[Problem]:
    """Slivers (small or thin parts), separate parts and size / household bounds of one grid.

    `area_m2` and `perimeter_m` (when the caller measured them) spare measuring a one-part grid again.
    """
    out: list[Problem] = []
    parts = shapely.get_parts(cand.geom)
    if len(parts) == 1 and area_m2 is not None and perimeter_m is not None:
        areas, lengths = np.array([area_m2]), np.array([perimeter_m])
    else:
        metric = frame.to_m(parts)
        areas, lengths = shapely.area(metric), shapely.length(metric)
    for part, area, perimeter in zip(parts, areas, lengths):
        width = 2 * area / perimeter if perimeter else 0.0
        if area < rules.min_part_m2 or width < rules.min_width_m:
            why = (f"only {fmt_m2(area)} (minimum {fmt_m2(rules.min_part_m2)})" if area < rules.min_part_m2
                   else f"{width:.2f} m wide on average (minimum {rules.min_width_m:g} m)")
            out.append(error("sliver", f"grid {cand.code} has a sliver: a part of {why}", grid=cand.code,
                              area_m2=float(area), where=part))
    total = float(areas.sum())
    if len(parts) > 1:
        out.append(warning("multipart", f"grid {cand.code} is made of {len(parts)} separate parts", grid=cand.code,
                            area_m2=total, where=cand.geom, values={"parts": len(parts)}))
    out.extend(bounds_warnings(cand.code, cand.kind, total, cand.households, rules, where=cand.geom))
    return out


def bounds_warnings(code: str, kind: str, area_m2: float, households: int | None, rules: Rules,
                    where: BaseGeometry | None = None) -> list[Problem]:
    """Warnings for a basic grid whose area or households fall outside the configured bounds."""
    if kind != "basic":
        return []
    out = []
    if rules.area_m2 and not rules.area_m2[0] <= area_m2 <= rules.area_m2[1]:
        lo, hi = rules.area_m2
        out.append(warning("area_bounds", f"grid {code} covers {fmt_m2(area_m2)}, outside the "
                            f"{lo:,.0f}–{hi:,.0f} m² expected of a unit grid", grid=code, area_m2=area_m2,
                            where=where, values={"lo": lo, "hi": hi}))
    if rules.households and households is not None and not rules.households[0] <= households <= rules.households[1]:
        lo, hi = rules.households
        out.append(warning("household_bounds", f"grid {code} holds {households:,} households, outside the "
                            f"{lo:,.0f}–{hi:,.0f} expected of a grid", grid=code, area_m2=area_m2, where=where,
                            values={"households": households, "lo": lo, "hi": hi}))
    return out
