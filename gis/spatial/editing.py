"""Planners redraw grid boundaries: plan an edit, check it, preview what moves, commit dated versions.

The rules (README "Editing grid boundaries" says the same):

- **Edits.** `reshape` (new boundaries for one or more grids of a community), `move_vertices`
  (a vertex shared by neighbours moves, and every grid having it changes in the same edit), `split`
  (a grid cut by a drawn line into pieces), `merge` (adjacent grids into one), `create` (a new grid
  inside a community) and `retire` (a grid's area goes to a neighbour). `reshape` and `create` may
  `take_from_neighbours`: siblings lose whatever the new boundary covers of them.
- **Checked before anything is written** (gis/spatial/topology.py): every problem at once — invalid
  geometry with the reason, parts outside the community, overlaps with siblings, gaps left,
  slivers; size and household bounds as warnings. An edit with any error is refused whole.
- **Dated versions.** An edit closes the current versions it changes (`valid_to` = the edit's
  instant) and opens new ones (`valid_from` = the same instant): a reshaped grid keeps its code
  with the next version number; pieces of a split, a merged grid and a created grid get new
  15-digit codes, numbered after the highest sequence the community ever issued (grid_codes
  remembers retired codes, so none is reused), in reading order (west→east, north→south).
  grid_lineage links parent and child versions (version, split, merged, absorbed, carved).
- **One transaction.** Buildings under the changed grids are re-derived by the building rule
  (gis.spatial.buildings); open events whose grid changes are handed to the new grid (locate_point's rule
  at the edit's instant; `events.reassigned_at` records it), while closed events — and open ones
  that stay in the same grid — keep the version in force when they occurred; contracts on retired
  codes are flagged for re-assignment; the audit log gets the before and after geometry.
- **No lost edit, no overlap.** The edit locks its community (and the grids it closes) before
  reading them, so concurrent edits of one community run one after the other, each checked against
  what the previous one committed. The caller must send the ETag of every grid the edit changes
  (If-Match); a grid changed meanwhile makes the edit fail with PreconditionFailed and the current
  versions, never overwrite.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import split as split_polygon
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gis.spatial.assign import DEFAULT_SNAP_M, grids_at
from gis.spatial.buildings import assign_buildings, refresh_grid_totals
from gis.spatial.codes import GRID_CODE_LENGTH, reading_order
from gis.core.errors import Conflict, InvalidGeometry, InvalidInput, NotFound, PreconditionFailed
from gis.core.models import GRID_EDIT_OPS, GRID_KINDS, AuditEntry, GridEdit
from gis.spatial.topology import Candidate, Frame, Problem, Rules, check_grids, polygonal, shape_problem, snap

NAME_MAX = 100
NOTE_MAX = 2000
MAX_MOVES = 500
# Lists in an impact (building codes, event ids) are cut at this length; the counts are complete.
MAX_LISTED_IDS = 200
SEQUENCE_MAX = 999


# -- ETags --------------------------------------------------------------------------------------
def grid_etag(code: str, version: int) -> str:
    """The strong ETag of a grid version: its code and version number."""
    return f'"{code}.v{version}"'


def parse_if_match(header: str | None) -> set[str] | None:
    """The ETags of an If-Match header (a comma-separated list), or None when absent."""
    if header is None or not header.strip():
        return None
    return {tag.strip() for tag in re.findall(r'(?:W/)?"[^"]*"|\*', header)}


# -- the edit as asked ------------------------------------------------------------------------------
@dataclass
class Edit:
    """One edit as the planner asked for it (parsed, not yet checked against the database)."""

    op: str
    grids: list[str] = field(default_factory=list)
    geometries: dict[str, BaseGeometry] = field(default_factory=dict)
    moves: list[tuple[tuple[float, float], tuple[float, float]]] = field(default_factory=list)
    line: BaseGeometry | None = None
    geometry: BaseGeometry | None = None
    community: str | None = None
    into: str | None = None
    name: str | None = None
    names: list[str] = field(default_factory=list)
    kind: str | None = None
    take_from_neighbours: bool = False
    note: str | None = None
    raw: dict = field(default_factory=dict)


def _geojson(value: Any, what: str) -> BaseGeometry:
    if isinstance(value, BaseGeometry):
        return value
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise InvalidGeometry("Malformed geometry", f"`{what}` must be a GeoJSON object.") from None
    if isinstance(value, Mapping) and value.get("type") == "Feature":
        value = value.get("geometry")
    if not isinstance(value, Mapping) or "type" not in value:
        raise InvalidGeometry("Malformed geometry", f"`{what}` must be a GeoJSON geometry, e.g. "
                              '{"type": "Polygon", "coordinates": [[[lon, lat], …]]}.')
    try:
        geom = shape(value)
    except Exception as exc:  # shapely raises several types for malformed coordinates
        raise InvalidGeometry("Malformed geometry", f"`{what}`: the coordinates cannot be read ({exc}).") from None
    return shapely.force_2d(geom) if shapely.has_z(geom) else geom


def _code(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.isdigit() or len(value) != GRID_CODE_LENGTH:
        raise InvalidInput(f"Invalid {what}", f"`{what}` must be a 15-digit grid code; got {str(value)[:40]!r}.",
                           parameter=what)
    return value


def _text(value: Any, what: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > limit:
        raise InvalidInput(f"Invalid {what}", f"`{what}` must be text of 1 to {limit} characters.", parameter=what)
    return value.strip()


def _point(value: Any, what: str) -> tuple[float, float]:
    ok = (isinstance(value, (list, tuple)) and len(value) == 2
          and all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in value))
    if not ok or not (-180 <= value[0] <= 180 and -90 <= value[1] <= 90):
        raise InvalidInput(f"Invalid {what}", f"`{what}` must be [lon, lat] in WGS84 degrees.", parameter=what)
    return float(value[0]), float(value[1])


def parse_edit(body: Mapping[str, Any]) -> Edit:
    """An Edit from a JSON request; InvalidInput / InvalidGeometry say what is malformed.

    Shapes are parsed, not judged: an invalid polygon is reported by the checks with the others.
    """
    if not isinstance(body, Mapping):
        raise InvalidInput("Malformed edit", "The edit must be a JSON object with an `op`.")
    op = body.get("op")
    if op not in GRID_EDIT_OPS:
        raise InvalidInput("Unknown op", f"`op` must be one of {', '.join(GRID_EDIT_OPS)}; got {str(op)[:40]!r}.",
                           parameter="op")
    edit = Edit(op=op, raw=json.loads(json.dumps(body, default=str)))
    edit.note = _text(body.get("note"), "note", NOTE_MAX)
    edit.name = _text(body.get("name"), "name", NAME_MAX)
    kind = body.get("kind")
    if kind is not None and kind not in GRID_KINDS:
        raise InvalidInput("Invalid kind", f"`kind` must be one of {', '.join(GRID_KINDS)}.", parameter="kind")
    edit.kind = kind
    take = body.get("take_from_neighbours", False)
    if not isinstance(take, bool):
        raise InvalidInput("Invalid take_from_neighbours", "`take_from_neighbours` must be true or false.")
    edit.take_from_neighbours = take
    if op == "reshape":
        grids = body.get("grids")
        if not isinstance(grids, list) or not grids:
            raise InvalidInput("Missing grids", 'A reshape needs `grids`: [{"code": …, "geometry": GeoJSON}, …].',
                               parameter="grids")
        for i, item in enumerate(grids):
            if not isinstance(item, Mapping):
                raise InvalidInput("Invalid grids", f"grids[{i}] must be an object with `code` and `geometry`.")
            code = _code(item.get("code"), f"grids[{i}].code")
            if code in edit.geometries:
                raise InvalidInput("Duplicate grid", f"Grid {code} appears twice in `grids`.")
            edit.geometries[code] = _geojson(item.get("geometry"), f"grids[{i}].geometry")
        edit.grids = list(edit.geometries)
    elif op == "move_vertices":
        moves = body.get("moves")
        if not isinstance(moves, list) or not moves or len(moves) > MAX_MOVES:
            raise InvalidInput("Missing moves", f'`moves` must list 1 to {MAX_MOVES} {{"from": [lon, lat], '
                               '"to": [lon, lat]}.', parameter="moves")
        for i, move in enumerate(moves):
            if not isinstance(move, Mapping):
                raise InvalidInput("Invalid moves", f'moves[{i}] must be {{"from": [lon, lat], "to": [lon, lat]}}.')
            edit.moves.append((_point(move.get("from"), f"moves[{i}].from"), _point(move.get("to"), f"moves[{i}].to")))
        if body.get("grids") is not None:
            edit.grids = [_code(c, "grids") for c in body.get("grids") or []]
        if body.get("community") is not None:
            edit.community = _text(body.get("community"), "community", 12)
    elif op == "split":
        edit.grids = [_code(body.get("grid"), "grid")]
        edit.line = _geojson(body.get("line"), "line")
        names = body.get("names") or []
        if not isinstance(names, list):
            raise InvalidInput("Invalid names", "`names` must be a list of names, in reading order.")
        edit.names = [_text(n, "names", NAME_MAX) for n in names]
    elif op == "merge":
        grids = body.get("grids")
        if not isinstance(grids, list) or len(grids) < 2:
            raise InvalidInput("Missing grids", "A merge needs `grids`: two or more adjacent grid codes.",
                               parameter="grids")
        edit.grids = list(dict.fromkeys(_code(c, "grids") for c in grids))
        if len(edit.grids) < 2:
            raise InvalidInput("Missing grids", "A merge needs two different grids.", parameter="grids")
    elif op == "create":
        community = body.get("community")
        if not isinstance(community, str) or not community.isdigit() or len(community) != 12:
            raise InvalidInput("Invalid community", "`community` must be the 12-digit community code.",
                               parameter="community")
        edit.community = community
        edit.geometry = _geojson(body.get("geometry"), "geometry")
        if edit.name is None:
            raise InvalidInput("Missing name", "A new grid needs a `name`.", parameter="name")
    elif op == "retire":
        edit.grids = [_code(body.get("grid"), "grid")]
        if body.get("into") is None:
            raise InvalidInput("Missing into", "Say which neighbouring grid takes the retired grid's area: `into`. "
                               "(A grid cannot simply vanish: its community would have a gap.)", parameter="into")
        edit.into = _code(body.get("into"), "into")
        if edit.into == edit.grids[0]:
            raise InvalidInput("Invalid into", "`into` must be another grid.", parameter="into")
    return edit


# -- what the database holds ----------------------------------------------------------------------
@dataclass
class Current:
    """The current version of a grid of the community being edited."""

    id: int
    code: str
    name: str
    kind: str
    version: int
    households: int
    population: int
    valid_from: dt.datetime | None
    geom: BaseGeometry

    @property
    def etag(self) -> str:
        """Its ETag."""
        return grid_etag(self.code, self.version)


@dataclass
class Context:
    """A community and its current grids (lon/lat), and the frame that measures them in metres."""

    community_id: int
    community_code: str
    community_name: str
    geom: BaseGeometry
    frame: Frame
    grids: dict[str, Current]
    has_buildings: bool


_GRIDS_OF_COMMUNITY = """
    SELECT g.id, g.code, g.name, g.kind, g.version, g.households, g.population, g.valid_from,
           ST_AsBinary(g.geom) AS wkb
    FROM grids g WHERE g.community_id = :cid AND g.valid_to IS NULL ORDER BY g.code"""


def _community_of(session: Session, edit: Edit) -> int:
    """The community an edit works in (all its grids must be current grids of one community)."""
    if edit.op == "create" or (edit.op == "move_vertices" and edit.community and not edit.grids):
        cid = session.scalar(text("SELECT id FROM admin_areas WHERE code = :c AND level = 'community'"),
                             {"c": edit.community})
        if cid is None:
            raise NotFound("No such community", f"There is no community with code {edit.community}.")
        return cid
    codes = list(edit.grids) + ([edit.into] if edit.into else [])
    if not codes and edit.op == "move_vertices":
        # The community of the current grid nearest the first vertex moved.
        lon, lat = edit.moves[0][0]
        cid = session.scalar(text("""
            SELECT community_id FROM grids WHERE valid_to IS NULL
              AND geom && ST_Expand(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 0.001)
            ORDER BY geom <-> ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), code LIMIT 1
        """), {"lon": lon, "lat": lat})
        if cid is None:
            raise NotFound("No grid there", f"No current grid lies near ({lon:.7f}, {lat:.7f}).")
        return cid
    if not codes:
        raise InvalidInput("Missing grids", "Name the grids the edit works on (`grids`, or `community` for "
                           "move_vertices).")
    rows = session.execute(text("""
        SELECT c.code, g.community_id, g.valid_to, g.version
        FROM unnest(CAST(:codes AS text[])) AS c(code)
        LEFT JOIN LATERAL (SELECT * FROM grids g WHERE g.code = c.code
                           ORDER BY g.valid_to DESC NULLS FIRST LIMIT 1) g ON true
    """), {"codes": codes}).all()
    missing = [r.code for r in rows if r.community_id is None]
    if missing:
        raise NotFound("No such grid", f"There is no grid {', '.join(missing)}.", grids=missing)
    retired = [r for r in rows if r.valid_to is not None]
    if retired:
        raise GridRetired(retired)
    communities = {r.community_id for r in rows}
    if len(communities) > 1:
        raise InvalidInput("Grids of several communities", "One edit works inside one community; the grids "
                           f"{', '.join(codes)} belong to different communities. Edit each community on its own.")
    return communities.pop()


class GridRetired(NotFound):
    """A grid named by the edit has been retired (by an earlier edit)."""

    title = "Grid retired"

    def __init__(self, rows):
        detail = "; ".join(f"grid {r.code} was retired at {r.valid_to.isoformat()} (its last version was "
                           f"{r.version})" for r in rows)
        super().__init__("Grid retired", detail + ". Reload the map: its area now belongs to other grids.",
                         grids=[r.code for r in rows])


def load_context(session: Session, community_id: int, *, lock: bool = False) -> Context:
    """The community and its current grids; with `lock`, the community and those grids are locked
    for this transaction (edits of one community then run one after the other)."""
    if lock:
        # The community row serialises editors of its grids; each editor reads the grids only
        # after it holds the lock, so it sees what the previous editor committed.
        session.execute(text("SELECT id FROM admin_areas WHERE id = :cid FOR NO KEY UPDATE"), {"cid": community_id})
    row = session.execute(text("SELECT code, name, ST_AsBinary(geom) AS wkb FROM admin_areas WHERE id = :cid"),
                          {"cid": community_id}).one()
    sql = _GRIDS_OF_COMMUNITY + (" FOR UPDATE OF g" if lock else "")
    rows = session.execute(text(sql), {"cid": community_id}).all()
    geom = shapely.from_wkb(bytes(row.wkb))
    frame = Frame.around([geom])
    grids = {}
    geoms = shapely.from_wkb([bytes(r.wkb) for r in rows]) if rows else np.array([])
    for r, g in zip(rows, geoms):
        grids[r.code] = Current(r.id, r.code, r.name, r.kind, r.version, r.households, r.population, r.valid_from, g)
    has_buildings = bool(rows) and bool(session.scalar(text(
        "SELECT EXISTS (SELECT 1 FROM buildings WHERE grid_id = ANY(CAST(:ids AS integer[])))"),
        {"ids": [r.id for r in rows]}))
    return Context(community_id, row.code, row.name, geom, frame, grids, has_buildings)


# -- planning -----------------------------------------------------------------------------------
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
    ctx = ctx or load_context(session, _community_of(session, edit), lock=lock)
    plan = Plan(edit, ctx, rules=rules)
    for code in list(edit.grids) + ([edit.into] if edit.into else []):
        if code not in ctx.grids:
            _community_of(session, edit)  # says why: unknown, retired meanwhile, or another community
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


def _m2(plan: Plan, geom: BaseGeometry) -> float:
    return float(plan.ctx.frame.area_m2(geom)) if not geom.is_empty else 0.0


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
        lost_m2 = _m2(plan, polygonal(shapely.intersection(cur.geom, taken)))
        if lost_m2 <= plan.rules.noise_m2:
            continue
        rest = _multi(shapely.difference(cur.geom, taken))
        if rest.is_empty or _m2(plan, rest) <= plan.rules.noise_m2:
            plan.problems.append(Problem("would_swallow", f"grid {code} would lose all its area to this edit; "
                                         "merge it or retire it into a neighbour instead", grid=code,
                                         area_m2=lost_m2, where=cur.geom))
            continue
        plan.closing.append(code)
        plan.opening.append(Opening(code, cur.name, cur.kind, rest, [(code, "version")], True,
                                    cur.households, cur.population))
        for o in takers:
            if _m2(plan, polygonal(shapely.intersection(o.geom, cur.geom))) > plan.rules.noise_m2:
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
    for end in (shapely.get_point(shapely.get_geometry(line, 0), 0), shapely.get_point(shapely.get_geometry(line, -1), -1)):
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
    areas = np.array([_m2(plan, o.geom) for o in openings])
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


def issue_codes(session: Session, community_code: str, n: int) -> list[str]:
    """`n` new grid codes for a community: sequences after the highest it ever issued (retired codes
    included, since grid_codes remembers them); past 999, the lowest never issued; Conflict when none."""
    if n <= 0:
        return []
    issued = {int(c[-3:]) for c in session.scalars(
        text("SELECT code FROM grid_codes WHERE code LIKE :p"), {"p": community_code + "___"}) if c[-3:].isdigit()}
    top = max(issued, default=0)
    seqs = list(range(top + 1, min(top + n, SEQUENCE_MAX) + 1))
    if len(seqs) < n:
        seqs += [s for s in range(1, SEQUENCE_MAX + 1) if s not in issued and s not in seqs][: n - len(seqs)]
    if len(seqs) < n:
        raise Conflict("No grid codes left", f"Community {community_code} has issued all {SEQUENCE_MAX} grid "
                       "sequence numbers; codes are never reused.")
    return [f"{community_code}{s:03d}" for s in seqs]


def _issue_provisional_codes(session: Session, plan: Plan) -> None:
    new = [o for o in plan.opening if not o.successor]
    if not new:
        return
    # Numbered west→east, north→south among themselves (gis.spatial.codes.reading_order), in metres.
    frame = plan.ctx.frame
    points = [frame.to_local(shapely.point_on_surface(o.geom) if o.ok else shapely.centroid(o.geom)) for o in new]
    areas = [_m2(plan, o.geom) for o in new if o.ok] or [1.0]
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


# -- commit ---------------------------------------------------------------------------------------
@dataclass
class EditResult:
    """A committed (or previewed) edit: what closed, what opened, lineage and what moved."""

    edit_id: int
    at: dt.datetime
    plan: Plan
    closed: list[dict]
    opened: list[dict]
    lineage: list[dict]
    impact: dict
    dry_run: bool

    def to_dict(self) -> dict:
        """JSON of the edit (preview or committed)."""
        plan = self.plan
        return {"edit": {"id": None if self.dry_run else self.edit_id, "op": plan.edit.op, "at": self.at.isoformat(),
                         "note": plan.edit.note, "community": {"code": plan.ctx.community_code,
                                                               "name": plan.ctx.community_name}},
                "preview": self.dry_run, "closed": self.closed, "opened": self.opened, "retired": plan.retired,
                "lineage": self.lineage, "impact": self.impact,
                "warnings": [p.to_dict() for p in plan.warnings], "if_match": plan.if_match(),
                "rules": plan.rules.to_dict()}


class EditRejected(InvalidGeometry):
    """The edit breaks a topology rule; `problems` lists every one."""

    title = "Edit rejected"


def _check_preconditions(plan: Plan, if_match: set[str] | None) -> None:
    if if_match is None:
        return
    # Every grid the edit changes must be sent as read; and every grid sent must still be as read
    # (a stale view of a neighbour is a stale edit even if the edit would not change it now).
    ctx = plan.ctx
    sent = {m.group(1) for tag in if_match if (m := re.fullmatch(r'"(\d{15})\.v\d+"', tag))}
    stale = [ctx.grids[c] for c in sorted(set(plan.closing) | (sent & set(ctx.grids))) if ctx.grids[c].etag not in if_match]
    if not stale:
        return
    current = [{"code": g.code, "version": g.version, "etag": g.etag, "name": g.name,
                "valid_from": g.valid_from.isoformat() if g.valid_from else None, "geometry": mapping(g.geom)}
               for g in stale]
    raise PreconditionFailed(
        "Grid changed meanwhile",
        "This edit changes " + ", ".join(f"grid {g.code} (now version {g.version}, ETag {g.etag})" for g in stale)
        + ", but If-Match does not carry those ETags: someone changed the grid after you read it, or the edit "
        "changes a neighbour you did not send. Reload the grids, redo the edit and send every ETag listed.",
        current=current)


def commit_edit(session: Session, edit: Edit, *, user_id: int | None, if_match: set[str] | None,
                rules: Rules | None = None, snap_m: float = DEFAULT_SNAP_M, dry_run: bool = False) -> EditResult:
    """Apply an edit in the caller's transaction: lock, check, write versions, move what moves, audit.

    `if_match` must hold the ETag of every grid the edit changes (None skips the check — only for
    a preview). Raises PreconditionFailed when one is stale, EditRejected with every problem when
    the edit breaks a rule. With `dry_run` the caller rolls back (a preview: the very same work).
    The caller commits.
    """
    try:
        community_id = _community_of(session, edit)
        plan = plan_edit(session, edit, rules, lock=True, ctx=load_context(session, community_id, lock=True))
    except GridRetired as exc:
        if if_match is None:
            raise
        # The planner edited a grid that someone else retired meanwhile: a stale edit.
        raise PreconditionFailed("Grid changed meanwhile", exc.detail, current=[], retired=exc.extra["grids"]) \
            from None
    _check_preconditions(plan, if_match)
    if plan.errors:
        first = plan.errors[0].detail
        more = f" and {len(plan.errors) - 1} more" if len(plan.errors) > 1 else ""
        raise EditRejected("Edit rejected", f"{first}{more}. Nothing was saved; fix every problem listed in "
                           "`problems` and try again.", problems=[p.to_dict() for p in plan.errors],
                           warnings=[p.to_dict() for p in plan.warnings], rules=plan.rules.to_dict())
    ctx = plan.ctx
    at = session.scalar(text("SELECT clock_timestamp()"))
    closing_ids = [ctx.grids[c].id for c in plan.closing]
    buildings_before = _building_grids(session, closing_ids, plan)
    events_scope = _open_events_near(session, plan, snap_m)
    session.execute(text("UPDATE grids SET valid_to = :at WHERE id = ANY(CAST(:ids AS integer[]))"),
                    {"at": at, "ids": closing_ids})
    edit_row = GridEdit(op=edit.op, community_id=ctx.community_id, user_id=user_id, at=at, note=edit.note,
                        request=edit.raw, impact={})
    session.add(edit_row)
    session.flush()
    new_ids = _insert_versions(session, plan, at)
    lineage = _insert_lineage(session, plan, edit_row.id, new_ids)
    assign_buildings(session, grid_ids=closing_ids + list(new_ids.values()))
    if ctx.has_buildings:
        refresh_grid_totals(session, new_ids.values())
    buildings_after = _building_grids(session, [], plan, ids=list(buildings_before))
    moved_events = _hand_over_events(session, events_scope, at, snap_m)
    _note_on_timelines(session, moved_events, edit_row.id, at, user_id)
    contracts = _flag_contracts(session, plan, lineage, edit_row.id, at, user_id)
    impact = _impact(session, plan, buildings_before, buildings_after, moved_events, contracts, new_ids)
    edit_row.impact = impact
    closed = [{"code": c, "version": ctx.grids[c].version, "valid_to": at.isoformat()} for c in plan.closing]
    opened = _opened(session, new_ids)
    session.add(AuditEntry(user_id=user_id, action=f"grid.{edit.op}", entity="grid_edit", entity_id=str(edit_row.id),
                           before={"grids": [{"code": c, "version": ctx.grids[c].version, "name": ctx.grids[c].name,
                                              "geometry": mapping(ctx.grids[c].geom)} for c in plan.closing]},
                           after={"grids": [{k: o[k] for k in ("code", "version", "name", "geometry")} for o in opened],
                                  "lineage": lineage, "note": edit.note}))
    session.flush()
    return EditResult(edit_row.id, at, plan, closed, opened, lineage, impact, dry_run)


def _insert_versions(session: Session, plan: Plan, at: dt.datetime) -> dict[str, int]:
    ctx = plan.ctx
    out = {}
    for o in plan.opening:
        version = ctx.grids[o.label].version + 1 if o.successor else 1
        try:
            with session.begin_nested():
                out[o.label] = session.scalar(text("""
                    INSERT INTO grids (code, name, kind, community_id, geom, households, population, valid_from, version)
                    VALUES (:code, :name, :kind, :cid, ST_Multi(ST_GeomFromWKB(:wkb, 4326)), :hh, :pop, :at, :version)
                    RETURNING id
                """), {"code": o.label, "name": o.name, "kind": o.kind, "cid": ctx.community_id,
                       "wkb": shapely.to_wkb(o.geom), "hh": o.households or 0, "pop": o.population or 0, "at": at,
                       "version": version})
        except IntegrityError as exc:
            reason = session.scalar(text("SELECT ST_IsValidReason(ST_GeomFromWKB(:wkb, 4326))"),
                                    {"wkb": shapely.to_wkb(o.geom)})
            if reason and reason != "Valid Geometry":
                raise EditRejected("Edit rejected", f"grid {o.label}: PostGIS finds the geometry invalid: {reason}.",
                                   problems=[Problem("invalid_geometry", f"grid {o.label}: {reason}",
                                                     grid=o.label).to_dict()]) from None
            raise Conflict("Grid code taken", f"Grid code {o.label} was issued meanwhile; try the edit again.") \
                from exc
    return out


def _insert_lineage(session: Session, plan: Plan, edit_id: int, new_ids: dict[str, int]) -> list[dict]:
    ctx = plan.ctx
    rows = []
    for o in plan.opening:
        for parent, relation in o.parents:
            rows.append({"edit": edit_id, "parent": ctx.grids[parent].id, "child": new_ids[o.label],
                         "relation": relation, "parent_code": parent, "parent_version": ctx.grids[parent].version,
                         "child_code": o.label,
                         "child_version": ctx.grids[o.label].version + 1 if o.successor else 1})
    if rows:
        session.execute(text("INSERT INTO grid_lineage (edit_id, parent_id, child_id, relation) "
                             "VALUES (:edit, :parent, :child, :relation)"), rows)
    return [{k: r[k] for k in ("parent_code", "parent_version", "child_code", "child_version", "relation")}
            for r in rows]


def _building_grids(session: Session, closing_ids: list[int], plan: Plan, *,
                    ids: list[int] | None = None) -> dict[int, tuple]:
    """Buildings the edit may move, with their grid code now: (code, households, population, building code)."""
    if ids is not None:
        where, params = "b.id = ANY(CAST(:ids AS bigint[]))", {"ids": ids}
    else:
        envelope = shapely.to_wkb(shapely.envelope(shapely.union_all([o.geom for o in plan.opening])))
        where = ("(b.grid_id = ANY(CAST(:gids AS integer[])) OR b.geom && ST_GeomFromWKB(:env, 4326))")
        params = {"gids": closing_ids, "env": envelope}
    return {r.id: (r.code, r.households, r.population, r.bcode) for r in session.execute(text(f"""
        SELECT b.id, g.code, b.households, b.population, b.code AS bcode
        FROM buildings b LEFT JOIN grids g ON g.id = b.grid_id WHERE {where}
    """), params)}


def _open_events_near(session: Session, plan: Plan, snap_m: float) -> dict[int, str | None]:
    """Open events the edit may hand over, with their grid code now: those on any version of a grid it
    changes, and unassigned or snapped ones near the grids it opens."""
    ctx = plan.ctx
    envelope = shapely.to_wkb(shapely.envelope(shapely.union_all([o.geom for o in plan.opening])))
    lat = abs(ctx.geom.centroid.y)
    margin = snap_m / (110_574.0 * max(np.cos(np.radians(min(lat + 1, 89.9))), 1e-6)) * 1.001
    return dict(session.execute(text("""
        SELECT e.id, g.code FROM events e JOIN grids g ON g.id = e.grid_id
        WHERE g.code = ANY(CAST(:codes AS text[])) AND event_is_open(e.status)
        UNION
        SELECT e.id, g.code FROM events e LEFT JOIN grids g ON g.id = e.grid_id
        WHERE e.geom && ST_Expand(ST_GeomFromWKB(:env, 4326), :margin) AND event_is_open(e.status)
          AND (e.grid_id IS NULL OR e.assign_status IN ('snapped', 'outside'))
    """), {"codes": plan.closing, "env": envelope, "margin": margin}).all())


def _hand_over_events(session: Session, before: dict[int, str | None], at: dt.datetime,
                      snap_m: float) -> list[tuple[int, str | None, str | None]]:
    """Open events whose grid (by locate_point's rule at the edit's instant) has another code now:
    recorded in reassigned_at and assigned again. Returns (event id, from code, to code)."""
    from gis.spatial.assign import assign_events

    if not before:
        return []
    after = grids_at(session, before, at, snap_m)
    codes = dict(session.execute(text("SELECT id, code FROM grids WHERE id = ANY(CAST(:ids AS integer[]))"),
                                 {"ids": [g for g in after.values() if g is not None]}).all())
    moved = [(eid, before[eid], codes.get(gid)) for eid, gid in after.items() if codes.get(gid) != before[eid]]
    if moved:
        ids = [m[0] for m in moved]
        session.execute(text("UPDATE events SET reassigned_at = :at WHERE id = ANY(CAST(:ids AS bigint[]))"),
                        {"at": at, "ids": ids})
        assign_events(session, event_ids=ids, snap_m=snap_m)
    return sorted(moved)


def _note_on_timelines(session: Session, moved: list[tuple[int, str | None, str | None]], edit_id: int,
                       at: dt.datetime, user_id: int | None) -> None:
    """A 'note' step on each handed-over case's timeline (the closed loop's event_moves): the case's
    status, level and handler stay; the note says which grid it left for which, and by which edit."""
    if not moved:
        return
    session.execute(text("""
        INSERT INTO event_moves (event_id, at, actor_id, move, from_status, to_status, from_level, to_level,
                                 note, handler_id, deadline_at, detail)
        SELECT e.id, :at, :user_id, 'note', e.status, e.status, e.level, e.level,
               '网格调整，案件由网格 ' || coalesce(m.from_code, '—') || ' 移交 ' || coalesce(m.to_code, '—')
                 || ' — boundary edit ' || :edit_id || ' handed this case from grid ' || coalesce(m.from_code, '(none)')
                 || ' to ' || coalesce(m.to_code, '(none)'),
               e.handler_id, e.deadline_at,
               jsonb_build_object('grid_edit', :edit_id, 'from_grid', m.from_code, 'to_grid', m.to_code)
        FROM unnest(CAST(:ids AS bigint[]), CAST(:froms AS text[]), CAST(:tos AS text[])) AS m(id, from_code, to_code)
        JOIN events e ON e.id = m.id
    """), {"at": at, "user_id": user_id, "edit_id": edit_id, "ids": [m[0] for m in moved],
           "froms": [m[1] for m in moved], "tos": [m[2] for m in moved]})


_RELATION_WORDS = {"split": "split into", "merged": "merged into", "absorbed": "absorbed into"}


def _flag_contracts(session: Session, plan: Plan, lineage: list[dict], edit_id: int, at: dt.datetime,
                    user_id: int | None) -> list[dict]:
    """Contracts in force or ahead on retired codes are flagged for re-assignment; others follow their code."""
    out = []
    for code in plan.retired:
        heirs = [(r["child_code"], r["relation"]) for r in lineage if r["parent_code"] == code]
        relation = heirs[0][1] if heirs else "retired"
        children = ", ".join(sorted({c for c, _ in heirs}))
        flag = (f"网格 {code} 已于 {at.date().isoformat()} 撤销（{children}）— grid {code} was "
                f"{_RELATION_WORDS.get(relation, 'retired into')} {children} by edit {edit_id}; re-assign this contract")
        # The contracts.flag column (issue #5) exists for this: a person must re-assign the contract.
        rows = session.execute(text("""
            WITH old AS (
                SELECT k.id, k.flag FROM contracts k
                WHERE k.grid_code = :code AND (k.valid_to IS NULL OR k.valid_to > CURRENT_DATE)
                FOR UPDATE
            )
            UPDATE contracts k SET flag = :flag
            FROM old, cadres c
            WHERE k.id = old.id AND c.id = k.cadre_id
            RETURNING k.id, c.code AS cadre, k.grid_code, k.role, old.flag AS old_flag
        """), {"flag": flag, "code": code}).all()
        for r in sorted(rows, key=lambda r: r.id):
            out.append({"id": r.id, "cadre": r.cadre, "grid_code": r.grid_code, "role": r.role, "action": "flagged",
                        "flag": flag})
            session.add(AuditEntry(user_id=user_id, action="contract.flag", entity="contract", entity_id=str(r.id),
                                   before={"flag": r.old_flag}, after={"flag": flag, "grid_edit": edit_id}))
    kept = [o.label for o in plan.opening if o.successor]
    for r in session.execute(text("""
        SELECT k.id, c.code AS cadre, k.grid_code, k.role FROM contracts k JOIN cadres c ON c.id = k.cadre_id
        WHERE k.grid_code = ANY(CAST(:codes AS text[])) AND (k.valid_to IS NULL OR k.valid_to > CURRENT_DATE)
        ORDER BY k.grid_code, k.id
    """), {"codes": kept}):
        out.append({"id": r.id, "cadre": r.cadre, "grid_code": r.grid_code, "role": r.role,
                    "action": "follows the new boundary"})
    return out


def _impact(session: Session, plan: Plan, before: dict, after: dict, events: list, contracts: list[dict],
            new_ids: dict[str, int]) -> dict:
    ctx = plan.ctx
    moves: dict[tuple, dict] = {}
    for bid, (code, hh, pop, bcode) in before.items():
        new = after.get(bid, (None,))[0]
        if new == code:
            continue
        m = moves.setdefault((code, new), {"from": code, "to": new, "buildings": 0, "households": 0,
                                           "population": 0, "codes": []})
        m["buildings"] += 1
        m["households"] += hh
        m["population"] += pop
        if len(m["codes"]) < MAX_LISTED_IDS:
            m["codes"].append(bcode)
    event_moves: dict[tuple, dict] = {}
    for eid, old, new in events:
        m = event_moves.setdefault((old, new), {"from": old, "to": new, "events": 0, "ids": []})
        m["events"] += 1
        if len(m["ids"]) < MAX_LISTED_IDS:
            m["ids"].append(eid)
    key = lambda m: (m["from"] or "", m["to"] or "")  # noqa: E731
    grids = []
    for code in plan.closing:
        g = ctx.grids[code]
        grids.append({"code": code, "version": g.version, "state": "closed", "area_m2": round(_m2(plan, g.geom), 2),
                      "households": g.households, "population": g.population})
    for r in session.execute(text("""
        SELECT g.code, g.version, g.area_m2, g.households, g.population,
               (SELECT count(*) FROM buildings b WHERE b.grid_id = g.id) AS buildings
        FROM grids g WHERE g.id = ANY(CAST(:ids AS integer[])) ORDER BY g.code
    """), {"ids": list(new_ids.values())}):
        grids.append({"code": r.code, "version": r.version, "state": "opened", "area_m2": round(r.area_m2, 2),
                      "households": r.households, "population": r.population, "buildings": r.buildings})
    workers = [{"user": name, "grid_code": code} for name, code in session.execute(text("""
        SELECT u.name, ug.grid_code FROM user_grids ug JOIN users u ON u.id = ug.user_id
        WHERE ug.grid_code = ANY(CAST(:codes AS text[])) ORDER BY ug.grid_code, u.name
    """), {"codes": plan.retired})]
    building_moves = sorted(moves.values(), key=key)
    return {
        "grids": grids,
        "buildings": {"moved": sum(m["buildings"] for m in building_moves),
                      "households": sum(m["households"] for m in building_moves),
                      "population": sum(m["population"] for m in building_moves), "moves": building_moves},
        "open_events": {"moved": len(events), "moves": sorted(event_moves.values(), key=key)},
        "contracts": contracts,
        "workers_on_retired_grids": workers,
    }


def _opened(session: Session, new_ids: dict[str, int]) -> list[dict]:
    rows = session.execute(text("""
        SELECT g.id, g.code, g.version, g.name, g.kind, g.area_m2, g.households, g.population, g.valid_from,
               ST_AsGeoJSON(g.geom, 15)::json AS geometry
        FROM grids g WHERE g.id = ANY(CAST(:ids AS integer[])) ORDER BY g.code
    """), {"ids": list(new_ids.values())}).all()
    return [{"code": r.code, "version": r.version, "etag": grid_etag(r.code, r.version), "name": r.name,
             "kind": r.kind, "area_m2": round(r.area_m2, 2), "households": r.households, "population": r.population,
             "valid_from": r.valid_from.isoformat(), "geometry": r.geometry} for r in rows]


__all__ = ["Edit", "EditRejected", "EditResult", "Plan", "commit_edit", "parse_edit", "plan_edit", "validate_edit",
           "grid_etag", "parse_if_match", "issue_codes"]
