"""Topology rules on hand-drawn grids: every problem at once, with where and how many m²."""
from __future__ import annotations

import pytest
import shapely
from shapely.geometry import mapping
from sqlalchemy import text

from gis.spatial.editing import parse_edit, validate_edit
from gis.spatial.topology import Frame, Rules, snap, validate_partition
from tests.factories import bowtie, four_squares, grid, hierarchy, lonlat, polygon_m, rect, three_grids, two_grids


def _rules(**kw) -> Rules:
    return Rules(area_m2=None, households=None, **kw)


def _reshape(session, *pairs, take=False, rules=None):
    edit = parse_edit({"op": "reshape", "take_from_neighbours": take,
                       "grids": [{"code": code, "geometry": mapping(geom)} for code, geom in pairs]})
    return validate_edit(session, edit, rules or _rules())


def _by_rule(plan, rule):
    return [p for p in plan.problems if p.rule == rule]


def _geo_m2(session, geom) -> float:
    """The known answer: PostGIS's geodesic area of the piece we drew."""
    return session.scalar(text("SELECT ST_Area(ST_GeomFromText(:w, 4326)::geography)"), {"w": geom.wkt})


def _m2_point(problem) -> tuple[float, float]:
    """Where a problem's piece lies, in metres from the factories' origin."""
    from tests.factories import M_PER_DEG_LAT, M_PER_DEG_LON, ORIGIN_LAT, ORIGIN_LON

    c = problem.where.centroid
    return (c.x - ORIGIN_LON) * M_PER_DEG_LON, (c.y - ORIGIN_LAT) * M_PER_DEG_LAT


# -- measuring -----------------------------------------------------------------------------------
def test_frame_area_is_the_geodesic_area(session):
    geom = rect(0, 0, 137, 91)
    postgis = session.scalar(text("SELECT ST_Area(ST_GeomFromText(:w, 4326)::geography)"), {"w": geom.wkt})
    assert Frame(121.47, 31.23).area_m2(geom) == pytest.approx(postgis, rel=1e-4)


# -- snapping ------------------------------------------------------------------------------------
def test_snap_takes_a_neighbours_vertex_exactly_and_leaves_far_vertices_alone():
    frame = Frame(121.47, 31.23)
    neighbour = rect(100, 0, 200, 100)
    drawn = polygon_m((0, 0), (100.3, 0.2), (99.4, 100), (0, 100))  # 0.36 m and 0.6 m from B's corners
    out = snap(drawn, shapely.boundary(neighbour), frame, 0.5)
    coords = [tuple(c) for c in shapely.get_coordinates(out)]
    corners = [tuple(c) for c in shapely.get_coordinates(neighbour)]
    assert coords[1] in corners  # snapped: the very same floats as the neighbour's vertex
    assert coords[2] == tuple(shapely.get_coordinates(drawn)[2])  # 0.6 m away: kept bit for bit
    assert coords[0] == lonlat(0, 0) and coords[3] == lonlat(0, 100)


def test_snap_moves_a_vertex_onto_a_neighbours_edge_within_tolerance():
    frame = Frame(121.47, 31.23)
    neighbour = rect(100, 0, 200, 100)
    drawn = polygon_m((0, 0), (100, 0), (100.4, 50), (100, 100), (0, 100))
    out = snap(drawn, shapely.boundary(neighbour), frame, 0.5)
    moved = shapely.Point(shapely.get_coordinates(out)[2])
    assert frame.length_m(shapely.shortest_line(moved, shapely.boundary(neighbour))) < 1e-6
    assert frame.area_m2(shapely.intersection(out, neighbour)) < 1e-6


# -- one edit: each rule -------------------------------------------------------------------------
def test_invalid_geometry_is_reported_with_geos_reason(session):
    g = three_grids(session)
    plan = _reshape(session, (g["a"].code, bowtie()))
    (problem,) = _by_rule(plan, "invalid_geometry")
    assert problem.grid == g["a"].code and "Self-intersection" in problem.detail


def test_not_a_polygon_is_reported(session):
    g = three_grids(session)
    plan = validate_edit(session, parse_edit({"op": "reshape", "grids": [
        {"code": g["a"].code, "geometry": {"type": "LineString", "coordinates": [lonlat(0, 0), lonlat(1, 1)]}}]}))
    assert [p.rule for p in plan.errors] == ["wrong_type"]


def test_overlap_names_the_sibling_and_its_area(session):
    g = three_grids(session)
    plan = _reshape(session, (g["a"].code, rect(0, 0, 220, 200)))
    overlaps = sorted(_by_rule(plan, "overlap"), key=lambda p: p.other)
    assert [(p.grid, p.other) for p in overlaps] == [(g["a"].code, g["b"].code), (g["a"].code, g["c"].code)]
    for p in overlaps:
        strip = rect(200, 0, 220, 100) if p.other == g["b"].code else rect(200, 100, 220, 200)
        assert p.area_m2 == pytest.approx(_geo_m2(session, strip), rel=1e-4)
    assert 200 < _m2_point(overlaps[0])[0] < 220


def test_gap_says_where_and_how_big(session):
    g = three_grids(session)
    plan = _reshape(session, (g["a"].code, rect(0, 0, 180, 200)))
    (gap,) = _by_rule(plan, "gap")
    assert gap.area_m2 == pytest.approx(_geo_m2(session, rect(180, 0, 200, 200)), rel=1e-4)
    x, y = _m2_point(gap)
    assert 180 < x < 200 and 0 < y < 200
    assert not plan.valid


def test_outside_the_community_in_square_metres(session):
    g = three_grids(session)
    plan = _reshape(session, (g["a"].code, rect(-10, 0, 200, 200)))
    (outside,) = _by_rule(plan, "outside_community")
    assert outside.other == g["community"].code
    assert outside.area_m2 == pytest.approx(_geo_m2(session, rect(-10, 0, 0, 200)), rel=1e-4)


def test_sliver_small_or_thin_parts(session):
    g = two_grids(session)
    west, east = g[1], g[2]
    # A 1 m wide strip of 100 m² cut off the west grid by a split line at x = 1 m: thin.
    plan = validate_edit(session, parse_edit({"op": "split", "grid": west.code, "line": mapping(
        shapely.LineString([lonlat(1.5, -5), lonlat(1.5, 105)]))}), _rules())
    slivers = _by_rule(plan, "sliver")
    assert len(slivers) == 1 and "wide" in slivers[0].detail, slivers
    # A small detached square of 64 m² given to the east grid: too small (and the grid is multipart).
    plan = _reshape(session, (west.code, shapely.difference(rect(0, 0, 100, 100), rect(40, 40, 48, 48))),
                    (east.code, shapely.union(rect(100, 0, 200, 100), rect(40, 40, 48, 48))))
    (sliver,) = _by_rule(plan, "sliver")
    assert sliver.grid == east.code
    assert sliver.area_m2 == pytest.approx(_geo_m2(session, rect(40, 40, 48, 48)), rel=1e-4)
    assert [w.rule for w in plan.warnings] == ["multipart"]


def test_every_problem_at_once(session):
    g = three_grids(session)
    # A grows 20 m into B and C, pulls back 10 m at the bottom-left corner, and pokes 5 m past the top.
    drawn = polygon_m((10, 0), (220, 0), (220, 205), (0, 205), (0, 10), (10, 10))
    plan = _reshape(session, (g["a"].code, drawn))
    rules = sorted({p.rule for p in plan.errors})
    assert rules == ["gap", "outside_community", "overlap"]
    assert len(_by_rule(plan, "overlap")) == 2
    assert _by_rule(plan, "gap")[0].area_m2 == pytest.approx(_geo_m2(session, rect(0, 0, 10, 10)), rel=1e-4)


def test_bounds_are_warnings_and_configurable(session):
    g = four_squares(session)
    code = g["nw"].code
    edit = parse_edit({"op": "merge", "grids": [g["nw"].code, g["ne"].code]})
    strict = validate_edit(session, edit, Rules(area_m2=(5_000, 15_000), households=(300, 500)))
    assert strict.valid  # warnings never block
    assert {w.rule for w in strict.warnings} == {"area_bounds", "household_bounds"}
    relaxed = validate_edit(session, edit, Rules(area_m2=(5_000, 25_000), households=None))
    assert relaxed.valid and relaxed.warnings == []
    # A special grid (a park, a school) is exempt from the size bounds.
    grid_special = validate_edit(session, parse_edit({"op": "merge", "grids": [code, g["ne"].code],
                                                      "kind": "special"}), Rules(area_m2=(1, 2)))
    assert grid_special.warnings == []


def test_snapping_closes_a_hand_drawn_half_metre_mismatch(session):
    _, west, east = two_grids(session)
    # The west grid redrawn with its east edge 0.3 m off the neighbour's corners: snapped, no problem.
    plan = _reshape(session, (west.code, polygon_m((0, 0), (100.3, 0), (99.8, 100), (0, 100))))
    # Snapped back onto the very same boundary: nothing changes, and nothing else is wrong.
    assert plan.opening == [] and [p.rule for p in plan.problems] == ["no_change"]


def test_beyond_the_tolerance_nothing_is_snapped(session):
    _, west, east = two_grids(session)
    plan = _reshape(session, (west.code, polygon_m((0, 0), (100.8, 0), (100.8, 100), (0, 100))))
    (overlap,) = _by_rule(plan, "overlap")
    assert overlap.area_m2 == pytest.approx(_geo_m2(session, rect(100, 0, 100.8, 100)), rel=1e-3)


# -- a whole partition ---------------------------------------------------------------------------
def test_partition_of_clean_grids_is_valid(session):
    three_grids(session)  # T-junction at (200, 100): A's edge has no vertex there, still no problem
    report = validate_partition(session, "310101", _rules())
    assert report.valid and (report.communities, report.grids) == (1, 3)


def test_partition_reports_gaps_overlaps_outside_and_slivers_together(session):
    _, _, community = hierarchy(session, rect(0, 0, 300, 100))
    grid(session, community, 1, rect(0, 0, 110, 100))            # overlaps 002 by 10 m × 100 m
    grid(session, community, 2, rect(100, 0, 200, 100))
    grid(session, community, 3, rect(220, 0, 300, 105))          # 20 m gap before it, 5 m outside
    grid(session, community, 4, rect(200, 0, 201, 100))          # a 1 m wide strip: a sliver
    session.flush()
    report = validate_partition(session, community.code, _rules())
    counts = report.counts(report.errors)
    assert counts == {"overlap": 1, "outside_community": 1, "gap": 1, "sliver": 1}
    by = {p.rule: p for p in report.errors}
    assert by["overlap"].area_m2 == pytest.approx(_geo_m2(session, rect(100, 0, 110, 100)), rel=1e-4)
    assert by["gap"].area_m2 == pytest.approx(_geo_m2(session, rect(201, 0, 220, 100)), rel=1e-4)
    assert by["outside_community"].area_m2 == pytest.approx(_geo_m2(session, rect(220, 100, 300, 105)), rel=1e-4)
    assert by["sliver"].grid.endswith("004")
    as_json = report.to_dict()
    assert as_json["valid"] is False and as_json["errors"][0]["where"]["type"] in ("Polygon", "MultiPolygon")


def test_demo_district_partition_is_valid(demo_session):
    report = validate_partition(demo_session, None, _rules())
    assert report.grids > 500
    assert report.valid, report.counts(report.errors)
