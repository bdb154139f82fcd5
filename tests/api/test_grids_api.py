"""The grid editing API: validate, preview, commit (If-Match), history, and `at` on locate and coverage."""
from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.error
import urllib.request

import pytest
import shapely
from shapely.geometry import mapping
from sqlalchemy import text

from tests.conftest import auth, live_hub, wait_for_change
from tests.factories import (
    cadre,
    contract,
    event,
    gapped_grids,
    grid_building,
    lonlat,
    rect,
    three_grids,
    two_grids,
)
from webmap import catalog

PROBLEM = "application/problem+json"


def _move(frm, to):
    return {"op": "move_vertices", "moves": [{"from": list(lonlat(*frm)), "to": list(lonlat(*to))}],
            "note": "测试：移动共用顶点"}


def _etags(client, token, *codes) -> str:
    tags = []
    for code in codes:
        response = client.get(f"/api/v1/grids/{code}", headers=auth(token))
        assert response.status_code == 200
        tags.append(response.headers["ETag"])
    return ", ".join(tags)


def test_read_grids_with_etags(client, make_user, session):
    g = three_grids(session)
    session.commit()
    token = make_user("viewer")
    collection = client.get(f"/api/v1/grids?community={g['community'].code}", headers=auth(token)).json
    assert [f["id"] for f in collection["features"]] == [g["a"].code, g["b"].code, g["c"].code]
    assert collection["features"][0]["properties"]["etag"] == f'"{g["a"].code}.v1"'
    one = client.get(f"/api/v1/grids/{g['a'].code}", headers=auth(token))
    assert one.headers["ETag"] == f'"{g["a"].code}.v1"'
    assert shapely.equals(shapely.geometry.shape(one.json["geometry"]), rect(0, 0, 200, 200))
    missing = client.get("/api/v1/grids/310101001001999", headers=auth(token))
    assert missing.status_code == 404 and missing.mimetype == PROBLEM


def test_validate_returns_every_problem_at_once_and_writes_nothing(client, make_user, session):
    g = three_grids(session)
    session.commit()
    token = make_user("planner")
    drawn = shapely.Polygon([lonlat(10, 0), lonlat(220, 0), lonlat(220, 205), lonlat(0, 205), lonlat(0, 10),
                             lonlat(10, 10)])
    response = client.post("/api/v1/grid-edits/validate", headers=auth(token), json={
        "op": "reshape", "grids": [{"code": g["a"].code, "geometry": mapping(drawn)}]})
    assert response.status_code == 200
    body = response.json
    assert body["valid"] is False
    assert sorted({e["rule"] for e in body["errors"]}) == ["gap", "outside_community", "overlap"]
    overlap = next(e for e in body["errors"] if e["rule"] == "overlap")
    assert overlap["other"] in (g["b"].code, g["c"].code) and overlap["area_m2"] > 1000
    assert overlap["where"]["type"] in ("Polygon", "MultiPolygon") and len(overlap["at"]) == 2
    assert body["rules"]["snap_m"] == 0.5
    assert session.scalar(text("SELECT count(*) FROM grids")) == 3


def test_validate_reports_the_reason_of_an_invalid_polygon(client, make_user, session):
    g = three_grids(session)
    session.commit()
    bowtie = {"type": "Polygon", "coordinates": [[lonlat(0, 0), lonlat(100, 100), lonlat(100, 0), lonlat(0, 100),
                                                  lonlat(0, 0)]]}
    body = client.post("/api/v1/grid-edits/validate", headers=auth(make_user("planner")), json={
        "op": "reshape", "grids": [{"code": g["a"].code, "geometry": bowtie}]}).json
    assert [e["rule"] for e in body["errors"]] == ["invalid_geometry"]
    assert "Self-intersection" in body["errors"][0]["detail"]


def test_malformed_requests_get_400_with_what_to_fix(client, make_user, session):
    three_grids(session)
    session.commit()
    token = make_user("planner")
    for body in ({"op": "paint"}, {"op": "split", "grid": "12"}, {"op": "merge", "grids": ["310101001001001"]},
                 {"op": "reshape", "grids": [{"code": "310101001001001", "geometry": "nope"}]},
                 {"op": "move_vertices", "moves": [{"from": [500, 1], "to": [1, 1]}]}):
        response = client.post("/api/v1/grid-edits/validate", headers=auth(token), json=body)
        assert response.status_code in (400, 422), body
        assert response.mimetype == PROBLEM and response.json["detail"]


def test_preview_lists_what_moves_and_changes_nothing(client, make_user, session):
    g = three_grids(session)
    grid_building(session, g["b"], rect(210, 10, 230, 30), households=40, population=90)
    ev = event(session, g["b"], 220, 50, status="dispatched")
    leader = cadre(session, "C001")
    contract(session, leader, grid_code=g["b"].code)
    session.commit()
    token = make_user("planner")
    body = {"op": "merge", "grids": [g["a"].code, g["b"].code], "name": "合并"}
    preview = client.post("/api/v1/grid-edits/preview", headers=auth(token), json=body)
    assert preview.status_code == 200, preview.json
    impact = preview.json["impact"]
    merged = preview.json["opened"][0]["code"]
    assert impact["buildings"]["moves"][0] | {"codes": None} == {
        "from": g["b"].code, "to": merged, "buildings": 1, "households": 40, "population": 90, "codes": None}
    assert impact["open_events"]["moves"] == [{"from": g["b"].code, "to": merged, "events": 1, "ids": [ev.id]}]
    assert [(c["grid_code"], c["action"]) for c in impact["contracts"]] == [(g["b"].code, "flagged")]
    assert preview.json["valid"] is True and preview.json["preview"] is True and preview.json["edit"]["id"] is None
    assert sorted(preview.json["if_match"]) == sorted([f'"{g["a"].code}.v1"', f'"{g["b"].code}.v1"'])
    assert session.scalar(text("SELECT count(*) FROM grids")) == 3
    assert session.scalar(text("SELECT count(*) FROM contracts WHERE flag IS NOT NULL")) == 0


def test_preview_of_an_edit_the_commit_would_refuse(client, make_user, session):
    g = two_grids(session)
    session.commit()
    response = client.post("/api/v1/grid-edits/preview", headers=auth(make_user("planner")), json={
        "op": "reshape", "grids": [{"code": g[1].code, "geometry": mapping(rect(0, 0, 120, 100))}]})
    assert response.status_code == 200
    assert response.json["valid"] is False and [e["rule"] for e in response.json["errors"]] == ["overlap"]
    assert response.json["errors"][0]["other"] == g[2].code


def test_commit_needs_if_match_and_refuses_stale_etags(client, make_user, session):
    g = two_grids(session)
    session.commit()
    token = make_user("planner")
    edit = _move((100, 100), (130, 100))
    assert client.post("/api/v1/grid-edits", headers=auth(token), json=edit).status_code == 428
    stale = _etags(client, token, g[1].code, g[2].code)
    first = client.post("/api/v1/grid-edits", headers=auth(token) | {"If-Match": stale}, json=edit)
    assert first.status_code == 201, first.json
    assert first.headers["Location"] == f"/api/v1/grid-edits/{first.json['edit']['id']}"
    again = client.post("/api/v1/grid-edits", headers=auth(token) | {"If-Match": stale},
                        json=_move((130, 100), (140, 100)))
    assert again.status_code == 412 and again.mimetype == PROBLEM
    assert {c["etag"] for c in again.json["current"]} == {f'"{g[1].code}.v2"', f'"{g[2].code}.v2"'}
    assert "geometry" in again.json["current"][0]


def test_commit_refuses_a_gap_with_422_and_every_problem(client, make_user, session):
    g = two_grids(session)
    session.commit()
    token = make_user("planner")
    response = client.post("/api/v1/grid-edits", headers=auth(token) | {"If-Match": _etags(client, token, g[1].code)},
                           json={"op": "reshape", "note": "西缩 10 米", "grids": [{"code": g[1].code,
                                                              "geometry": mapping(rect(0, 0, 90, 100))}]})
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert [p["rule"] for p in response.json["problems"]] == ["gap"]
    assert session.scalar(text("SELECT count(*) FROM grids")) == 2


def test_only_planners_and_admins_edit(client, make_user, session):
    g = two_grids(session)
    session.commit()
    edit = _move((100, 100), (130, 100))
    for role in ("viewer", "worker", "commander"):
        token = make_user(role, grids=[g[1].code] if role == "worker" else ())
        for path in ("/api/v1/grid-edits/validate", "/api/v1/grid-edits/preview", "/api/v1/grid-edits"):
            assert client.post(path, headers=auth(token), json=edit).status_code == 403
    admin = make_user("admin")
    response = client.post("/api/v1/grid-edits", json=edit,
                           headers=auth(admin) | {"If-Match": _etags(client, admin, g[1].code, g[2].code)})
    assert response.status_code == 201


def test_history_edits_and_where_things_stood(client, make_user, session):
    g = two_grids(session)
    house = grid_building(session, g[2], rect(105, 40, 115, 60))
    ev = event(session, g[2], 110, 70, status="reported")
    session.execute(text("UPDATE events SET occurred_at = now() - interval '3 days' WHERE id = :id"), {"id": ev.id})
    session.commit()
    token = make_user("planner")
    edit = {"op": "move_vertices", "note": "新楼盘划入西网格",
            "moves": [{"from": list(lonlat(100, 100)), "to": list(lonlat(130, 100))},
                      {"from": list(lonlat(100, 0)), "to": list(lonlat(130, 0))}]}
    done = client.post("/api/v1/grid-edits", json=edit,
                       headers=auth(token) | {"If-Match": _etags(client, token, g[1].code, g[2].code)})
    assert done.status_code == 201
    history = client.get(f"/api/v1/grids/{g[2].code}/history", headers=auth(token)).json
    assert [v["version"] for v in history["versions"]] == [1, 2]
    assert history["versions"][1]["opened_by"]["note"] == "新楼盘划入西网格"
    assert "geometry" not in client.get(f"/api/v1/grids/{g[2].code}/history?geometry=false",
                                        headers=auth(token)).json["versions"][0]
    listed = client.get("/api/v1/grid-edits", headers=auth(token)).json["edits"]
    assert [(e["op"], e["buildings_moved"], e["open_events_moved"]) for e in listed] == [("move_vertices", 1, 1)]
    one = client.get(f"/api/v1/grid-edits/{done.json['edit']['id']}", headers=auth(token)).json
    assert len(one["lineage"]) == 2 and one["request"]["note"] == "新楼盘划入西网格"
    two_days_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).date().isoformat()
    b = client.get(f"/api/v1/buildings/{house.code}/grids?at={two_days_ago}", headers=auth(token)).json
    assert (b["grid_at"]["code"], b["grid"]["code"]) == (g[2].code, g[1].code)
    e = client.get(f"/api/v1/events/{ev.id}/grids?at={two_days_ago}", headers=auth(token)).json
    assert (e["at"]["grid"]["code"], e["assigned"]["code"]) == (g[2].code, g[1].code)
    # locate's `at` sees the version in force then; without it, the new boundary.
    lon, lat = lonlat(110, 70)
    then = client.get(f"/api/v1/locate?lon={lon}&lat={lat}&at={two_days_ago}", headers=auth(token)).json
    now = client.get(f"/api/v1/locate?lon={lon}&lat={lat}", headers=auth(token)).json
    assert (then["grid"]["code"], now["grid"]["code"]) == (g[2].code, g[1].code)
    old = client.get(f"/api/v1/grids/{g[2].code}?at={two_days_ago}", headers=auth(token))
    assert old.json["properties"]["version"] == 1 and "ETag" not in old.headers


def test_coverage_at_a_date_before_an_edit(client, make_user, session):
    g = three_grids(session)
    leader = cadre(session, "C001")
    contract(session, leader, grid_code=g["c"].code)
    session.commit()
    token = make_user("planner")
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    before = client.get(f"/api/v1/coverage?area=310101&at={yesterday}", headers=auth(token)).json
    response = client.post("/api/v1/grid-edits", json={"op": "retire", "grid": g["c"].code, "into": g["b"].code,
                                                             "note": "并入邻格"},
                           headers=auth(token) | {"If-Match": _etags(client, token, g["b"].code, g["c"].code)})
    assert response.status_code == 201
    after_then = client.get(f"/api/v1/coverage?area=310101&at={yesterday}", headers=auth(token)).json
    today = client.get("/api/v1/coverage?area=310101", headers=auth(token)).json
    assert after_then["covered_m2"] == before["covered_m2"] > 0
    assert today["covered_m2"] == 0  # C's code is retired: its contract is flagged, it covers nothing now
    flagged = client.get("/api/v1/contracts?grid=" + g["c"].code, headers=auth(token)).json["contracts"]
    assert flagged[0]["flag"] and g["b"].code in flagged[0]["flag"]


def test_partition_endpoint(client, make_user, session):
    three_grids(session)
    session.commit()
    body = client.get("/api/v1/areas/310101/partition", headers=auth(make_user("planner"))).json
    assert body["valid"] is True and body["grids"] == 3 and body["area"] == "310101"


def test_two_planners_over_http_never_overlap(live_server, app, make_user, session, engine):
    """Two planners fill the same gap at the same moment through the API: one 201, one 422."""
    g = gapped_grids(session)
    session.commit()
    tokens = [make_user("planner"), make_user("planner")]
    bodies = [{"op": "reshape", "note": "填补空隙", "grids": [{"code": g["west"].code,
                                                             "geometry": mapping(rect(0, 0, 160, 100))}]},
              {"op": "reshape", "note": "填补空隙", "grids": [{"code": g["east"].code,
                                                             "geometry": mapping(rect(140, 0, 300, 100))}]}]
    etags = [f'"{g["west"].code}.v1"', f'"{g["east"].code}.v1"']
    statuses: list = [None, None]
    holder = engine.connect()
    hold = holder.begin()
    holder.execute(text("SELECT id FROM admin_areas WHERE id = :c FOR NO KEY UPDATE"), {"c": g["community"].id})

    def post(i):
        request = urllib.request.Request(f"{live_server}/api/v1/grid-edits", data=json.dumps(bodies[i]).encode(),
                                         method="POST", headers={"Content-Type": "application/json",
                                                                 "If-Match": etags[i]} | auth(tokens[i]))
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                statuses[i] = response.status
        except urllib.error.HTTPError as exc:
            statuses[i] = exc.code

    threads = [threading.Thread(target=post, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    import time

    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watch:
        deadline = time.monotonic() + 20
        while watch.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND wait_event_type = 'Lock'")).scalar() < 2:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    hold.rollback()
    holder.close()
    for t in threads:
        t.join(timeout=30)
    assert sorted(statuses) == [201, 422]
    overlap = session.scalar(text("""
        SELECT count(*) FROM grids a JOIN grids b ON a.id < b.id AND ST_Relate(a.geom, b.geom, '2********')
        WHERE a.valid_to IS NULL AND b.valid_to IS NULL"""))
    assert overlap == 0


def test_layers_and_tile_cache_follow_a_commit(app, client, make_user, session):
    """After a commit the grids layer serves the new versions (and ?at= the old), and no cached tile
    keeps the old boundary: the grids table's change notification makes the cache forget it."""
    from tests.layers.test_layers import decode, tile_of

    g = two_grids(session)
    session.commit()
    token = make_user("planner")
    the_hub = live_hub(app)
    x, y = tile_of(*lonlat(100, 50), 16)
    url = f"/tiles/grids/16/{x}/{y}.mvt"
    before = client.get(url)
    hits = the_hub.tiles.hits
    assert client.get(url).data == before.data and the_hub.tiles.hits == hits + 1  # served from the cache
    versions = {f["properties"]["code"]: f["properties"]["version"] for f in decode(before.data)["grids"]["features"]}
    assert versions == {g[1].code: 1, g[2].code: 1}

    edit = {"op": "move_vertices", "moves": [{"from": list(lonlat(100, 100)), "to": list(lonlat(130, 100))},
                                             {"from": list(lonlat(100, 0)), "to": list(lonlat(130, 0))}],
            "note": "东移 30 米"}
    done = client.post("/api/v1/grid-edits", json=edit,
                       headers=auth(token) | {"If-Match": _etags(client, token, g[1].code, g[2].code)})
    assert done.status_code == 201
    after = wait_for_change(client, url, before)
    versions = {f["properties"]["code"]: f["properties"]["version"] for f in decode(after.data)["grids"]["features"]}
    assert versions == {g[1].code: 2, g[2].code: 2}

    box = ",".join(f"{v:.6f}" for v in (*lonlat(-10, -10), *lonlat(210, 110)))
    now = client.get(f"/layers/grids.geojson?bbox={box}", headers=auth(token)).json
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    then = client.get(f"/layers/grids.geojson?bbox={box}&at={yesterday}", headers=auth(token)).json
    area = {f["properties"]["code"]: f["properties"]["area_m2"] for f in now["features"]}
    old_area = {f["properties"]["code"]: f["properties"]["area_m2"] for f in then["features"]}
    assert {f["properties"]["version"] for f in then["features"]} == {1}
    assert area[g[1].code] == pytest.approx(old_area[g[1].code] * 1.3, rel=1e-3)


def test_preview_says_new_warnings_in_chinese_and_a_save_needs_a_note(app, client, make_user, session):
    g = gapped_grids(session)
    session.commit()
    app.config.update(GRID_AREA_M2="5000,12000", GRID_HOUSEHOLDS="off")
    token = make_user("planner")
    edit = {"op": "reshape", "grids": [{"code": g["west"].code, "geometry": mapping(rect(0, 0, 150, 100))}]}
    preview = client.post("/api/v1/grid-edits/preview", headers=auth(token) | {"Accept-Language": "zh-CN"},
                          json=edit).json
    assert preview["valid"] is True
    assert [(w["rule"], w["grid"]) for w in preview["warnings"]] == [("area_bounds", g["west"].code)]
    assert all(w["text"] == catalog.problem_text(w, "zh") != w["detail"] for w in preview["warnings"])
    assert preview["warnings_already_count"] == 1 and preview["warnings_already"][0]["rule"] == "gap"
    assert {r["code"] for r in preview["impact"]["before_after"]} == {g["west"].code}

    tags = {"If-Match": _etags(client, token, g["west"].code)}
    refused = client.post("/api/v1/grid-edits", headers=auth(token) | tags | {"Accept-Language": "zh-CN"}, json=edit)
    assert refused.status_code == 400 and refused.mimetype == PROBLEM
    assert (refused.json["code"], refused.json["title"]) == ("problem.note_required",
                                                             catalog.t("problem.note_required", "zh"))
    assert session.scalar(text("SELECT count(*) FROM grid_edits")) == 0
    done = client.post("/api/v1/grid-edits", headers=auth(token) | tags, json=edit | {"note": "西网格并入空地"})
    assert done.status_code == 201 and done.json["edit"]["note"] == "西网格并入空地"
    one = client.get(f"/api/v1/grid-edits/{done.json['edit']['id']}", headers=auth(token)).json
    assert one["note"] == "西网格并入空地"
    listed = client.get("/api/v1/grid-edits", headers=auth(token)).json["edits"]
    assert [e["note"] for e in listed] == ["西网格并入空地"]
