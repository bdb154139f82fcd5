"""What moves with a committed edit, in its transaction: buildings, open events and their timelines,
contracts, and the impact the preview and the edit's record show.

- Buildings under the changed grids are re-derived by the building rule (gis.spatial.buildings);
  open events whose grid changes are handed to the new grid (locate_point's rule at the edit's
  instant; `events.reassigned_at` records it), while closed events — and open ones that stay in
  the same grid — keep the version in force when they occurred; contracts on retired codes are
  flagged for re-assignment.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.core import dated
from gis.core.models import AuditEntry
from gis.spatial.assign import assign_events, grids_at
from gis.spatial.editing.plan import Plan

# Lists in an impact (building codes, event ids) are cut at this length; the counts are complete.
MAX_LISTED_IDS = 200


def buildings_in_reach(session: Session, closing_ids: list[int], plan: Plan, *,
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


def open_events_near(session: Session, plan: Plan, snap_m: float) -> dict[int, str | None]:
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


def hand_over_events(session: Session, before: dict[int, str | None], at: dt.datetime,
                     snap_m: float) -> list[tuple[int, str | None, str | None]]:
    """Open events whose grid (by locate_point's rule at the edit's instant) has another code now:
    recorded in reassigned_at and assigned again. Returns (event id, from code, to code)."""
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


def note_on_timelines(session: Session, moved: list[tuple[int, str | None, str | None]], edit_id: int,
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


def flag_contracts(session: Session, plan: Plan, lineage: list[dict], edit_id: int, at: dt.datetime,
                   user_id: int | None) -> list[dict]:
    """Contracts in force or ahead on retired codes are flagged for re-assignment; others follow their code."""
    out = []
    for code in plan.retired:
        heirs = [(r["child_code"], r["relation"]) for r in lineage if r["parent_code"] == code]
        relation = heirs[0][1] if heirs else "retired"
        children = ", ".join(sorted({c for c, _ in heirs}))
        flag = (f"网格 {code} 已于 {at.date().isoformat()} 撤销（{children}）— grid {code} was "
                f"{_RELATION_WORDS.get(relation, 'retired into')} {children} by edit {edit_id}; "
                "re-assign this contract")
        # The contracts.flag column (issue #5) exists for this: a person must re-assign the contract.
        rows = session.execute(text(f"""
            WITH old AS (
                SELECT k.id, k.flag FROM contracts k
                WHERE k.grid_code = :code AND {dated.not_ended('k', 'CURRENT_DATE')}
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
    for r in session.execute(text(f"""
        SELECT k.id, c.code AS cadre, k.grid_code, k.role FROM contracts k JOIN cadres c ON c.id = k.cadre_id
        WHERE k.grid_code = ANY(CAST(:codes AS text[])) AND {dated.not_ended('k', 'CURRENT_DATE')}
        ORDER BY k.grid_code, k.id
    """), {"codes": kept}):
        out.append({"id": r.id, "cadre": r.cadre, "grid_code": r.grid_code, "role": r.role,
                    "action": "follows the new boundary"})
    return out


def edit_impact(session: Session, plan: Plan, before: dict, after: dict, events: list, contracts: list[dict],
                new_ids: dict[str, int]) -> dict:
    """The impact an edit records and a preview shows: grids closed and opened, buildings and open events
    moved by grid pair, contracts, and the workers scoped to retired grids."""
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
        grids.append({"code": code, "version": g.version, "state": "closed", "area_m2": round(plan.area_m2(g.geom), 2),
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
