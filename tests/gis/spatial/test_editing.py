"""Boundary edits on hand-drawn grids: versions, codes, lineage, what moves, history, locking."""
from __future__ import annotations

import datetime as dt

import pytest
import shapely
from geoalchemy2.shape import to_shape
from shapely.geometry import mapping
from sqlalchemy import select, text

from gis.core.errors import InvalidInput, NotFound, PreconditionFailed
from gis.core.models import AuditEntry, Grid
from gis.spatial.assign import assign_events, locate_point
from gis.spatial.editing import EditRejected, commit_edit, grid_etag, parse_edit, validate_edit
from gis.spatial.history import building_grids, event_grids, grid_history
from gis.spatial.topology import Rules, validate_partition
from tests.factories import (
    cadre,
    contract,
    event,
    four_squares,
    gapped_grids,
    grid_building,
    lonlat,
    rect,
    three_grids,
    two_grids,
)
from webmap import catalog

RULES = Rules(area_m2=None, households=None)


def _commit(session, body, etags=None, **kw):
    """Commit an edit with the current ETags of the grids it names (or those given), with a note if it has none."""
    edit = parse_edit({"note": "测试调整"} | body)
    if etags is None:
        plan = validate_edit(session, edit, RULES)
        etags = set(plan.if_match())
    result = commit_edit(session, edit, user_id=None, if_match=etags, rules=RULES, **kw)
    session.commit()
    return result


def _current(session, code):
    return session.scalar(select(Grid).where(Grid.code == code, Grid.valid_to.is_(None)))


def _versions(session, code):
    return list(session.scalars(select(Grid).where(Grid.code == code).order_by(Grid.version)))


def _partition_ok(session, code="310101"):
    report = validate_partition(session, code, RULES)
    assert report.valid, [p.detail for p in report.errors]


# -- move a shared vertex: every grid having it changes, in one edit ---------------------------------
def test_moving_the_vertex_four_grids_share_changes_all_four(session):
    g = four_squares(session)
    session.commit()
    result = _commit(session, {"op": "move_vertices", "moves": [{"from": lonlat(100, 100), "to": lonlat(120, 90)}]})
    assert sorted(c["code"] for c in result.closed) == sorted(g[k].code for k in ("nw", "ne", "sw", "se"))
    for key in ("nw", "ne", "sw", "se"):
        old, new = _versions(session, g[key].code)
        assert (old.version, new.version) == (1, 2)
        assert old.valid_to == new.valid_from == result.at
        assert lonlat(120, 90) in [tuple(c) for c in shapely.get_coordinates(to_shape(new.geom))]
    _partition_ok(session)
    # The areas still add up to the community: what NW and NE gained, SW and SE lost.
    total = session.scalar(text("SELECT sum(area_m2) FROM grids WHERE valid_to IS NULL"))
    assert total == pytest.approx(session.scalar(text("SELECT area_m2 FROM admin_areas WHERE level = 'community'")),
                                  rel=1e-9)


def test_moving_a_vertex_on_the_community_boundary_outwards_is_refused(session):
    g = four_squares(session)
    session.commit()
    plan = validate_edit(session, parse_edit({"op": "move_vertices",
                                              "moves": [{"from": lonlat(100, 200), "to": lonlat(100, 215)}]}), RULES)
    assert {p.rule for p in plan.errors} == {"outside_community"}
    assert {p.grid for p in plan.errors} == {g["nw"].code, g["ne"].code}
    # Along the boundary it is fine: the top edge stays straight.
    plan = validate_edit(session, parse_edit({"op": "move_vertices",
                                              "moves": [{"from": lonlat(100, 200), "to": lonlat(130, 200)}]}), RULES)
    assert plan.valid


def test_moving_a_vertex_nobody_has_is_a_problem(session):
    four_squares(session)
    plan = validate_edit(session, parse_edit({"op": "move_vertices",
                                              "moves": [{"from": lonlat(50, 50), "to": lonlat(60, 60)}]}), RULES)
    assert [p.rule for p in plan.errors] == ["no_vertex"]


def test_moving_a_vertex_of_only_one_neighbour_leaves_a_gap_and_an_overlap(session):
    g = two_grids(session)
    plan = validate_edit(session, parse_edit({"op": "move_vertices", "grids": [g[1].code],
                                              "moves": [{"from": lonlat(100, 100), "to": lonlat(100, 100)}]}), RULES)
    assert [p.rule for p in plan.problems] == ["no_change"]
    plan = validate_edit(session, parse_edit({"op": "move_vertices", "grids": [g[1].code],
                                              "moves": [{"from": lonlat(100, 0), "to": lonlat(120, 0)}]}), RULES)
    assert {p.rule for p in plan.errors} == {"overlap"}
    plan = validate_edit(session, parse_edit({"op": "move_vertices", "grids": [g[1].code],
                                              "moves": [{"from": lonlat(100, 0), "to": lonlat(80, 0)}]}), RULES)
    assert {p.rule for p in plan.errors} == {"gap"}


# -- reshape ------------------------------------------------------------------------------------------
def test_reshape_taking_from_neighbours_shrinks_them_in_the_same_edit(session):
    g = three_grids(session)
    session.commit()
    result = _commit(session, {"op": "reshape", "take_from_neighbours": True,
                               "grids": [{"code": g["a"].code, "geometry": mapping(rect(0, 0, 250, 200))}]})
    assert sorted(c["code"] for c in result.closed) == [g["a"].code, g["b"].code, g["c"].code]
    b = _current(session, g["b"].code)
    assert shapely.equals(to_shape(b.geom), rect(250, 0, 400, 100))
    relations = {(x["parent_code"], x["child_code"], x["relation"]) for x in result.lineage}
    assert (g["b"].code, g["a"].code, "carved") in relations and (g["b"].code, g["b"].code, "version") in relations
    _partition_ok(session)


def test_reshape_without_taking_is_refused_and_writes_nothing(session):
    g = three_grids(session)
    session.commit()
    with pytest.raises(EditRejected) as caught:
        _commit(session, {"op": "reshape", "grids": [{"code": g["a"].code,
                                                      "geometry": mapping(rect(0, 0, 250, 200))}]},
                etags={grid_etag(g["a"].code, 1)})
    session.rollback()
    assert {p["rule"] for p in caught.value.extra["problems"]} == {"overlap"}
    assert session.scalar(text("SELECT count(*) FROM grids")) == 3
    assert session.scalar(text("SELECT count(*) FROM grid_edits")) == 0


def test_a_grid_swallowed_whole_must_be_merged_instead(session):
    g = three_grids(session)
    plan = validate_edit(session, parse_edit({"op": "reshape", "take_from_neighbours": True, "grids": [
        {"code": g["a"].code, "geometry": mapping(rect(0, 0, 400, 200).difference(rect(200, 0, 400, 100)))}]}), RULES)
    assert ("would_swallow", g["c"].code) in [(p.rule, p.grid) for p in plan.errors]
    assert {p.rule for p in plan.errors} == {"would_swallow", "overlap"}  # the overlap it would have left


# -- split, merge, create, retire: codes and lineage ------------------------------------------------------
def test_split_retires_the_parent_and_numbers_the_pieces_in_reading_order(session):
    g = three_grids(session)
    session.commit()
    line = shapely.LineString([lonlat(-5, 80), lonlat(205, 80)])  # A cut into a north and a south piece
    result = _commit(session, {"op": "split", "grid": g["a"].code, "line": mapping(line), "names": ["北", "南"]})
    opened = {o["code"]: o for o in result.opened}
    north, south = "310101001001004", "310101001001005"  # after the highest sequence issued (003)
    assert set(opened) == {north, south}
    assert opened[north]["name"] == "北" and opened[south]["name"] == "南"
    assert shapely.equals(shapely.geometry.shape(opened[north]["geometry"]), rect(0, 80, 200, 200))
    assert result.plan.retired == [g["a"].code]
    assert _current(session, g["a"].code) is None
    assert {(x["parent_code"], x["child_code"], x["relation"]) for x in result.lineage} == {
        (g["a"].code, north, "split"), (g["a"].code, south, "split")}
    _partition_ok(session)


def test_split_line_that_stops_short_says_how_far_inside(session):
    g = three_grids(session)
    plan = validate_edit(session, parse_edit({"op": "split", "grid": g["a"].code, "line": mapping(
        shapely.LineString([lonlat(-5, 80), lonlat(150, 80)]))}), RULES)
    (problem,) = plan.errors
    assert problem.rule == "line_not_crossing" and "50.0 m inside" in problem.detail


def test_split_line_ending_a_little_short_of_the_edge_is_snapped(session):
    g = three_grids(session)
    plan = validate_edit(session, parse_edit({"op": "split", "grid": g["a"].code, "line": mapping(
        shapely.LineString([lonlat(0.3, 80), lonlat(199.7, 80)]))}), RULES)
    assert plan.valid and len(plan.opening) == 2


def test_merge_gives_a_new_code_and_a_retired_code_is_never_reused(session):
    g = three_grids(session)
    session.commit()
    result = _commit(session, {"op": "merge", "grids": [g["b"].code, g["c"].code], "name": "东片"})
    (merged,) = result.opened
    assert merged["code"] == "310101001001004" and merged["name"] == "东片"
    assert shapely.equals(shapely.geometry.shape(merged["geometry"]), rect(200, 0, 400, 200))
    assert sorted(result.plan.retired) == [g["b"].code, g["c"].code]
    # Split the merged grid again: new codes 005 and 006, never 002 or 003 (issued, retired).
    line = shapely.LineString([lonlat(300, -5), lonlat(300, 205)])
    result = _commit(session, {"op": "split", "grid": merged["code"], "line": mapping(line)})
    assert sorted(o["code"] for o in result.opened) == ["310101001001005", "310101001001006"]
    assert sorted(o["name"] for o in result.opened) == ["东片-1", "东片-2"]
    _partition_ok(session)


def test_merge_of_grids_that_do_not_touch_is_refused(session):
    g = gapped_grids(session)
    plan = validate_edit(session, parse_edit({"op": "merge", "grids": [g["west"].code, g["east"].code]}), RULES)
    assert [p.rule for p in plan.errors] == ["not_adjacent"]


def test_grids_touching_only_at_a_corner_are_not_adjacent(session):
    g = four_squares(session)
    plan = validate_edit(session, parse_edit({"op": "merge", "grids": [g["nw"].code, g["se"].code]}), RULES)
    assert [p.rule for p in plan.errors] == ["not_adjacent"]


def test_create_carves_a_new_grid_out_of_its_neighbours(session):
    g = four_squares(session)
    session.commit()
    result = _commit(session, {"op": "create", "community": g["community"].code, "name": "新建小区",
                               "take_from_neighbours": True, "geometry": mapping(rect(50, 50, 150, 150))})
    new = [o for o in result.opened if o["version"] == 1]
    assert [o["code"] for o in new] == ["310101001001005"]
    assert len(result.closed) == 4  # each square gave a quarter
    assert sum(1 for x in result.lineage if x["relation"] == "carved") == 4
    _partition_ok(session)


def test_create_in_a_gap_needs_nobody_elses_area(session):
    g = gapped_grids(session)
    session.commit()
    result = _commit(session, {"op": "create", "community": g["community"].code, "name": "中间",
                               "geometry": mapping(rect(100, 0, 200, 100))})
    assert result.closed == [] and [o["code"] for o in result.opened] == ["310101001001003"]
    _partition_ok(session)


def test_retire_gives_the_area_to_a_neighbour(session):
    g = three_grids(session)
    session.commit()
    result = _commit(session, {"op": "retire", "grid": g["c"].code, "into": g["b"].code})
    (b,) = result.opened
    assert b["code"] == g["b"].code and b["version"] == 2
    assert shapely.equals(shapely.geometry.shape(b["geometry"]), rect(200, 0, 400, 200))
    assert result.plan.retired == [g["c"].code]
    assert (g["c"].code, g["b"].code, "absorbed") in {(x["parent_code"], x["child_code"], x["relation"])
                                                      for x in result.lineage}
    _partition_ok(session)


def test_retire_needs_a_neighbour(session):
    g = gapped_grids(session)
    with pytest.raises(InvalidInput):
        parse_edit({"op": "retire", "grid": g["west"].code})
    plan = validate_edit(session, parse_edit({"op": "retire", "grid": g["west"].code, "into": g["east"].code}), RULES)
    assert [p.rule for p in plan.errors] == ["not_adjacent"]


def test_unknown_and_retired_grids(session):
    g = three_grids(session)
    session.commit()
    with pytest.raises(NotFound):
        validate_edit(session, parse_edit({"op": "merge", "grids": ["310101001001009", g["a"].code]}))
    _commit(session, {"op": "merge", "grids": [g["b"].code, g["c"].code]})
    with pytest.raises(NotFound) as caught:
        validate_edit(session, parse_edit({"op": "retire", "grid": g["b"].code, "into": g["a"].code}))
    assert "retired" in caught.value.detail


# -- what moves: buildings, households, open events, contracts ---------------------------------------
def test_commit_moves_buildings_and_open_events_and_flags_contracts(session):
    g = three_grids(session)
    house = grid_building(session, g["b"], rect(210, 10, 230, 30), households=12, population=30)
    stays = grid_building(session, g["b"], rect(350, 10, 370, 30), households=5)
    open_event = event(session, g["b"], 220, 50, status="dispatched")
    closed_event = event(session, g["b"], 221, 51, status="closed")
    far_event = event(session, g["b"], 380, 50, status="reported")
    leader = cadre(session, "C001")
    on_b = contract(session, leader, grid_code=g["b"].code)
    on_c = contract(session, leader, grid_code=g["c"].code)
    session.commit()
    old_b = g["b"].id
    # B and C merge; the merged grid then has A take a 50 m strip of it.
    merged = _commit(session, {"op": "merge", "grids": [g["b"].code, g["c"].code]}).opened[0]["code"]
    result = _commit(session, {"op": "reshape", "take_from_neighbours": True,
                               "grids": [{"code": g["a"].code, "geometry": mapping(rect(0, 0, 250, 200))}]})
    impact = result.impact
    (moves,) = impact["buildings"]["moves"]
    assert (moves["from"], moves["to"], moves["buildings"], moves["households"], moves["population"]) == (
        merged, g["a"].code, 1, 12, 30)
    assert impact["open_events"]["moves"] == [{"from": merged, "to": g["a"].code, "events": 1,
                                               "ids": [open_event.id]}]
    for obj in (house, stays, open_event, closed_event, far_event):
        session.refresh(obj)
    assert _current(session, g["a"].code).id == house.grid_id
    assert session.get(Grid, open_event.grid_id).code == g["a"].code
    assert open_event.reassigned_at == result.at
    # A closed case keeps the grid version in force when it occurred; so does an open one that stays.
    assert closed_event.grid_id == old_b and closed_event.reassigned_at is None
    assert session.get(Grid, far_event.grid_id).code == merged
    # Grid totals come from the building register.
    assert _current(session, g["a"].code).households == 12
    # The contracts on B and C were flagged when they merged (their codes retired).
    for k in (on_b, on_c):
        session.refresh(k)
        assert k.flag and merged in k.flag and "re-assign" in k.flag
        audit = session.scalar(select(AuditEntry).where(AuditEntry.entity == "contract",
                                                        AuditEntry.entity_id == str(k.id)))
        assert audit.action == "contract.flag" and audit.before == {"flag": None} and audit.after["flag"] == k.flag
    # The case's timeline says so, without changing its status, level or handler.
    notes = session.execute(text("SELECT move, from_status, to_status, note, detail FROM event_moves "
                                 "WHERE event_id = :id ORDER BY id"), {"id": open_event.id}).all()
    assert [(n.detail["from_grid"], n.detail["to_grid"]) for n in notes] == [(g["b"].code, merged),
                                                                               (merged, g["a"].code)]
    note = notes[-1]
    assert note.move == "note" and note.from_status == note.to_status == "dispatched"
    assert note.detail["grid_edit"] == result.edit_id and merged in note.note and g["a"].code in note.note
    # A later bulk re-run keeps the open case where the edit handed it over.
    assign_events(session)
    session.commit()
    session.refresh(open_event)
    session.refresh(closed_event)
    assert session.get(Grid, open_event.grid_id).code == g["a"].code and closed_event.grid_id == old_b


def test_preview_is_the_commit_rolled_back(session):
    g = three_grids(session)
    grid_building(session, g["b"], rect(210, 10, 230, 30), households=7)
    session.commit()
    body = {"op": "reshape", "take_from_neighbours": True,
            "grids": [{"code": g["a"].code, "geometry": mapping(rect(0, 0, 250, 200))}]}
    preview = commit_edit(session, parse_edit(body), user_id=None, if_match=None, rules=RULES, dry_run=True)
    session.rollback()
    assert preview.impact["buildings"]["households"] == 7
    assert session.scalar(text("SELECT count(*) FROM grids")) == 3
    assert session.scalar(text("SELECT count(*) FROM grid_edits")) == 0
    committed = _commit(session, body)
    assert committed.impact["buildings"] == preview.impact["buildings"]
    assert [o["code"] for o in committed.opened] == [o["code"] for o in preview.opened]


def test_audit_log_keeps_before_and_after_geometry(session):
    g = two_grids(session)
    session.commit()
    result = _commit(session, {"op": "move_vertices", "moves": [{"from": lonlat(100, 100), "to": lonlat(130, 100)}]})
    entry = session.scalar(select(AuditEntry).where(AuditEntry.entity == "grid_edit"))
    assert entry.action == "grid.move_vertices" and entry.entity_id == str(result.edit_id)
    before = {x["code"]: shapely.geometry.shape(x["geometry"]) for x in entry.before["grids"]}
    after = {x["code"]: shapely.geometry.shape(x["geometry"]) for x in entry.after["grids"]}
    assert shapely.equals(before[g[1].code], rect(0, 0, 100, 100))
    assert after[g[1].code].area > before[g[1].code].area and set(after) == {g[1].code, g[2].code}


# -- optimistic locking ---------------------------------------------------------------------------
def test_stale_or_missing_etag_fails_with_the_current_version(session):
    g = two_grids(session)
    session.commit()
    body = {"op": "move_vertices", "moves": [{"from": lonlat(100, 100), "to": lonlat(130, 100)}]}
    with pytest.raises(PreconditionFailed) as caught:  # only one of the two neighbours' ETags
        _commit(session, body, etags={grid_etag(g[1].code, 1)})
    session.rollback()
    assert [c["code"] for c in caught.value.extra["current"]] == [g[2].code]
    _commit(session, body)
    with pytest.raises(PreconditionFailed) as caught:  # the ETags read before that edit
        _commit(session, {"op": "move_vertices", "moves": [{"from": lonlat(130, 100), "to": lonlat(140, 100)}]},
                etags={grid_etag(g[1].code, 1), grid_etag(g[2].code, 1)})
    session.rollback()
    assert {(c["code"], c["version"], c["etag"]) for c in caught.value.extra["current"]} == {
        (g[1].code, 2, grid_etag(g[1].code, 2)), (g[2].code, 2, grid_etag(g[2].code, 2))}


# -- history and "where did it stand" -----------------------------------------------------------------------
def test_history_walks_versions_and_lineage(session):
    g = three_grids(session)
    session.commit()
    _commit(session, {"op": "reshape", "take_from_neighbours": True,
                      "grids": [{"code": g["a"].code, "geometry": mapping(rect(0, 0, 210, 200))}]})
    line = shapely.LineString([lonlat(100, -5), lonlat(100, 205)])
    _commit(session, {"op": "split", "grid": g["a"].code, "line": mapping(line)})
    history = grid_history(session, g["a"].code)
    assert history["retired"] and [v["version"] for v in history["versions"]] == [1, 2]
    v1, v2 = history["versions"]
    assert v1["valid_to"] == v2["valid_from"] and v1["closed_by"]["op"] == "reshape"
    assert sorted(c["relation"] for c in v2["children"]) == ["split", "split"]
    child = grid_history(session, v2["children"][0]["code"])
    assert child["versions"][0]["parents"] == [{"code": g["a"].code, "version": 2, "relation": "split"}]


def test_locate_building_and_event_on_any_date(session):
    g = two_grids(session)
    house = grid_building(session, g[2], rect(105, 40, 115, 60))
    ev = event(session, g[2], 110, 70, status="reported")
    session.execute(text("UPDATE events SET occurred_at = now() - interval '2 days' WHERE id = :id"), {"id": ev.id})
    session.commit()
    before = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    _commit(session, {"op": "move_vertices", "moves": [{"from": lonlat(100, 100), "to": lonlat(130, 100)},
                                                       {"from": lonlat(100, 0), "to": lonlat(130, 0)}]})
    west, east = g[1].code, g[2].code
    assert locate_point(session, *lonlat(110, 70), at=before).grid.code == east
    assert locate_point(session, *lonlat(110, 70)).grid.code == west
    where = building_grids(session, house.code, before)
    assert where["grid_at"]["code"] == east and where["grid"]["code"] == west
    assert [(h["code"], h["version"]) for h in where["history"]] == [(east, 1), (west, 2)]
    where = event_grids(session, ev.id, before)
    assert where["when_it_occurred"]["grid"]["code"] == east  # what it kept for its history
    assert where["assigned"]["code"] == west  # the open case was handed over
    assert where["at"]["grid"]["code"] == east and where["event"]["reassigned_at"] is not None


def test_coverage_at_a_past_date_uses_the_old_versions(session):
    from gis.cadres.coverage import coverage_of

    g = three_grids(session)
    leader = cadre(session, "C001")
    contract(session, leader, grid_code=g["a"].code)
    session.commit()
    yesterday = dt.date.today() - dt.timedelta(days=1)
    before = coverage_of(session, "310101", at=yesterday).covered_m2
    _commit(session, {"op": "reshape", "take_from_neighbours": True,
                      "grids": [{"code": g["a"].code, "geometry": mapping(rect(0, 0, 300, 200))}]})
    assert coverage_of(session, "310101", at=yesterday).covered_m2 == pytest.approx(before, rel=1e-9)
    assert coverage_of(session, "310101").covered_m2 == pytest.approx(before * 1.5, rel=1e-3)


# -- the command line -----------------------------------------------------------------------------
def test_gridgov_grids_check_and_history(db_url, session):
    from tests.api.test_cli import gridgov, pieces  # deferred: its fixtures' module is for the CLI tests only

    g = three_grids(session)
    session.commit()
    ok = gridgov(db_url, "grids", "check", "310101")
    assert ok.returncode == 0, ok.stderr
    done = pieces("cli.grids.checked", communities=1, grids=3, seconds=None, counts=catalog.t("cli.grids.no_errors"),
                  warnings=None)
    assert len(done) == 3 and all(p in ok.stdout for p in done)
    session.execute(text("UPDATE grids SET geom = ST_Multi(ST_GeomFromText(:w, 4326)) WHERE code = :c"),
                    {"w": rect(0, 0, 190, 200).geoms[0].wkt, "c": g["a"].code})
    session.commit()
    bad = gridgov(db_url, "grids", "check")
    assert bad.returncode == 1 and "gap" in bad.stdout and "Traceback" not in bad.stderr
    bad_en = gridgov(db_url, "grids", "check", lang="en")
    gap_zh, gap_en = (catalog.t("rule.gap", lang, other=g["community"].code, area="\0").split("\0")[0]
                      for lang in ("zh", "en"))
    assert gap_zh in bad.stdout and gap_en in bad_en.stdout  # the catalog's sentence, in the language asked
    merged = _commit(session, {"op": "merge", "grids": [g["b"].code, g["c"].code], "note": "两格户数都太少"})
    opened = gridgov(db_url, "grids", "history", merged.opened[0]["code"])
    assert catalog.t("cli.grids.note", note="两格户数都太少") in opened.stdout
    history = gridgov(db_url, "grids", "history", g["b"].code)
    assert history.returncode == 0 and "merged" in history.stdout
    assert catalog.t("cli.grids.retired", code=g["b"].code) in history.stdout
    assert gridgov(db_url, "grids", "history", "310101001001999").returncode == 1


@pytest.mark.parametrize("limit", [0, 20_000])
@pytest.mark.parametrize("by", ["grid_ids", "building_ids"])
def test_building_rule_the_same_by_index_probes_and_by_grid_scan(session, monkeypatch, limit, by):
    """assign_buildings probes per footprint for a few buildings and scans from the grids for many;
    both give the rule's answer (point on surface; outside every grid: none)."""
    import gis.spatial.buildings
    from gis.spatial.buildings import assign_buildings

    monkeypatch.setattr(gis.spatial.buildings, "BUILDING_DRIVEN_MAX", limit)
    _, west, east = two_grids(session)
    # An L-shaped footprint over the edge whose point on surface lies in the west grid, one in the
    # east grid recorded wrongly, one outside every grid recorded in the west grid.
    ell = grid_building(session, east, shapely.union(rect(60, 10, 104, 20), rect(60, 10, 70, 60)))
    inside = grid_building(session, west, rect(150, 40, 160, 50))
    outside = grid_building(session, west, rect(300, 40, 310, 50))
    session.commit()
    ids = {"grid_ids": [west.id, east.id]} if by == "grid_ids" else {"building_ids": [ell.id, inside.id, outside.id]}
    assert assign_buildings(session, **ids) == 3
    for b in (ell, inside, outside):
        session.refresh(b)
    assert (ell.grid_id, inside.grid_id, outside.grid_id) == (west.id, east.id, None)
