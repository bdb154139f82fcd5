"""Checking a whole partition: every community's current grids tile it."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.core import dated
from gis.spatial.areas import area_by_code, communities_of
from gis.spatial.topology.checks import Candidate, check_grids, part_problems, pieces, shape_problem
from gis.spatial.topology.frame import Frame
from gis.spatial.topology.rules import MAX_LISTED, Problem, Rules, error, fmt_m2


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
                    codes: list[str], grids: np.ndarray, areas_m2: np.ndarray, perimeters_m: np.ndarray,
                    kinds: list[str], households: list[int | None], rules: Rules) -> list[Problem]:
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
            out.append(error("invalid_geometry" if "invalid" in why else "wrong_type", f"grid {code}: {why}",
                              grid=code, where=grids[i] if "invalid" in why else None))
    idx = np.flatnonzero(ok)
    if not len(idx):
        out.append(error("gap", f"community {community_code} has no valid grid", other=community_code,
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
        for piece, m2 in pieces(frame, shapely.difference(community, shapely.union_all(geoms)), rules.noise_m2):
            out.append(error("gap", f"community {community_code} has a gap of {fmt_m2(m2)} that no grid covers",
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
    rows = session.execute(text(f"""
        SELECT a.id, a.code, ST_AsBinary(a.geom) AS wkb,
               array_agg(g.code ORDER BY g.code) FILTER (WHERE g.id IS NOT NULL) AS codes,
               array_agg(ST_AsBinary(g.geom) ORDER BY g.code) FILTER (WHERE g.id IS NOT NULL) AS geoms,
               array_agg(g.kind ORDER BY g.code) FILTER (WHERE g.id IS NOT NULL) AS kinds,
               array_agg(g.households ORDER BY g.code) FILTER (WHERE g.id IS NOT NULL) AS households
        FROM admin_areas a
        LEFT JOIN grids g ON g.community_id = a.id AND {dated.current('g')}
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
