"""The community an edit works in, as the database holds it: its current grids (locked for a commit),
and the grid codes it has issued."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.core import dated
from gis.core.errors import Conflict, InvalidInput, NotFound
from gis.spatial.editing.parse import Edit, grid_etag
from gis.spatial.topology import Frame

SEQUENCE_MAX = 999


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


_GRIDS_OF_COMMUNITY = f"""
    SELECT g.id, g.code, g.name, g.kind, g.version, g.households, g.population, g.valid_from,
           ST_AsBinary(g.geom) AS wkb
    FROM grids g WHERE g.community_id = :cid AND {dated.current('g')} ORDER BY g.code"""


def community_of(session: Session, edit: Edit) -> int:
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
        cid = session.scalar(text(f"""
            SELECT community_id FROM grids WHERE {dated.current('grids')}
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
