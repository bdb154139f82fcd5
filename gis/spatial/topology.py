"""Topology rules for grids: a community's grids tile it — no overlaps, no gaps, nothing outside.

The rules (README "Editing grid boundaries" says the same):

- **Metres, not degrees.** Every check runs in a Lambert azimuthal equal-area frame on the WGS84
  ellipsoid centred on the data (`Frame`): areas there are the geodesic areas (the projection is
  equal-area), and distances within a district are true to about 10⁻⁵.
- **Snapping** (`snap`): a vertex the planner drew within `snap_m` (default 0.5 m) of a vertex of
  the community boundary or of a neighbouring grid moves onto that vertex (the very same
  coordinates, so the shared edge is exact); otherwise within `snap_m` of a neighbour's edge it
  moves onto the edge; and a neighbour's vertex within `snap_m` of a drawn edge is inserted into
  it. Vertices farther away are kept exactly as drawn.
- **Noise.** Overlaps, gaps and parts outside the community smaller than `noise_m2` (default
  0.01 m², a 10 cm square) are floating-point residue of intersecting edges, not problems.
- **Errors** (an edit with any of them cannot be saved): invalid geometry (with GEOS's reason),
  not a polygon, parts outside the community (m²), overlaps with a sibling grid (which, m², where),
  gaps left in the community (where, m²), slivers — a polygon part smaller than `min_part_m2`
  (default 100 m²) or thinner than `min_width_m` (default 2 m mean width, 2·area/perimeter).
- **Warnings** (shown, not blocking), for basic grids only (special grids — parks, schools — are
  as big as they are): area outside `area_m2` (default 5,000–20,000 m², around the 10,000 m² unit
  grid), households outside `households` (default 300–500, the governance grid), and grids made
  of several separate parts.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.spatial.areas import area_by_code, communities_of

SNAP_TOLERANCE_M = 0.5
NOISE_M2 = 0.01
MIN_PART_M2 = 100.0
MIN_WIDTH_M = 2.0
AREA_BOUNDS_M2 = (5_000.0, 20_000.0)
HOUSEHOLD_BOUNDS = (300, 500)
# A report lists at most this many problems of each severity (the counts are always complete).
MAX_LISTED = 500


@dataclass(frozen=True)
class Rules:
    """Tolerances and bounds of the topology checks (see the module docstring)."""

    snap_m: float = SNAP_TOLERANCE_M
    noise_m2: float = NOISE_M2
    min_part_m2: float = MIN_PART_M2
    min_width_m: float = MIN_WIDTH_M
    area_m2: tuple[float, float] | None = AREA_BOUNDS_M2
    households: tuple[int, int] | None = HOUSEHOLD_BOUNDS

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Rules:
        """Rules from app config (GRIDGOV_EDIT_SNAP_M, GRIDGOV_GRID_AREA_M2="5000,20000", …)."""
        out = cls()
        numbers = {"EDIT_SNAP_M": "snap_m", "EDIT_NOISE_M2": "noise_m2", "GRID_MIN_PART_M2": "min_part_m2",
                   "GRID_MIN_WIDTH_M": "min_width_m"}
        for key, name in numbers.items():
            if config.get(key) not in (None, ""):
                out = replace(out, **{name: _positive(config[key], key)})
        for key, name in (("GRID_AREA_M2", "area_m2"), ("GRID_HOUSEHOLDS", "households")):
            if key in config:
                out = replace(out, **{name: _bounds(config[key], key)})
        return out

    def to_dict(self) -> dict:
        """The rules as JSON-ready values (every report states the tolerances it used)."""
        return {"snap_m": self.snap_m, "noise_m2": self.noise_m2, "min_part_m2": self.min_part_m2,
                "min_width_m": self.min_width_m, "area_m2": list(self.area_m2) if self.area_m2 else None,
                "households": list(self.households) if self.households else None}


def _positive(value: Any, key: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if not (math.isfinite(number) and number >= 0):
        raise ValueError(f"GRIDGOV_{key} must be a number >= 0; got {value!r}")
    return number


def _bounds(value: Any, key: str) -> tuple[float, float] | None:
    if value in (None, "", "none", "off"):
        return None
    parts = value.split(",") if isinstance(value, str) else list(value)
    if len(parts) != 2:
        raise ValueError(f"GRIDGOV_{key} must be 'min,max' (or 'off'); got {value!r}")
    lo, hi = (_positive(p, key) for p in parts)
    if lo > hi:
        raise ValueError(f"GRIDGOV_{key}: min {lo} is above max {hi}")
    return lo, hi


# -- the metric frame -----------------------------------------------------------------------------
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


# -- problems -------------------------------------------------------------------------------------
@dataclass
class Problem:
    """One thing wrong (error) or worth a look (warning), with where and how much."""

    rule: str
    detail: str
    severity: str = "error"
    grid: str | None = None
    other: str | None = None
    area_m2: float | None = None
    where: BaseGeometry | None = None  # lon/lat

    def to_dict(self) -> dict:
        """JSON: rule, severity, grid, other, area_m2, detail, at ([lon, lat] inside), where (GeoJSON)."""
        out: dict[str, Any] = {"rule": self.rule, "severity": self.severity, "grid": self.grid, "other": self.other,
                               "area_m2": None if self.area_m2 is None else round(self.area_m2, 2),
                               "detail": self.detail, "at": None, "where": None}
        where = self.where
        if where is not None and not where.is_empty:
            if where.is_valid:
                point = where.point_on_surface()
                where = shapely.set_precision(where, 1e-9)
            else:  # an invalid shape, reported as drawn: any of its points will do
                point = shapely.Point(shapely.get_coordinates(where)[0])
            out["at"] = [round(point.x, 9), round(point.y, 9)]
            out["where"] = mapping(where)
        return out


def _error(rule: str, detail: str, **kw) -> Problem:
    return Problem(rule, detail, "error", **kw)


def _warning(rule: str, detail: str, **kw) -> Problem:
    return Problem(rule, detail, "warning", **kw)


def fmt_m2(m2: float) -> str:
    """An area for a sentence: 12,345.6 m²."""
    return f"{m2:,.1f} m²" if m2 < 1e6 else f"{m2 / 1e6:,.3f} km²"


# -- snapping -------------------------------------------------------------------------------------
def snap(geom: BaseGeometry, reference: BaseGeometry | None, frame: Frame, tolerance_m: float) -> BaseGeometry:
    """`geom` (lon/lat) with its vertices snapped onto `reference` (lon/lat linework) within tolerance_m.

    In this order: a vertex within the tolerance of a reference vertex takes that vertex's exact
    coordinates; else, within the tolerance of a reference edge, it moves onto the edge; then a
    reference vertex within the tolerance of an edge of `geom` is inserted into that edge (GEOS
    snapping). Distances are measured in the frame's local plane; coordinates that do not move are
    returned bit for bit as given.
    """
    if reference is None or reference.is_empty or geom.is_empty or tolerance_m <= 0:
        return geom
    geom_l, ref_l = frame.to_local(geom), frame.to_local(reference)
    # Remember where every local coordinate came from, to return the original lon/lat exactly.
    originals: dict[tuple[float, float], tuple[float, float]] = {}
    for deg, loc in ((geom, geom_l), (reference, ref_l)):
        for key, value in zip(shapely.get_coordinates(loc).tolist(), shapely.get_coordinates(deg).tolist()):
            originals.setdefault(tuple(key), tuple(value))
    ref_vertices = shapely.multipoints(shapely.get_coordinates(ref_l))
    coords = shapely.get_coordinates(geom_l)
    points = shapely.points(coords)
    to_vertex = shapely.distance(points, ref_vertices)
    to_edge = shapely.distance(points, ref_l)
    onto_edge = (to_vertex > tolerance_m) & (to_edge <= tolerance_m) & (to_edge > 0)
    if onto_edge.any():
        ends = shapely.get_coordinates(shapely.shortest_line(points[onto_edge], ref_l)).reshape(-1, 2, 2)[:, 1]
        coords = coords.copy()
        coords[onto_edge] = ends
        geom_l = shapely.set_coordinates(shapely.from_wkb(shapely.to_wkb(geom_l)), coords)
    snapped_l = shapely.snap(geom_l, ref_l, tolerance_m)
    out = shapely.get_coordinates(snapped_l)
    restored = np.array([originals.get((x, y), (math.nan, math.nan)) for x, y in out.tolist()]).reshape(-1, 2)
    fresh = np.isnan(restored[:, 0])
    if fresh.any():  # points moved onto an edge: new coordinates, mapped back
        restored[fresh] = shapely.get_coordinates(frame.from_local(shapely.points(out[fresh])))
    return shapely.set_coordinates(shapely.from_wkb(shapely.to_wkb(snapped_l)), restored)


# -- geometry checks ------------------------------------------------------------------------------
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


def _pieces(frame: Frame, geom: BaseGeometry, noise_m2: float) -> list[tuple[BaseGeometry, float]]:
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
            out.append(_error("outside_community", f"grid {cand.code} extends {fmt_m2(m2)} outside its community "
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
                out.append(_error("overlap", f"grid {cand.code} overlaps grid {other.code} by {fmt_m2(m2)}",
                                  grid=cand.code, other=other.code, area_m2=m2, where=inter))
    if vacated is not None and not vacated.is_empty:
        now_covered = shapely.union_all([c.geom for c in changed] +
                                        [unchanged[j].geom for j in (tree.query(vacated) if tree else [])])
        left = shapely.intersection(shapely.difference(vacated, now_covered), community)
        for piece, m2 in _pieces(frame, left, rules.noise_m2):
            out.append(_error("gap", f"the edit leaves a gap of {fmt_m2(m2)} in community {community_code} "
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
            out.append(_error("sliver", f"grid {cand.code} has a sliver: a part of {why}", grid=cand.code,
                              area_m2=float(area), where=part))
    total = float(areas.sum())
    if len(parts) > 1:
        out.append(_warning("multipart", f"grid {cand.code} is made of {len(parts)} separate parts", grid=cand.code,
                            area_m2=total, where=cand.geom))
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
        out.append(_warning("area_bounds", f"grid {code} covers {fmt_m2(area_m2)}, outside the "
                            f"{lo:,.0f}–{hi:,.0f} m² expected of a unit grid", grid=code, area_m2=area_m2,
                            where=where))
    if rules.households and households is not None and not rules.households[0] <= households <= rules.households[1]:
        lo, hi = rules.households
        out.append(_warning("household_bounds", f"grid {code} holds {households:,} households, outside the "
                            f"{lo:,.0f}–{hi:,.0f} expected of a grid", grid=code, area_m2=area_m2, where=where))
    return out


# -- a whole partition ----------------------------------------------------------------------------
@dataclass
class PartitionReport:
    """Every problem of the current grids of some communities: errors and warnings, counted by rule."""

    communities: int = 0
    grids: int = 0
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    rules: Rules = field(default_factory=Rules)

    @property
    def valid(self) -> bool:
        """No errors (warnings allowed)."""
        return not self.errors

    @staticmethod
    def counts(items: list[Problem]) -> dict[str, int]:
        """How many problems of each rule."""
        out: dict[str, int] = {}
        for p in items:
            out[p.rule] = out.get(p.rule, 0) + 1
        return out

    def to_dict(self, limit: int = MAX_LISTED) -> dict:
        """JSON: valid, counts, the first `limit` errors and warnings and how many of each were left out, the rules."""
        return {"valid": self.valid, "communities": self.communities, "grids": self.grids,
                "error_counts": self.counts(self.errors), "warning_counts": self.counts(self.warnings),
                "errors": [p.to_dict() for p in self.errors[:limit]],
                "errors_omitted": max(len(self.errors) - limit, 0),
                "warnings": [p.to_dict() for p in self.warnings[:limit]],
                "warnings_omitted": max(len(self.warnings) - limit, 0),
                "truncated": len(self.errors) > limit or len(self.warnings) > limit, "rules": self.rules.to_dict()}


def check_partition(frame: Frame, community_code: str, community: BaseGeometry, community_m2: float,
                    codes: list[str], grids: np.ndarray, areas_m2: np.ndarray, perimeters_m: np.ndarray, kinds: list[str],
                    households: list[int | None], rules: Rules) -> list[Problem]:
    """Every problem of one community's grids (lon/lat): shape, outside, overlaps, gaps, slivers, bounds.

    The common case costs little: when GEOS finds the grids form a valid coverage (edges match,
    nothing overlaps), all lie inside the community and their areas add up to its area within
    noise, there is no overlap, outside part or gap to look for; otherwise each is measured.
    """
    out: list[Problem] = []
    ok = np.ones(len(codes), dtype=bool)
    for i, code in enumerate(codes):
        why = shape_problem(grids[i])
        if why:
            ok[i] = False
            out.append(_error("invalid_geometry" if "invalid" in why else "wrong_type", f"grid {code}: {why}",
                              grid=code, where=grids[i] if "invalid" in why else None))
    idx = np.flatnonzero(ok)
    if not len(idx):
        out.append(_error("gap", f"community {community_code} has no valid grid", other=community_code,
                          area_m2=community_m2, where=community))
        return out
    geoms = grids[idx]
    shapely.prepare(community)
    clean = (bool(shapely.covers(community, geoms).all())
             and abs(community_m2 - float(areas_m2[idx].sum())) <= rules.noise_m2
             and bool(shapely.coverage_is_valid(geoms)))
    if not clean:
        cands = [Candidate(codes[i], grids[i]) for i in idx]
        out.extend(p for p in check_grids(frame, community_code, community, cands, [], None, rules)
                   if p.rule in ("outside_community", "overlap"))
        for piece, m2 in _pieces(frame, shapely.difference(community, shapely.union_all(geoms)), rules.noise_m2):
            out.append(_error("gap", f"community {community_code} has a gap of {fmt_m2(m2)} that no grid covers",
                              other=community_code, area_m2=m2, where=piece))
    for i in idx:
        out.extend(part_problems(frame, Candidate(codes[i], grids[i], kinds[i], households[i]), rules,
                                 area_m2=float(areas_m2[i]), perimeter_m=float(perimeters_m[i])))
    return out


def validate_partition(session: Session, area_code: str | None = None, rules: Rules | None = None) -> PartitionReport:
    """Check that the current grids tile each community of an area (all communities when None).

    Every community's current grids (valid_to NULL) are read in one query and checked by
    check_partition: every problem at once, errors and warnings.
    """
    rules = rules or Rules()
    ids = communities_of(session, area_by_code(session, area_code)) if area_code else None
    rows = session.execute(text("""
        SELECT a.id, a.code, ST_AsBinary(a.geom) AS wkb,
               array_agg(g.code ORDER BY g.code) FILTER (WHERE g.id IS NOT NULL) AS codes,
               array_agg(ST_AsBinary(g.geom) ORDER BY g.code) FILTER (WHERE g.id IS NOT NULL) AS geoms,
               array_agg(g.kind ORDER BY g.code) FILTER (WHERE g.id IS NOT NULL) AS kinds,
               array_agg(g.households ORDER BY g.code) FILTER (WHERE g.id IS NOT NULL) AS households
        FROM admin_areas a
        LEFT JOIN grids g ON g.community_id = a.id AND g.valid_to IS NULL
        WHERE a.level = 'community' AND (CAST(:ids AS integer[]) IS NULL OR a.id = ANY(CAST(:ids AS integer[])))
        GROUP BY a.id ORDER BY a.code
    """), {"ids": ids}).all()
    report = PartitionReport(rules=rules)
    if not rows:
        return report
    communities = shapely.from_wkb([bytes(r.wkb) for r in rows])
    frame = Frame.around(communities)
    community_m2 = frame.area_m2(communities)
    counts = [len(r.codes or []) for r in rows]
    grids = shapely.from_wkb([bytes(w) for r in rows for w in (r.geoms or [])])
    grids_m = frame.to_m(grids) if len(grids) else grids
    grid_m2, grid_len = (shapely.area(grids_m), shapely.length(grids_m)) if len(grids) else (grids, grids)
    start = 0
    for r, community, c_m2, n in zip(rows, communities, community_m2, counts):
        sl = slice(start, start + n)
        start += n
        for problem in check_partition(frame, r.code, community, float(c_m2), list(r.codes or []), grids[sl],
                                       grid_m2[sl], grid_len[sl], list(r.kinds or []), list(r.households or []),
                                       rules):
            (report.errors if problem.severity == "error" else report.warnings).append(problem)
    report.communities, report.grids = len(rows), int(sum(counts))
    return report
