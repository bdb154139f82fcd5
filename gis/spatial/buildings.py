"""Buildings (楼栋) and the rule that puts each footprint in exactly one grid."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.core import dated
from gis.core.models import Grid

# Why the point on surface: a footprint drawn a little over a grid edge (digitising slop, a
# building on a plot line) must still land in one grid, and its centroid can fall outside an
# L- or U-shaped building. ST_PointOnSurface is always inside the footprint, so a building
# belongs where most people would say it stands. Only current grid versions (valid_to IS
# NULL) take buildings; buildings keep no history of their own.
RULE = ("a building belongs to the current grid that covers ST_PointOnSurface of its footprint "
        "(ST_Covers, so a point on a grid edge counts); when that point lies on an edge shared by "
        "several grids, the smallest grid code wins; a footprint whose point is in no grid gets none")


def footprint_grids_sql(source: str, where: str = "TRUE") -> str:
    """SQL selecting (id, grid_id) for footprints of table `source` (id, geom) by the rule.

    The rule: a building belongs to the current grid that covers ST_PointOnSurface of its
    footprint; on a shared edge the smallest grid code wins; no covering grid, no row.
    The join is driven from the grids side (each grid's geometry is prepared once and probes
    the footprints' GiST index), so `source` needs a GiST index on geom for large sets.
    """
    return f"""
        SELECT DISTINCT ON (f.id) f.id, g.id AS grid_id
        FROM grids g
        CROSS JOIN LATERAL (
            SELECT s.id FROM {source} s
            WHERE s.geom && g.geom AND ({where})
              AND ST_Covers(g.geom, ST_PointOnSurface(s.geom))
            OFFSET 0
        ) f
        WHERE {dated.current('g')}
        ORDER BY f.id, g.code
    """


def grid_of_footprint(session: Session, footprint_wkb: bytes) -> Grid | None:
    """The current grid a footprint (WKB, SRID 4326) belongs to, or None.

    The rule: the current grid covering ST_PointOnSurface(footprint) (ST_Covers: a point on
    an edge counts); when the point lies on an edge shared by several grids, the smallest
    grid code wins.
    """
    grid_id = session.execute(text(f"""
        SELECT g.id FROM grids g
        WHERE {dated.current('g')}
          AND ST_Covers(g.geom, ST_PointOnSurface(ST_GeomFromWKB(:wkb, 4326)))
        ORDER BY g.code LIMIT 1
    """), {"wkb": footprint_wkb}).scalar()
    return session.get(Grid, grid_id) if grid_id is not None else None


def assign_buildings(session: Session, *, building_ids: Iterable[int] | None = None,
                     grid_ids: Iterable[int] | None = None) -> int:
    """(Re)derive buildings.grid_id by the rule; returns how many buildings changed grid.

    The rule: the current grid covering ST_PointOnSurface of the footprint, smallest grid
    code on a shared edge, NULL when no current grid covers it. With `building_ids`, only
    those buildings; with `grid_ids`, the buildings now in those grids or under their
    geometry (use it after a grid is reshaped); with neither, every building.
    """
    params: dict = {}
    where = "TRUE"
    if building_ids is not None:
        params["ids"] = sorted(set(building_ids))
        where = "s.id = ANY(:ids)"
        if len(params["ids"]) <= BUILDING_DRIVEN_MAX:
            return _assign_few(session, params["ids"])
    elif grid_ids is not None:
        params["gids"] = sorted(set(grid_ids))
        # A few grids (an edit, a small import): their buildings, found by index, one probe each.
        few = session.scalars(text("""
            SELECT b.id FROM buildings b WHERE b.grid_id = ANY(CAST(:gids AS integer[]))
            UNION
            SELECT b.id FROM grids gg JOIN buildings b ON b.geom && gg.geom WHERE gg.id = ANY(CAST(:gids AS integer[]))
            LIMIT :limit
        """), {"gids": params["gids"], "limit": BUILDING_DRIVEN_MAX + 1}).all()
        if len(few) <= BUILDING_DRIVEN_MAX:
            return _assign_few(session, few)
        where = ("(s.grid_id = ANY(:gids) OR EXISTS (SELECT 1 FROM grids gg WHERE gg.id = ANY(:gids)"
                 " AND gg.geom && s.geom))")
    result = session.execute(text(f"""
        UPDATE buildings b SET grid_id = x.grid_id
        FROM (
            SELECT s.id, m.grid_id
            FROM buildings s
            LEFT JOIN ({footprint_grids_sql('buildings', where)}) m ON m.id = s.id
            WHERE {where}
        ) x
        WHERE b.id = x.id AND b.grid_id IS DISTINCT FROM x.grid_id
    """), params)
    return result.rowcount


# Up to this many buildings, each finds its grid by one probe of the current grids' index (a few
# milliseconds for an edited grid's buildings); more, and the join is driven from the grids side.
BUILDING_DRIVEN_MAX = 20_000


def _assign_few(session: Session, ids: list[int]) -> int:
    """assign_buildings' rule for a short list of buildings, one index probe per footprint."""
    result = session.execute(text(f"""
        UPDATE buildings b SET grid_id = x.grid_id
        FROM (
            SELECT s.id, m.grid_id
            FROM buildings s
            CROSS JOIN LATERAL (SELECT ST_PointOnSurface(s.geom) AS p) pos
            LEFT JOIN LATERAL (
                SELECT g.id AS grid_id FROM grids g
                WHERE {dated.current('g')} AND ST_Covers(g.geom, pos.p)
                ORDER BY g.code LIMIT 1) m ON true
            WHERE s.id = ANY(CAST(:ids AS bigint[]))
        ) x
        WHERE b.id = x.id AND b.grid_id IS DISTINCT FROM x.grid_id
    """), {"ids": ids})
    return result.rowcount


def refresh_grid_totals(session: Session, grid_ids: Iterable[int] | None = None) -> None:
    """Set grids' households and population to the sums over their buildings."""
    params: dict = {}
    where = dated.current("g")
    if grid_ids is not None:
        params["gids"] = sorted(set(grid_ids))
        where += " AND g.id = ANY(:gids)"
    session.execute(text(f"""
        UPDATE grids g SET households = COALESCE(t.households, 0), population = COALESCE(t.population, 0)
        FROM grids g2
        LEFT JOIN (SELECT grid_id, sum(households) AS households, sum(population) AS population
                   FROM buildings {'WHERE grid_id = ANY(:gids)' if grid_ids is not None else ''}
                   GROUP BY grid_id) t ON t.grid_id = g2.id
        WHERE g.id = g2.id AND {where.replace('g.', 'g2.')}
          AND (g.households, g.population) IS DISTINCT FROM (COALESCE(t.households, 0), COALESCE(t.population, 0))
    """), params)
