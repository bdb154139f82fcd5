"""What a preview shows of an edit: each affected grid before and after, new warnings apart from old ones, the note."""
from __future__ import annotations

import pytest
from shapely.geometry import mapping
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from gis.core.errors import InvalidInput
from gis.spatial.buildings import refresh_grid_totals
from gis.spatial.editing import commit_edit, parse_edit, validate_edit
from gis.spatial.history import grid_history
from gis.spatial.topology import Rules, validate_partition
from tests.factories import event, gapped_grids, grid_building, lonlat, rect, two_grids
from webmap import catalog

RULES = Rules(area_m2=None, households=None)


def _geodesic_m2(session, geom) -> float:
    return session.scalar(text("SELECT ST_Area(ST_GeomFromText(:wkt, 4326)::geography)"), {"wkt": geom.wkt})


def _move_edge(x_to: float, note: str | None = None) -> dict:
    """The shared edge of two_grids (x = 100 m) moved to x = `x_to` m."""
    body = {"op": "move_vertices", "moves": [{"from": list(lonlat(100, 100)), "to": list(lonlat(x_to, 100))},
                                             {"from": list(lonlat(100, 0)), "to": list(lonlat(x_to, 0))}]}
    return body | ({"note": note} if note else {})


def test_before_and_after_of_each_grid_on_a_hand_built_edit(session):
    _, west, east = two_grids(session)
    homes = {"west": 10, "east_near": 30, "east_far": 7}
    grid_building(session, west, rect(10, 10, 20, 20), households=homes["west"])
    grid_building(session, east, rect(105, 40, 115, 60), households=homes["east_near"])  # goes west with the edge
    grid_building(session, east, rect(170, 40, 180, 60), households=homes["east_far"])
    event(session, east, 120, 50)  # open, handed to the west grid
    event(session, east, 160, 50)  # open, stays
    event(session, east, 125, 50, status="closed")  # closed: never counted, never moved
    refresh_grid_totals(session, [west.id, east.id])
    session.commit()

    result = commit_edit(session, parse_edit(_move_edge(130)), user_id=None, if_match=None, rules=RULES,
                         dry_run=True)
    session.rollback()
    table = {r["code"]: r for r in result.to_dict()["impact"]["before_after"]}
    assert set(table) == {west.code, east.code}
    w, e = table[west.code], table[east.code]
    assert w["before"] == {"version": 1,
                           "area_m2": pytest.approx(_geodesic_m2(session, rect(0, 0, 100, 100)), abs=0.01),
                           "buildings": 1, "households": homes["west"], "open_events": 0}
    assert w["after"] == {"version": 2,
                          "area_m2": pytest.approx(_geodesic_m2(session, rect(0, 0, 130, 100)), abs=0.01),
                          "buildings": 2, "households": homes["west"] + homes["east_near"], "open_events": 1}
    assert e["before"] == {"version": 1, "area_m2": pytest.approx(_geodesic_m2(session, rect(100, 0, 200, 100)),
                                                                 abs=0.01),
                           "buildings": 2, "households": homes["east_near"] + homes["east_far"], "open_events": 2}
    assert e["after"] == {"version": 2, "area_m2": pytest.approx(_geodesic_m2(session, rect(130, 0, 200, 100)),
                                                                abs=0.01),
                          "buildings": 1, "households": homes["east_far"], "open_events": 1}
    # The preview is rolled back: nothing of it stays.
    assert session.scalar(text("SELECT count(*) FROM grid_edits")) == 0


def test_a_split_grid_has_no_after_and_its_pieces_no_before(session):
    _, west, _ = two_grids(session)
    session.commit()
    line = {"type": "LineString", "coordinates": [list(lonlat(-5, 50)), list(lonlat(105, 50))]}
    result = commit_edit(session, parse_edit({"op": "split", "grid": west.code, "line": line}), user_id=None,
                         if_match=None, rules=RULES, dry_run=True)
    session.rollback()
    rows = {r["code"]: r for r in result.impact["before_after"]}
    assert rows[west.code]["after"] is None and rows[west.code]["before"]["version"] == 1
    pieces = [o["code"] for o in result.opened]
    assert len(pieces) == 2 and all(rows[c]["before"] is None and rows[c]["after"]["version"] == 1 for c in pieces)
    assert sum(rows[c]["after"]["area_m2"] for c in pieces) == pytest.approx(rows[west.code]["before"]["area_m2"],
                                                                              abs=0.02)  # each rounded to 0.01


def test_new_warnings_apart_from_a_gap_that_was_already_there(session):
    g = gapped_grids(session)
    session.commit()
    lo, hi = 5_000, 12_000
    rules = Rules(area_m2=(lo, hi), households=None)
    # West grows from 100 m into the gap to 150 m: too big now (a new warning); the gap, smaller, was there before.
    body = {"op": "reshape", "grids": [{"code": g["west"].code, "geometry": mapping(rect(0, 0, 150, 100))}]}
    assert validate_edit(session, parse_edit(body), rules).valid
    session.rollback()
    result = commit_edit(session, parse_edit(body), user_id=None, if_match=None, rules=rules, dry_run=True)
    session.rollback()
    assert [(p.rule, p.grid) for p in result.warnings_new] == [("area_bounds", g["west"].code)]
    assert [(p.rule, p.other) for p in result.warnings_already] == [("gap", g["community"].code)]
    answer = result.to_dict()
    assert answer["warnings_already_count"] == 1 and len(answer["warnings"]) == 1
    (warning,) = answer["warnings"]
    assert warning["values"] == {"lo": lo, "hi": hi}
    said = catalog.problem_text(warning, "zh")
    assert said == catalog.t("rule.area_bounds", "zh", grid=g["west"].code, area=f"{warning['area_m2']:,.1f} m²",
                             lo=f"{lo:,}", hi=f"{hi:,}", households="", parts="")
    assert said != warning["detail"]


def test_a_save_needs_a_note_and_keeps_it(session):
    _, west, east = two_grids(session)
    session.commit()
    etags = {f'"{west.code}.v1"', f'"{east.code}.v1"'}
    with pytest.raises(InvalidInput) as refused:
        commit_edit(session, parse_edit(_move_edge(110)), user_id=None, if_match=etags, rules=RULES)
    assert refused.value.title == "Note required" and catalog.problem_key("Note required")[0] == "problem.note_required"
    session.rollback()
    with pytest.raises(InvalidInput):
        commit_edit(session, parse_edit(_move_edge(110, note="   ")), user_id=None, if_match=etags, rules=RULES)
    session.rollback()
    assert session.scalar(text("SELECT count(*) FROM grid_edits")) == 0
    why = "新楼盘划入西网格"
    done = commit_edit(session, parse_edit(_move_edge(110, note=why)), user_id=None, if_match=etags, rules=RULES)
    session.commit()
    assert session.scalar(text("SELECT note FROM grid_edits WHERE id = :i"), {"i": done.edit_id}) == why
    assert grid_history(session, west.code, geometry=False)["versions"][-1]["opened_by"]["note"] == why
    # The database holds the rule too: no new edit without a note.
    with pytest.raises(IntegrityError):
        session.execute(text("INSERT INTO grid_edits (op, community_id, at, request, impact) "
                             "SELECT 'reshape', community_id, now(), '{}', '{}' FROM grids LIMIT 1"))
    session.rollback()


def test_on_the_demo_only_the_warnings_an_edit_brings_are_new(demo_session):
    """The demo's grids carry many old warnings (sizes, households): a small move counts them apart."""
    s = demo_session
    rules = Rules()
    x, y = s.execute(text("""
        WITH pts AS (SELECT g.code, g.community_id, (ST_DumpPoints(g.geom)).geom AS p FROM grids g
                     WHERE g.valid_to IS NULL)
        SELECT ST_X(p) AS x, ST_Y(p) AS y FROM pts JOIN admin_areas a ON a.id = pts.community_id
        WHERE NOT ST_Intersects(p, ST_Boundary(a.geom))
        GROUP BY ST_X(p), ST_Y(p) HAVING count(DISTINCT pts.code) = 3 ORDER BY 1, 2 LIMIT 1""")).one()
    body = {"op": "move_vertices", "note": "东移约 2 米", "moves": [{"from": [x, y], "to": [x + 0.00002, y]}]}
    preview = commit_edit(s, parse_edit(body), user_id=None, if_match=None, rules=rules, dry_run=True)
    s.rollback()
    affected = set(preview.plan.closing)
    assert len(affected) == 3

    def concerning(report):
        return {(p.rule, p.grid, p.other) for p in report.errors + report.warnings
                if p.grid in affected or p.other in affected}

    before = concerning(validate_partition(s, None, rules))
    commit_edit(s, parse_edit(body), user_id=None, if_match=set(preview.plan.if_match()), rules=rules)
    s.commit()
    after = concerning(validate_partition(s, None, rules))
    assert {(p.rule, p.grid, p.other) for p in preview.warnings_new} == after - before
    assert {(p.rule, p.grid, p.other) for p in preview.warnings_already} == after & before
    assert preview.to_dict()["warnings_already_count"] == len(after & before) > 0
