"""Reading grid versions: a community's grids on any date, a grid's history and lineage, the committed
edits, and where a building or an event stood on any date.

A date or time `at` picks the versions in force then: valid_from <= at < valid_to (NULL: unbounded),
the same rule as locate_point. A building's grid on a date is the building rule (gis.spatial.buildings) applied
to that date's versions; an event's is locate_point's rule at that time.
"""
from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.core import clock, dated
from gis.core.errors import NotFound
from gis.spatial.assign import DEFAULT_SNAP_M, locate_point
from gis.spatial.editing.parse import grid_etag


def _version_json(r, geometry: bool = True) -> dict:
    out = {"code": r.code, "version": r.version, "name": r.name, "kind": r.kind,
           "community": r.community_code, "area_m2": round(r.area_m2, 2), "households": r.households,
           "population": r.population, "valid_from": r.valid_from.isoformat() if r.valid_from else None,
           "valid_to": r.valid_to.isoformat() if r.valid_to else None, "current": r.valid_to is None,
           "etag": grid_etag(r.code, r.version) if r.valid_to is None else None}
    if geometry:
        out["geometry"] = json.loads(r.geometry) if isinstance(r.geometry, str) else r.geometry
    return out


_VERSION_COLUMNS = """g.id, g.code, g.version, g.name, g.kind, g.area_m2, g.households, g.population, g.valid_from,
       g.valid_to, a.code AS community_code, ST_AsGeoJSON(g.geom, 15)::json AS geometry"""

_VALID_AT = dated.in_force("g", ":at")


def grid_version(session: Session, code: str, at: dt.datetime | None = None) -> dict:
    """The version of grid `code` in force at `at` (default: the current one), or NotFound saying why."""
    where = _VALID_AT if at is not None else dated.current("g")
    row = session.execute(text(f"""
        SELECT {_VERSION_COLUMNS} FROM grids g JOIN admin_areas a ON a.id = g.community_id
        WHERE g.code = :code AND {where}
    """), {"code": code, "at": clock.aware(at, session) if at else None}).first()
    if row is None:
        known = session.execute(text(f"SELECT min(valid_from), max(valid_to), bool_or({dated.current('grids')}) "
                                     "FROM grids WHERE code = :c"), {"c": code}).one()
        if known[2] is None:
            raise NotFound("No such grid", f"There is no grid {code}.")
        when = f"at {clock.shown(clock.aware(at, session), clock.zone_of(session))}" if at else "now"
        span = (f"it was in force from {known[0].isoformat() if known[0] else 'before our records'}"
                f" until {known[1].isoformat() if known[1] else 'now'}")
        raise NotFound("Grid not in force", f"Grid {code} was not in force {when}; {span}. See "
                       f"/api/v1/grids/{code}/history.")
    return _version_json(row)


def community_grids(session: Session, community_code: str, at: dt.datetime | None = None) -> list[dict]:
    """The grids of a community in force at `at` (default: current), with ETags for the current ones."""
    cid = session.scalar(text("SELECT id FROM admin_areas WHERE code = :c AND level = 'community'"),
                         {"c": community_code})
    if cid is None:
        raise NotFound("No such community", f"There is no community with code {str(community_code)[:40]!r}.")
    where = _VALID_AT if at is not None else dated.current("g")
    rows = session.execute(text(f"""
        SELECT {_VERSION_COLUMNS} FROM grids g JOIN admin_areas a ON a.id = g.community_id
        WHERE g.community_id = :cid AND {where} ORDER BY g.code
    """), {"cid": cid, "at": clock.aware(at, session) if at else None}).all()
    return [_version_json(r) for r in rows]


def grid_history(session: Session, code: str, *, geometry: bool = True) -> dict:
    """Every version of a grid code, oldest first, each with the edit that opened it, its parents and
    children (lineage), plus where the code's area went if it was retired."""
    rows = session.execute(text(f"""
        SELECT {_VERSION_COLUMNS} FROM grids g JOIN admin_areas a ON a.id = g.community_id
        WHERE g.code = :code ORDER BY g.version
    """), {"code": code}).all()
    if not rows:
        raise NotFound("No such grid", f"There is no grid {code}.")
    ids = [r.id for r in rows]
    links = session.execute(text("""
        SELECT l.parent_id, l.child_id, l.relation, l.edit_id, p.code AS parent_code, p.version AS parent_version,
               c.code AS child_code, c.version AS child_version
        FROM grid_lineage l JOIN grids p ON p.id = l.parent_id JOIN grids c ON c.id = l.child_id
        WHERE l.parent_id = ANY(CAST(:ids AS integer[])) OR l.child_id = ANY(CAST(:ids AS integer[]))
        ORDER BY l.id
    """), {"ids": ids}).all()
    edits = {r.id: r for r in session.execute(text("""
        SELECT e.id, e.op, e.at, e.note, u.name AS user_name FROM grid_edits e LEFT JOIN users u ON u.id = e.user_id
        WHERE e.id IN (SELECT edit_id FROM grid_lineage WHERE child_id = ANY(CAST(:ids AS integer[])))
           OR e.id IN (SELECT edit_id FROM grid_lineage WHERE parent_id = ANY(CAST(:ids AS integer[])))
    """), {"ids": ids})}

    def edit_json(edit_id):
        e = edits.get(edit_id)
        return None if e is None else {"id": e.id, "op": e.op, "at": e.at.isoformat(), "user": e.user_name,
                                       "note": e.note}

    versions = []
    for r in rows:
        v = _version_json(r, geometry)
        v["parents"] = [{"code": link.parent_code, "version": link.parent_version, "relation": link.relation}
                        for link in links if link.child_id == r.id and link.parent_code != code]
        v["children"] = [{"code": link.child_code, "version": link.child_version, "relation": link.relation}
                         for link in links if link.parent_id == r.id and link.child_code != code]
        opened_by = [link.edit_id for link in links if link.child_id == r.id]
        closed_by = [link.edit_id for link in links if link.parent_id == r.id]
        v["opened_by"] = edit_json(opened_by[0]) if opened_by else None
        v["closed_by"] = edit_json(closed_by[0]) if closed_by else None
        versions.append(v)
    last = rows[-1]
    return {"code": code, "name": last.name, "community": last.community_code, "retired": last.valid_to is not None,
            "current_version": last.version if last.valid_to is None else None, "versions": versions}


def _covering_versions(session: Session, point_sql: str, params: dict) -> list[dict]:
    rows = session.execute(text(f"""
        SELECT g.code, g.version, g.name, g.valid_from, g.valid_to
        FROM grids g WHERE ST_Covers(g.geom, {point_sql})
        ORDER BY g.valid_from NULLS FIRST, g.code
    """), params).all()
    return [{"code": r.code, "version": r.version, "name": r.name,
             "valid_from": r.valid_from.isoformat() if r.valid_from else None,
             "valid_to": r.valid_to.isoformat() if r.valid_to else None} for r in rows]


def building_grids(session: Session, building_code: str, at: dt.datetime | None = None) -> dict:
    """Where a building stood: the grid version by the building rule at `at` (default now), and every
    version that ever covered its point on surface (its history)."""
    row = session.execute(text("""
        SELECT b.id, b.code, b.name, ST_AsBinary(ST_PointOnSurface(b.geom)) AS pos, g.code AS grid_code,
               g.version AS grid_version
        FROM buildings b LEFT JOIN grids g ON g.id = b.grid_id WHERE b.code = :c
    """), {"c": building_code}).first()
    if row is None:
        raise NotFound("No such building", f"There is no building with code {str(building_code)[:40]!r}.")
    point = "ST_GeomFromWKB(:pos, 4326)"
    history = _covering_versions(session, point, {"pos": bytes(row.pos)})
    out = {"building": {"code": row.code, "name": row.name},
           "grid": {"code": row.grid_code, "version": row.grid_version} if row.grid_code else None,
           "history": history}
    if at is not None:
        hit = session.execute(text(f"""
            SELECT g.code, g.version, g.name, g.valid_from, g.valid_to FROM grids g
            WHERE ST_Covers(g.geom, {point}) AND {_VALID_AT} ORDER BY g.code LIMIT 1
        """), {"pos": bytes(row.pos), "at": clock.aware(at, session)}).first()
        out["at"] = clock.aware(at, session).isoformat()
        out["grid_at"] = None if hit is None else {
            "code": hit.code, "version": hit.version, "name": hit.name,
            "valid_from": hit.valid_from.isoformat() if hit.valid_from else None,
            "valid_to": hit.valid_to.isoformat() if hit.valid_to else None}
    return out


def event_grids(session: Session, event_id: int, at: dt.datetime | None = None,
                snap_m: float = DEFAULT_SNAP_M) -> dict:
    """Where an event stood: the grid it is assigned to now, the grid in force when it occurred, the
    edits that handed it over, at `at` (locate_point's rule) when asked, and every covering version."""
    row = session.execute(text("""
        SELECT e.id, e.occurred_at, e.reassigned_at, e.status, ST_X(e.geom) AS lon, ST_Y(e.geom) AS lat,
               e.accuracy_m, g.code AS grid_code, g.version AS grid_version
        FROM events e LEFT JOIN grids g ON g.id = e.grid_id WHERE e.id = :id
    """), {"id": event_id}).first()
    if row is None:
        raise NotFound("No such event", f"There is no event {event_id}.")

    def where(moment):
        loc = locate_point(session, row.lon, row.lat, accuracy_m=row.accuracy_m, at=moment, snap_m=snap_m)
        return {"at": clock.aware(moment, session).isoformat(), "status": loc.status,
                "grid": {"code": loc.grid.code, "name": loc.grid.name} if loc.grid else None}

    out = {"event": {"id": row.id, "status": row.status, "occurred_at": row.occurred_at.isoformat(),
                     "reassigned_at": row.reassigned_at.isoformat() if row.reassigned_at else None},
           "assigned": {"code": row.grid_code, "version": row.grid_version} if row.grid_code else None,
           "when_it_occurred": where(row.occurred_at),
           "history": _covering_versions(session, "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)",
                                         {"lon": row.lon, "lat": row.lat})}
    if at is not None:
        out["at"] = where(at)
    return out


def list_edits(session: Session, *, community_code: str | None = None, limit: int = 50) -> tuple[list[dict], int]:
    """Committed edits, newest first (of one community, or all), and how many older ones were left out."""
    rows = session.execute(text("""
        SELECT e.id, e.op, e.at, e.note, u.name AS user_name, a.code AS community, e.impact,
               count(*) OVER () AS matched
        FROM grid_edits e JOIN admin_areas a ON a.id = e.community_id LEFT JOIN users u ON u.id = e.user_id
        WHERE CAST(:c AS text) IS NULL OR a.code = CAST(:c AS text)
        ORDER BY e.at DESC, e.id DESC LIMIT :limit
    """), {"c": community_code, "limit": limit}).all()
    return [_edit_json(r, full=False) for r in rows], (rows[0].matched - len(rows) if rows else 0)


def get_edit(session: Session, edit_id: int) -> dict:
    """One committed edit with its lineage and impact."""
    row = session.execute(text("""
        SELECT e.id, e.op, e.at, e.note, u.name AS user_name, a.code AS community, e.impact, e.request
        FROM grid_edits e JOIN admin_areas a ON a.id = e.community_id LEFT JOIN users u ON u.id = e.user_id
        WHERE e.id = :id
    """), {"id": edit_id}).first()
    if row is None:
        raise NotFound("No such edit", f"There is no grid edit {edit_id}.")
    out = _edit_json(row, full=True)
    out["lineage"] = [dict(r._mapping) for r in session.execute(text("""
        SELECT p.code AS parent_code, p.version AS parent_version, c.code AS child_code, c.version AS child_version,
               l.relation
        FROM grid_lineage l JOIN grids p ON p.id = l.parent_id JOIN grids c ON c.id = l.child_id
        WHERE l.edit_id = :id ORDER BY l.id
    """), {"id": edit_id})]
    return out


def _edit_json(r, *, full: bool) -> dict:
    impact = r.impact or {}
    out = {"id": r.id, "op": r.op, "at": r.at.isoformat(), "user": r.user_name, "note": r.note,
           "community": r.community,
           "grids": [{k: g[k] for k in ("code", "version", "state")} for g in impact.get("grids", [])],
           "buildings_moved": impact.get("buildings", {}).get("moved", 0),
           "open_events_moved": impact.get("open_events", {}).get("moved", 0)}
    if full:
        out["impact"] = impact
        out["request"] = r.request
    return out
