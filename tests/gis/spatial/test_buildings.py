"""Building → grid: the current grid covering the footprint's point on surface; smallest code on an edge."""
from __future__ import annotations

import shapely
from shapely import box
from sqlalchemy import text

from gis.spatial.buildings import assign_buildings, grid_of_footprint, refresh_grid_totals
from tests.factories import building, grid, hierarchy, lonlat, rect, two_grids


def _grid_of(session, code: str) -> str | None:
    return session.execute(text("""
        SELECT g.code FROM buildings b LEFT JOIN grids g ON g.id = b.grid_id WHERE b.code = :c
    """), {"c": code}).scalar()


def test_footprints_land_where_their_point_on_surface_is(session):
    community, west, east = two_grids(session)
    building(session, "inside-west", rect(20, 20, 50, 40))
    # Straddles the edge at x = 100 but mostly east: its point on surface (x = 105) is in the east grid.
    building(session, "straddles", rect(80, 20, 130, 40))
    building(session, "outside", rect(300, 20, 320, 40))
    changed = assign_buildings(session)
    assert changed == 2  # two got a grid; the one outside stays NULL, which is no change
    assert _grid_of(session, "inside-west") == west.code
    assert _grid_of(session, "straddles") == east.code
    assert _grid_of(session, "outside") is None


def _exact_pair(session):
    """Two grids meeting at lon 121.5 exactly, drawn in binary-exact degrees."""
    d = 2.0 ** -10  # ≈ 100 m; every coordinate below is exact in binary floating point
    _, _, community = hierarchy(session, box(121.5 - d, 31.25, 121.5 + d, 31.25 + d))
    west = grid(session, community, 1, box(121.5 - d, 31.25, 121.5, 31.25 + d))
    east = grid(session, community, 2, box(121.5, 31.25, 121.5 + d, 31.25 + d))
    return west, east, d


def test_point_on_a_shared_edge_goes_to_the_smallest_code(session):
    west, east, d = _exact_pair(session)
    # Centred on the edge: its point on surface is (121.5, …), covered by both grids.
    footprint = box(121.5 - d / 8, 31.25 + d / 4, 121.5 + d / 8, 31.25 + d / 2)
    assert shapely.point_on_surface(footprint).x == 121.5
    building(session, "on-edge", footprint)
    assign_buildings(session)
    assert _grid_of(session, "on-edge") == west.code == min(west.code, east.code)
    found = grid_of_footprint(session, shapely.to_wkb(footprint))
    assert found.code == west.code


def test_l_shaped_building_goes_by_point_on_surface_not_centroid(session):
    _, west, east = two_grids(session)
    # A tall wing in the west grid (x 60–90) and a long foot along the bottom reaching x = 190.
    # Its centroid (x ≈ 104.5, y ≈ 36.4) lies east of the edge at x = 100, in the notch outside
    # the building; most of the footprint, and its point on surface (x = 75), are west.
    pts = [lonlat(60, 10), lonlat(190, 10), lonlat(190, 30), lonlat(90, 30), lonlat(90, 90), lonlat(60, 90)]
    ell = shapely.Polygon(pts)
    edge_lon = lonlat(100, 0)[0]
    assert ell.centroid.x > edge_lon and not ell.contains(ell.centroid)
    assert shapely.point_on_surface(ell).x < edge_lon
    building(session, "ell", ell)
    assign_buildings(session)
    assert _grid_of(session, "ell") == west.code


def test_only_current_grid_versions_take_buildings(session):
    community, west, east = two_grids(session)
    session.execute(text("UPDATE grids SET valid_to = now() - interval '1 day' WHERE id = :id"), {"id": west.id})
    building(session, "in-retired", rect(20, 20, 50, 40))
    assign_buildings(session)
    assert _grid_of(session, "in-retired") is None
    newer = grid(session, community, 3, rect(0, 0, 100, 100))
    assign_buildings(session, grid_ids=[newer.id])
    assert _grid_of(session, "in-retired") == newer.code


def test_assign_by_grid_ids_moves_buildings_after_a_reshape(session):
    community, west, east = two_grids(session)
    b = building(session, "near-edge", rect(85, 40, 95, 60))
    assign_buildings(session)
    assert _grid_of(session, "near-edge") == west.code
    # The shared edge moves 20 m west: the building now stands in the east grid.
    for g, shape in ((west, rect(0, 0, 80, 100)), (east, rect(80, 0, 200, 100))):
        session.execute(text("UPDATE grids SET geom = ST_GeomFromEWKB(:g) WHERE id = :id"),
                        {"g": shapely.to_wkb(shapely.set_srid(shape, 4326), include_srid=True), "id": g.id})
    assert assign_buildings(session, grid_ids=[west.id, east.id]) == 1
    assert _grid_of(session, "near-edge") == east.code
    assert assign_buildings(session, building_ids=[b.id]) == 0  # already right: nothing to change


def test_single_lookup_agrees_with_bulk(session):
    _, west, east = two_grids(session)
    for geom, want in ((rect(80, 20, 130, 40), east), (rect(20, 60, 40, 80), west), (rect(300, 0, 310, 10), None)):
        found = grid_of_footprint(session, shapely.to_wkb(geom))
        assert (found.code if found else None) == (want.code if want else None)


def test_refresh_grid_totals_sums_buildings(session):
    _, west, east = two_grids(session)
    building(session, "a", rect(10, 10, 30, 30), households=12, population=30)
    building(session, "b", rect(40, 10, 60, 30), households=8, population=21)
    building(session, "c", rect(150, 10, 170, 30), households=5, population=9)
    assign_buildings(session)
    refresh_grid_totals(session)
    totals = dict(session.execute(text("SELECT code, (households, population)::text FROM grids")).all())
    assert totals == {west.code: "(20,51)", east.code: "(5,9)"}
