"""The workflow over HTTP: a case travels the loop with tokens of different people; bad input gets problem+json."""
from __future__ import annotations

import datetime as dt

import pytest

from gis.cases import workflow
from tests.conftest import auth
from tests.factories import grid, hierarchy, lonlat, rect, reported_event


@pytest.fixture
def setting(session, make_user):
    _, _, community = hierarchy(session)
    a = grid(session, community, 1, rect(0, 0, 200, 200))
    b = grid(session, community, 2, rect(200, 0, 400, 200))
    session.commit()
    tokens = {"commander": make_user("commander", name="commander"),
              "h": make_user("worker", grids=[a.code], name="h"),
              "w2": make_user("worker", grids=[a.code], name="w2"),
              "wx": make_user("worker", grids=[b.code], name="wx"),
              "viewer": make_user("viewer"), "admin": make_user("admin")}
    case = reported_event(session, grid=a, title="井盖缺失", category="01001")
    session.commit()
    return {"a": a, "b": b, "case": case, **tokens}


def move(client, token, event_id, **body):
    return client.post(f"/api/v1/events/{event_id}/moves", json=body, headers=auth(token))


def test_a_case_travels_the_whole_loop_over_http(client, setting):
    case = setting["case"].id
    assert move(client, setting["commander"], case, move="register").status_code == 201
    assert move(client, setting["commander"], case, move="dispatch", handler="h").status_code == 201
    seen = client.get(f"/api/v1/events/{case}/timeline", headers=auth(setting["h"])).get_json()
    assert seen["allowed_moves"] == ["start", "handle", "escalate", "note"]
    assert seen["case"]["handler"] == "h" and seen["case"]["deadline_at"]
    assert move(client, setting["h"], case, move="start").status_code == 201
    done = move(client, setting["h"], case, move="handle", note="已补装井盖", photo_ref="/media/cover.jpg")
    assert done.status_code == 201 and done.get_json()["case"]["status"] == "handled"
    own = move(client, setting["h"], case, move="verify")
    assert own.status_code == 403 and own.mimetype == "application/problem+json"
    closed = move(client, setting["w2"], case, move="verify", note="核查属实")
    body = closed.get_json()
    assert closed.status_code == 201 and body["case"]["status"] == "closed" and body["allowed_moves"] == []
    assert body["move"]["actor"]["name"] == "w2"
    assert [m["move"] for m in body["timeline"]] == ["report", "register", "dispatch", "start", "handle", "verify"]


def test_bad_moves_get_problem_json(client, setting):
    case = setting["case"].id
    cases = [
        (setting["commander"], {"move": "register", "colour": "red"}, 400, "colour"),
        (setting["commander"], {"note": "no move"}, 400, "move"),
        (setting["commander"], {"move": "fly"}, 400, "move"),
        (setting["commander"], {"move": "note", "note": 5}, 400, "note"),
        (setting["commander"], {"move": "note", "note": "x", "photo_ref": "javascript:alert(1)"}, 400, "photo_ref"),
        (setting["commander"], {"move": "merge", "target": "abc"}, 400, "target"),
        (setting["commander"], {"move": "postpone", "note": "x", "extra_hours": "lots"}, 400, "extra_hours"),
        (setting["commander"], {"move": "verify"}, 409, None),
        (setting["viewer"], {"move": "register"}, 403, None),
        (setting["wx"], {"move": "note", "note": "x"}, 403, None),
    ]
    for token, body, status, parameter in cases:
        response = move(client, token, case, **body)
        assert response.status_code == status and response.mimetype == "application/problem+json", body
        assert response.get_json()["detail"] and response.get_json().get("parameter") == parameter, body
    conflict = move(client, setting["commander"], case, move="verify").get_json()
    assert conflict["status"] == 409 and conflict["case_status"] == "reported"
    assert conflict["allowed"] == ["register", "reject", "merge", "note"]
    assert client.post(f"/api/v1/events/{case}/moves", data="register",
                       headers=auth(setting["commander"])).status_code == 400
    assert move(client, setting["commander"], 999999, move="register").status_code == 404
    assert client.post(f"/api/v1/events/{case}/moves", json={"move": "register"}).status_code == 401
    assert client.get(f"/api/v1/events/{case}/timeline", headers=auth(setting["wx"])).status_code == 403
    # Nothing of the refused moves was recorded.
    timeline = client.get(f"/api/v1/events/{case}/timeline", headers=auth(setting["commander"])).get_json()
    assert [m["move"] for m in timeline["timeline"]] == ["report"]


def test_duplicates_endpoints(client, session, setting):
    twin = reported_event(session, grid=setting["a"], x=70, title="井盖没了", category="01001")
    session.commit()
    found = client.get(f"/api/v1/events/{twin.id}/duplicates", headers=auth(setting["h"])).get_json()
    assert [d["id"] for d in found["duplicates"]] == [setting["case"].id]
    assert found["duplicates"][0]["distance_m"] == pytest.approx(20, abs=0.2)
    lon, lat = lonlat(60, 50)
    near = client.get(f"/api/v1/duplicates?category=01001&lon={lon}&lat={lat}", headers=auth(setting["h"])).get_json()
    assert {d["id"] for d in near["duplicates"]} == {setting["case"].id, twin.id}
    for query, parameter in [("category=01001&lon=200&lat=31", "lon"), ("lon=121&lat=31", "category"),
                             ("category=01001&lon=121&lat=31&at=noon", "at")]:
        bad = client.get(f"/api/v1/duplicates?{query}", headers=auth(setting["h"]))
        assert bad.status_code == 400 and bad.get_json()["parameter"] == parameter


def test_overdue_cases_as_geojson(client, session, setting):
    late = reported_event(session, grid=setting["a"], reported_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=30))
    elsewhere = reported_event(session, grid=setting["b"], x=300,
                               reported_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=30))
    session.commit()
    workflow.tick(session)
    session.commit()
    everything = client.get("/api/v1/cases/overdue", headers=auth(setting["commander"])).get_json()
    assert everything["type"] == "FeatureCollection"
    assert {f["id"] for f in everything["features"]} == {late.id, elsewhere.id}
    assert all(f["properties"]["overdue_hours"] > 0 for f in everything["features"])
    mine = client.get("/api/v1/cases/overdue", headers=auth(setting["h"])).get_json()
    assert [f["id"] for f in mine["features"]] == [late.id]


def test_state_table_and_settings(client, setting):
    table = client.get("/api/v1/workflow", headers=auth(setting["viewer"])).get_json()
    assert len(table["transitions"]) == len(workflow.TRANSITIONS)
    assert table["settings"]["work_periods"] == [["09:00", "12:00"], ["13:30", "18:00"]]
    put = client.put("/api/v1/workflow/settings/work_periods", json={"value": "08:30-12:00,14:00-17:30"},
                     headers=auth(setting["admin"]))
    assert put.status_code == 200 and put.get_json()["value"] == [["08:30", "12:00"], ["14:00", "17:30"]]
    assert client.put("/api/v1/workflow/settings/work_periods", json={"value": "x"},
                      headers=auth(setting["commander"])).status_code == 403
    for key, value in [("work_periods", "12:00-09:00"), ("auto_escalate", "maybe"), ("colour", 1),
                       ("duplicate_radius_m", -5), ("timezone", "Mars/Olympus")]:
        bad = client.put(f"/api/v1/workflow/settings/{key}", json={"value": value}, headers=auth(setting["admin"]))
        assert bad.status_code == 400 and bad.mimetype == "application/problem+json", key


def test_to_do_lists_for_worker_and_commander(client, session, setting):
    case = setting["case"].id
    other = reported_event(session, grid=setting["a"], x=120, title="路灯不亮", category="01003")
    session.commit()
    move(client, setting["commander"], case, move="register")
    move(client, setting["commander"], case, move="dispatch", handler="h")
    mine = client.get("/api/v1/cases/mine", headers=auth(setting["h"])).get_json()
    assert [c["id"] for c in mine["to_handle"]] == [case] and mine["to_verify"] == []
    boss = client.get("/api/v1/cases/mine", headers=auth(setting["commander"])).get_json()
    assert [c["id"] for c in boss["to_register"]] == [other.id] and boss["to_verify"] == []
    move(client, setting["h"], case, move="handle", note="已补装")
    # The handler no longer has it; a colleague in the grid and the commander see it to verify.
    assert client.get("/api/v1/cases/mine", headers=auth(setting["h"])).get_json() == {
        "to_handle": [], "to_verify": [], "to_handle_omitted": 0, "to_verify_omitted": 0}
    assert [c["id"] for c in client.get("/api/v1/cases/mine", headers=auth(setting["w2"])).get_json()["to_verify"]] \
        == [case]
    assert client.get("/api/v1/cases/mine", headers=auth(setting["wx"])).get_json()["to_verify"] == []
    assert client.get("/api/v1/cases/mine", headers=auth(setting["viewer"])).status_code == 403


def test_a_report_starts_its_clock_and_is_offered_its_likely_duplicates(client, session, setting):
    lon, lat = lonlat(52, 48)  # 2.8 m from the case of the fixture (a 井盖缺失 at 50, 50)
    body = {"lon": lon, "lat": lat, "category": "01001", "title": "井盖丢了", "description": "路口井盖不见了"}
    reported = client.post("/api/v1/events", json=body, headers=auth(setting["h"]))
    assert reported.status_code == 201, reported.get_json()
    new = reported.get_json()
    assert new["level"] == "grid" and new["deadline_at"]  # 上水井盖: 24 working hours at grid level
    assert [d["id"] for d in new["duplicates"]] == [setting["case"].id]
    # The worker merges their report into the case they were offered: one case, both reports kept.
    merged = move(client, setting["h"], new["id"], move="merge", target=setting["case"].id)
    assert merged.status_code == 201 and merged.get_json()["case"]["merged_into"] == setting["case"].id
    case = client.get(f"/api/v1/events/{setting['case'].id}/timeline", headers=auth(setting["commander"])).get_json()
    assert case["case"]["merged_reports"] == [new["id"]]
    # A retry of the same report (same Idempotency-Key) does not start a second clock.
    again = client.post("/api/v1/events", json={**body, "title": "另一处"}, headers={
        **auth(setting["h"]), "Idempotency-Key": "k-1"})
    replay = client.post("/api/v1/events", json={**body, "title": "另一处"}, headers={
        **auth(setting["h"]), "Idempotency-Key": "k-1"})
    assert again.get_json()["id"] == replay.get_json()["id"]
    reports = [m for m in workflow.timeline(session, again.get_json()["id"], role="admin") if m["move"] == "report"]
    assert len(reports) == 1


def test_a_move_resent_with_its_idempotency_key_is_made_once(client, session, setting):
    case = setting["case"].id
    key = {"Idempotency-Key": "phone-outbox-move-1"}
    first = client.post(f"/api/v1/events/{case}/moves", json={"move": "register"},
                        headers={**auth(setting["commander"]), **key})
    again = client.post(f"/api/v1/events/{case}/moves", json={"move": "register"},
                        headers={**auth(setting["commander"]), **key})
    assert first.status_code == 201 and again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["move"]["id"] == first.get_json()["move"]["id"]
    moves = [m["move"] for m in again.get_json()["timeline"]]
    assert moves.count("register") == 1
    # The same key for another move is a mistake of the sender, said plainly.
    other = client.post(f"/api/v1/events/{case}/moves", json={"move": "dispatch", "handler": "h"},
                        headers={**auth(setting["commander"]), **key})
    assert other.status_code == 409 and other.mimetype == "application/problem+json"
    # Another user's same key is theirs: keys are per person.
    assert client.post(f"/api/v1/events/{case}/moves", json={"move": "note", "note": "到场"},
                       headers={**auth(setting["h"]), **key}).status_code == 201
