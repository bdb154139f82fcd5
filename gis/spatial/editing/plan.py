"""Planning an edit: the grid versions it would close and open, and every problem found, before anything is written.

- **Checked before anything is written** (gis.spatial.topology): every problem at once — invalid
  geometry with the reason, parts outside the community, overlaps with siblings, gaps left,
  slivers; size and household bounds as warnings. An edit with any error is refused whole.
- New grids (pieces of a split, a merged grid, a created grid) get new 15-digit codes, numbered
  after the highest sequence the community ever issued, in reading order (west→east, north→south).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping
from shapely.geometry.base import BaseGeometry
from shapely.ops import split as split_polygon
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.core.errors import InvalidInput
from gis.spatial.codes import reading_order
from gis.spatial.editing.context import Context, Current, community_of, issue_codes, load_context
from gis.spatial.editing.parse import Edit
from gis.spatial.topology import Candidate, Problem, Rules, check_grids, polygonal, shape_problem, snap


@dataclass
class Opening:
    """A grid version the edit opens: a successor (same code) or a new grid (code issued later)."""

    label: str                   # the code, or a provisional new code
    name: str
    kind: str
    geom: BaseGeometry           # lon/lat
    parents: list[tuple[str, str]]  # (parent code, relation)
    successor: bool
    households: int | None = 0   # carried over when the community keeps no building register
    population: int = 0
    ok: bool = True              # shape checks passed


@dataclass
class Plan:
    """What an edit would do: the versions it closes and opens, and every problem found."""

    edit: Edit
    ctx: Context
    closing: list[str] = field(default_factory=list)
    opening: list[Opening] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    rules: Rules = field(default_factory=Rules)

    @property
    def errors(self) -> list[Problem]:
        """Problems that block the edit."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """Problems shown but not blocking."""
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def valid(self) -> bool:
        """No errors."""
        return not self.errors

    @property
    def retired(self) -> list[str]:
        """Codes closed without a successor."""
        kept = {o.label for o in self.opening if o.successor}
        return [c for c in self.closing if c not in kept]

    def area_m2(self, geom: BaseGeometry) -> float:
        """Area in m² of a lon/lat geometry, measured in the community's frame (0 when empty)."""
        return float(self.ctx.frame.area_m2(geom)) if not geom.is_empty else 0.0

    def if_match(self) -> list[str]:
        """The ETags a commit must send: every grid the edit changes."""
        return [self.ctx.grids[c].etag for c in self.closing]

    def to_dict(self) -> dict:
        """JSON: valid, errors, warnings, the grids it would close and open (provisional codes), rules."""
        ctx = self.ctx
        return {
            "op": self.edit.op, "valid": self.valid,
            "community": {"code": ctx.community_code, "name": ctx.community_name},
            "errors": [p.to_dict() for p in self.errors], "warnings": [p.to_dict() for p in self.warnings],
            "closes": [{"code": c, "version": ctx.grids[c].version, "etag": ctx.grids[c].etag} for c in self.closing],
            "opens": [{"code": o.label, "new_code": not o.successor, "name": o.name, "kind": o.kind,
                       "version": ctx.grids[o.label].version + 1 if o.successor else 1,
                       "area_m2": round(float(ctx.frame.area_m2(o.geom)), 2) if o.ok else None,
                       "parents": [{"code": c, "relation": r} for c, r in o.parents],
                       "geometry": mapping(o.geom) if o.geom is not None else None} for o in self.opening],
            "retires": self.retired, "if_match": self.if_match(), "rules": self.rules.to_dict(),
        }


def _multi(geom: BaseGeometry) -> BaseGeometry:
    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    if geom.geom_type == "GeometryCollection":
        polys = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
        return _multi(shapely.union_all(polys)) if polys else MultiPolygon()
    return geom


def _boundaries(geoms: Iterable[BaseGeometry]) -> BaseGeometry:
    return shapely.GeometryCollection([shapely.boundary(g) for g in geoms if g is not None and not g.is_empty])


def _shape_error(plan: Plan, label: str, geom: BaseGeometry | None, prefix: str = "") -> bool:
    why = shape_problem(geom)
    if why is None:
        return False
    rule = "invalid_geometry" if why.startswith("invalid") else "wrong_type"
    plan.problems.append(Problem(rule, f"grid {label}: {prefix}{why}", grid=label,
                                 where=geom if geom is not None and not geom.is_empty and rule != "wrong_type"
                                 else None))
    return True


def plan_edit(session: Session, edit: Edit, rules: Rules | None = None, *, lock: bool = False,
              ctx: Context | None = None) -> Plan:
    """Work out what `edit` would close and open, and check the result (gis.spatial.topology): every problem at once."""
    rules = rules or Rules()
    ctx = ctx or load_context(session, community_of(session, edit), lock=lock)
    plan = Plan(edit, ctx, rules=rules)
    for code in list(edit.grids) + ([edit.into] if edit.into else []):
        if code not in ctx.grids:
            community_of(session, edit)  # says why: unknown, retired meanwhile, or another community
            raise InvalidInput("Grid not in this community", f"Grid {code} is not a current grid of community "
                               f"{ctx.community_code}.")
    {"reshape": _plan_reshape, "move_vertices": _plan_moves, "split": _plan_split, "merge": _plan_merge,
     "create": _plan_create, "retire": _plan_retire}[edit.op](plan)
    _drop_unchanged(plan)
    if not plan.opening and not plan.closing and not plan.problems:
        plan.problems.append(Problem("no_change", "the edit changes no grid: every boundary stays as it is"))
    _issue_provisional_codes(session, plan)
    _check(session, plan)
    return plan


def _plan_reshape(plan: Plan) -> None:
    ctx, edit = plan.ctx, plan.edit
    fixed = [g.geom for c, g in ctx.grids.items() if c not in edit.geometries]
    done: list[BaseGeometry] = []
    for code, geom in edit.geometries.items():
        cur = ctx.grids[code]
        opening = Opening(code, cur.name, cur.kind, geom, [(code, "version")], True, cur.households, cur.population)
        if _shape_error(plan, code, geom):
            opening.ok = False
        else:
            reference = _boundaries([ctx.geom, *fixed, *done])
            snapped = _multi(snap(geom, reference, ctx.frame, plan.rules.snap_m))
            if _shape_error(plan, code, snapped, f"after snapping to its neighbours within {plan.rules.snap_m:g} m, "):
                opening.ok = False
            else:
                opening.geom = snapped
                done.append(snapped)
        plan.opening.append(opening)
        plan.closing.append(code)
    if edit.take_from_neighbours:
        _take_from_neighbours(plan)


def _take_from_neighbours(plan: Plan) -> None:
    """Siblings lose what the opened grids now cover of them (they open as their next version)."""
    ctx = plan.ctx
    takers = [o for o in plan.opening if o.ok]
    if not takers:
        return
    taken = shapely.union_all([o.geom for o in takers])
    for code, cur in ctx.grids.items():
        if code in plan.closing or not shapely.intersects(cur.geom, taken):
            continue
        lost_m2 = plan.area_m2(polygonal(shapely.intersection(cur.geom, taken)))
        if lost_m2 <= plan.rules.noise_m2:
            continue
        rest = _multi(shapely.difference(cur.geom, taken))
        if rest.is_empty or plan.area_m2(rest) <= plan.rules.noise_m2:
            plan.problems.append(Problem("would_swallow", f"grid {code} would lose all its area to this edit; "
                                         "merge it or retire it into a neighbour instead", grid=code,
                                         area_m2=lost_m2, where=cur.geom))
            continue
        plan.closing.append(code)
        plan.opening.append(Opening(code, cur.name, cur.kind, rest, [(code, "version")], True,
                                    cur.households, cur.population))
        for o in takers:
            if plan.area_m2(polygonal(shapely.intersection(o.geom, cur.geom))) > plan.rules.noise_m2:
                o.parents.append((code, "carved"))


def _plan_moves(plan: Plan) -> None:
    ctx, frame, tol = plan.ctx, plan.ctx.frame, plan.rules.snap_m
    work = {c: g.geom for c, g in ctx.grids.items() if not plan.edit.grids or c in plan.edit.grids}
    for i, (frm, to) in enumerate(plan.edit.moves):
        target = frame.to_local(shapely.Point(frm))
        best, best_d = None, None
        for geom in work.values():
            coords = shapely.get_coordinates(geom)
            d = shapely.distance(shapely.points(shapely.get_coordinates(frame.to_local(geom))), target)
            j = int(np.argmin(d))
            if best_d is None or d[j] < best_d:
                best, best_d = coords[j], d[j]
        if best is None or best_d > tol:
            plan.problems.append(Problem("no_vertex", f"move {i + 1}: no grid vertex within {tol:g} m of "
                                         f"({frm[0]:.7f}, {frm[1]:.7f})", where=shapely.Point(frm)))
            continue
        for code, geom in work.items():
            coords = shapely.get_coordinates(geom)
            same = (coords == best).all(axis=1)
            if same.any():
                coords = coords.copy()
                coords[same] = to
                work[code] = shapely.set_coordinates(shapely.from_wkb(shapely.to_wkb(geom)), coords)
    for code, geom in work.items():
        cur = ctx.grids[code]
        if shapely.equals_exact(geom, cur.geom, 0):
            continue
        opening = Opening(code, cur.name, cur.kind, geom, [(code, "version")], True, cur.households, cur.population)
        opening.ok = not _shape_error(plan, code, geom, "after moving the vertex, ")
        plan.opening.append(opening)
        plan.closing.append(code)


def _plan_split(plan: Plan) -> None:
    ctx, edit, rules = plan.ctx, plan.edit, plan.rules
    code = edit.grids[0]
    cur = ctx.grids[code]
    line = edit.line
    if line.geom_type not in ("LineString", "MultiLineString") or line.is_empty:
        plan.problems.append(Problem("wrong_type", f"the split line must be a LineString, not a {line.geom_type}",
                                     grid=code))
        return
    # A line drawn to end on the boundary may stop a little short or overshoot: snap it first.
    line = snap(line, shapely.boundary(cur.geom), ctx.frame, rules.snap_m)
    pieces = [p for p in shapely.get_parts(split_polygon(cur.geom, line)) if p.geom_type == "Polygon"]
    if len(pieces) < 2:
        plan.problems.append(Problem("line_not_crossing", _not_crossing(ctx, cur, line), grid=code, where=line))
        return
    for piece in pieces:
        plan.opening.append(Opening("", "", cur.kind, MultiPolygon([piece]), [(code, "split")], False))
    _share_counts(plan, cur, plan.opening)
    plan.closing.append(code)


def _not_crossing(ctx: Context, cur: Current, line: BaseGeometry) -> str:
    boundary = ctx.frame.to_local(shapely.boundary(cur.geom))
    inside = []
    for end in (shapely.get_point(shapely.get_geometry(line, 0), 0),
                shapely.get_point(shapely.get_geometry(line, -1), -1)):
        if shapely.covers(cur.geom, end):
            inside.append(shapely.distance(ctx.frame.to_local(end), boundary))
    if not shapely.intersects(cur.geom, line):
        return f"the line does not touch grid {cur.code}; draw it across the grid"
    if inside:
        return (f"the line must cross grid {cur.code} from edge to edge; it ends "
                f"{' and '.join(f'{d:.1f} m' for d in inside)} inside the grid")
    return f"the line does not cut grid {cur.code} into pieces; draw it across the grid from edge to edge"


def _share_counts(plan: Plan, cur: Current, openings: list[Opening]) -> None:
    # Without a building register, a split grid's households are shared by area.
    areas = np.array([plan.area_m2(o.geom) for o in openings])
    share = areas / areas.sum() if areas.sum() else np.full(len(areas), 1 / len(areas))
    for o, s in zip(openings, share):
        o.households, o.population = int(round(cur.households * s)), int(round(cur.population * s))


def _plan_merge(plan: Plan) -> None:
    ctx, edit = plan.ctx, plan.edit
    grids = [ctx.grids[c] for c in edit.grids]
    boundaries = [shapely.boundary(g.geom) for g in grids]
    linked = {0}
    frontier = [0]
    while frontier:
        i = frontier.pop()
        for j in range(len(grids)):
            if j not in linked and _shared_m(ctx, boundaries[i], boundaries[j]) > 0.01:
                linked.add(j)
                frontier.append(j)
    apart = [grids[j].code for j in range(len(grids)) if j not in linked]
    if apart:
        plan.problems.append(Problem("not_adjacent", f"grids {', '.join(apart)} share no edge with grid "
                                     f"{grids[0].code} (nor through the others); only adjacent grids can merge",
                                     grid=grids[0].code, other=apart[0], where=ctx.grids[apart[0]].geom))
        return
    merged = _multi(shapely.union_all([g.geom for g in grids]))
    first = grids[0]
    plan.opening.append(Opening("", edit.name or first.name, edit.kind or first.kind, merged,
                                [(g.code, "merged") for g in grids], False,
                                sum(g.households for g in grids), sum(g.population for g in grids)))
    plan.closing.extend(g.code for g in grids)


def _shared_m(ctx: Context, a: BaseGeometry, b: BaseGeometry) -> float:
    """Length in metres of the boundary two grids share."""
    common = shapely.intersection(a, b)
    return float(ctx.frame.length_m(common)) if not common.is_empty else 0.0


def _plan_create(plan: Plan) -> None:
    ctx, edit = plan.ctx, plan.edit
    opening = Opening("", edit.name, edit.kind or "basic", edit.geometry, [], False, None, 0)
    if _shape_error(plan, "(new)", edit.geometry):
        opening.ok = False
    else:
        reference = _boundaries([ctx.geom, *(g.geom for g in ctx.grids.values())])
        snapped = _multi(snap(edit.geometry, reference, ctx.frame, plan.rules.snap_m))
        opening.ok = not _shape_error(plan, "(new)", snapped,
                                      f"after snapping to its neighbours within {plan.rules.snap_m:g} m, ")
        opening.geom = snapped if opening.ok else edit.geometry
    plan.opening.append(opening)
    if edit.take_from_neighbours:
        _take_from_neighbours(plan)


def _plan_retire(plan: Plan) -> None:
    ctx, edit = plan.ctx, plan.edit
    gone, into = ctx.grids[edit.grids[0]], ctx.grids[edit.into]
    shared = _shared_m(ctx, shapely.boundary(gone.geom), shapely.boundary(into.geom))
    if shared <= 0.01:
        plan.problems.append(Problem("not_adjacent", f"grid {gone.code} shares no edge with grid {into.code}; "
                                     "its area can only go to a neighbour", grid=gone.code, other=into.code,
                                     where=gone.geom))
        return
    plan.opening.append(Opening(into.code, into.name, into.kind, _multi(shapely.union_all([into.geom, gone.geom])),
                                [(into.code, "version"), (gone.code, "absorbed")], True,
                                into.households + gone.households, into.population + gone.population))
    plan.closing.extend([gone.code, into.code])


def _drop_unchanged(plan: Plan) -> None:
    """A successor whose boundary is exactly the current one is no new version."""
    keep = []
    for o in plan.opening:
        if o.successor and o.ok and shapely.equals(o.geom, plan.ctx.grids[o.label].geom) and o.label in plan.closing \
                and all(rel == "version" for _, rel in o.parents):
            plan.closing.remove(o.label)
            continue
        keep.append(o)
    plan.opening = keep


def _issue_provisional_codes(session: Session, plan: Plan) -> None:
    new = [o for o in plan.opening if not o.successor]
    if not new:
        return
    # Numbered west→east, north→south among themselves (gis.spatial.codes.reading_order), in metres.
    frame = plan.ctx.frame
    points = [frame.to_local(shapely.point_on_surface(o.geom) if o.ok else shapely.centroid(o.geom)) for o in new]
    areas = [plan.area_m2(o.geom) for o in new if o.ok] or [1.0]
    # Rows half as tall as a typical piece: two pieces stacked north–south fall in different rows.
    order = reading_order(np.array([p.x for p in points]), np.array([p.y for p in points]),
                          max(float(np.sqrt(np.median(areas))) / 2, 1.0))
    codes = issue_codes(session, plan.ctx.community_code, len(new))
    names = plan.edit.names
    parent_name = plan.ctx.grids[plan.edit.grids[0]].name if plan.edit.op == "split" else None
    for rank, i in enumerate(order):
        o = new[int(i)]
        o.label = codes[rank]
        if plan.edit.op == "split":
            o.name = names[rank] if rank < len(names) and names[rank] else f"{parent_name}-{rank + 1}"


def _check(session: Session, plan: Plan) -> None:
    ctx, rules = plan.ctx, plan.rules
    closing = set(plan.closing)
    households = _households(session, plan) if ctx.has_buildings else {}
    changed = [Candidate(o.label, o.geom, o.kind, households.get(o.label) if ctx.has_buildings else o.households)
               for o in plan.opening if o.ok]
    # A grid whose new shape is unusable (already reported) is judged as it stands, so that its
    # neighbours' checks still mean something and no phantom gap is reported in its place.
    as_is = {o.label for o in plan.opening if not o.ok and o.successor}
    unchanged = [Candidate(c, g.geom, g.kind) for c, g in ctx.grids.items() if c not in closing or c in as_is]
    vacating = [ctx.grids[c].geom for c in plan.closing if c not in as_is]
    vacated = shapely.union_all(vacating) if vacating else None
    plan.problems.extend(check_grids(ctx.frame, ctx.community_code, ctx.geom, changed, unchanged, vacated, rules))


def _households(session: Session, plan: Plan) -> dict[str, int]:
    """Households of the buildings whose point on surface each opened grid would cover."""
    rows = [(o.label, shapely.to_wkb(o.geom)) for o in plan.opening if o.ok]
    if not rows:
        return {}
    return dict(session.execute(text("""
        SELECT t.label, COALESCE(sum(b.households), 0)
        FROM unnest(CAST(:labels AS text[]), CAST(:wkbs AS bytea[])) AS t(label, wkb)
        CROSS JOIN LATERAL (SELECT ST_GeomFromWKB(t.wkb, 4326) AS g) x
        LEFT JOIN buildings b ON b.geom && x.g AND ST_Covers(x.g, ST_PointOnSurface(b.geom))
        GROUP BY t.label
    """), {"labels": [r[0] for r in rows], "wkbs": [r[1] for r in rows]}).all())


def validate_edit(session: Session, edit: Edit, rules: Rules | None = None) -> Plan:
    """Check an edit without writing or locking: the plan with every error and warning."""
    return plan_edit(session, edit, rules)
