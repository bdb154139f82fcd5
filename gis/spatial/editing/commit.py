"""Committing an edit: lock, check, close and open dated versions, move what moves, audit — one transaction.

- **Dated versions.** An edit closes the current versions it changes (`valid_to` = the edit's
  instant) and opens new ones (`valid_from` = the same instant): a reshaped grid keeps its code
  with the next version number; pieces of a split, a merged grid and a created grid get new
  15-digit codes, numbered after the highest sequence the community ever issued (grid_codes
  remembers retired codes, so none is reused), in reading order (west→east, north→south).
  grid_lineage links parent and child versions (version, split, merged, absorbed, carved).
- **One transaction.** Buildings, open events and contracts move with it (gis.spatial.editing.impact);
  the audit log gets the before and after geometry.
- **No lost edit, no overlap.** The edit locks its community (and the grids it closes) before
  reading them, so concurrent edits of one community run one after the other, each checked against
  what the previous one committed. The caller must send the ETag of every grid the edit changes
  (If-Match); a grid changed meanwhile makes the edit fail with PreconditionFailed and the current
  versions, never overwrite.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import shapely
from shapely.geometry import mapping
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gis.core.errors import Conflict, InvalidGeometry, InvalidInput, PreconditionFailed
from gis.core.models import AuditEntry, GridEdit
from gis.spatial.assign import DEFAULT_SNAP_M
from gis.spatial.buildings import assign_buildings, refresh_grid_totals
from gis.spatial.editing.compare import affected_problems, before_after, grid_figures, split_warnings
from gis.spatial.editing.context import GridRetired, community_of, load_context
from gis.spatial.editing.impact import (
    MAX_LISTED_IDS,
    buildings_in_reach,
    edit_impact,
    flag_contracts,
    hand_over_events,
    note_on_timelines,
    open_events_near,
)
from gis.spatial.editing.parse import Edit, grid_etag
from gis.spatial.editing.plan import Plan, plan_edit
from gis.spatial.topology import Problem, Rules


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
    warnings_new: list[Problem]
    warnings_already: list[Problem]

    def to_dict(self) -> dict:
        """JSON of the edit (preview or committed)."""
        plan = self.plan
        return {"edit": {"id": None if self.dry_run else self.edit_id, "op": plan.edit.op, "at": self.at.isoformat(),
                         "note": plan.edit.note, "community": {"code": plan.ctx.community_code,
                                                               "name": plan.ctx.community_name}},
                "preview": self.dry_run, "closed": self.closed, "opened": self.opened, "retired": plan.retired,
                "lineage": self.lineage, "impact": self.impact,
                "warnings": [p.to_dict() for p in self.warnings_new],
                "warnings_already": [p.to_dict() for p in self.warnings_already[:MAX_LISTED_IDS]],
                "warnings_already_count": len(self.warnings_already), "if_match": plan.if_match(),
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
    stale = [ctx.grids[c] for c in sorted(set(plan.closing) | (sent & set(ctx.grids)))
             if ctx.grids[c].etag not in if_match]
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
    The caller commits. A commit needs a note (why the edit was made); a preview does not.
    """
    if not dry_run and not (edit.note or "").strip():
        raise InvalidInput("Note required", "Say why this edit is made in `note` (for example: "
                           "两个小区合并为一个网格); every saved edit keeps its reason. Nothing was saved.",
                           parameter="note")
    try:
        community_id = community_of(session, edit)
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
    buildings_before = buildings_in_reach(session, closing_ids, plan)
    figures_before = grid_figures(session, closing_ids, ctx.has_buildings)
    near = shapely.union_all([ctx.grids[c].geom for c in plan.closing] + [o.geom for o in plan.opening])
    problems_before = affected_problems(session, ctx.community_code, set(plan.closing), near, plan.rules)
    events_scope = open_events_near(session, plan, snap_m)
    session.execute(text("UPDATE grids SET valid_to = :at WHERE id = ANY(CAST(:ids AS integer[]))"),
                    {"at": at, "ids": closing_ids})
    # A preview may come before the planner wrote why; its row is rolled back, never kept without a note.
    edit_row = GridEdit(op=edit.op, community_id=ctx.community_id, user_id=user_id, at=at,
                        note=edit.note or "(preview)", request=edit.raw, impact={})
    session.add(edit_row)
    session.flush()
    new_ids = _insert_versions(session, plan, at)
    lineage = _insert_lineage(session, plan, edit_row.id, new_ids)
    assign_buildings(session, grid_ids=closing_ids + list(new_ids.values()))
    if ctx.has_buildings:
        refresh_grid_totals(session, new_ids.values())
    buildings_after = buildings_in_reach(session, [], plan, ids=list(buildings_before))
    moved_events = hand_over_events(session, events_scope, at, snap_m)
    note_on_timelines(session, moved_events, edit_row.id, at, user_id)
    contracts = flag_contracts(session, plan, lineage, edit_row.id, at, user_id)
    impact = edit_impact(session, plan, buildings_before, buildings_after, moved_events, contracts, new_ids)
    figures_after = grid_figures(session, list(new_ids.values()), ctx.has_buildings)
    impact["before_after"] = before_after(figures_before, figures_after)
    new, already = split_warnings(problems_before, affected_problems(session, ctx.community_code, set(new_ids), near,
                                                                     plan.rules))
    edit_row.impact = impact
    closed = [{"code": c, "version": ctx.grids[c].version, "valid_to": at.isoformat()} for c in plan.closing]
    opened = _opened(session, new_ids)
    session.add(AuditEntry(user_id=user_id, action=f"grid.{edit.op}", entity="grid_edit", entity_id=str(edit_row.id),
                           before={"grids": [{"code": c, "version": ctx.grids[c].version, "name": ctx.grids[c].name,
                                              "geometry": mapping(ctx.grids[c].geom)} for c in plan.closing]},
                           after={"grids": [{k: o[k] for k in ("code", "version", "name", "geometry")} for o in opened],
                                  "lineage": lineage, "note": edit.note}))
    session.flush()
    return EditResult(edit_row.id, at, plan, closed, opened, lineage, impact, dry_run, new, already)


def _insert_versions(session: Session, plan: Plan, at: dt.datetime) -> dict[str, int]:
    ctx = plan.ctx
    out = {}
    for o in plan.opening:
        version = ctx.grids[o.label].version + 1 if o.successor else 1
        try:
            with session.begin_nested():
                out[o.label] = session.scalar(text("""
                    INSERT INTO grids (code, name, kind, community_id, geom, households, population, valid_from,
                                       version)
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


def _opened(session: Session, new_ids: dict[str, int]) -> list[dict]:
    rows = session.execute(text("""
        SELECT g.id, g.code, g.version, g.name, g.kind, g.area_m2, g.households, g.population, g.valid_from,
               ST_AsGeoJSON(g.geom, 15)::json AS geometry
        FROM grids g WHERE g.id = ANY(CAST(:ids AS integer[])) ORDER BY g.code
    """), {"ids": list(new_ids.values())}).all()
    return [{"code": r.code, "version": r.version, "etag": grid_etag(r.code, r.version), "name": r.name,
             "kind": r.kind, "area_m2": round(r.area_m2, 2), "households": r.households, "population": r.population,
             "valid_from": r.valid_from.isoformat(), "geometry": r.geometry} for r in rows]
