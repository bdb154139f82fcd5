"""GET /api/v1/locate and /api/v1/events: GCJ-02 taps, worker scope, idempotency, bad input, listing."""
from __future__ import annotations

import json

import prcoords  # independent GCJ-02 reference, test-only
import pytest
from sqlalchemy import func, select

from api import db as api_db
from gis.core.models import Event
from tests.conftest import auth, problem
from tests.factories import cadre, contract, geodesic_offset, lonlat, three_grids

CATEGORY = "21001"


@pytest.fixture
def grids(session):
    made = three_grids(session)
    session.commit()
    return made


def _category_exists(session):
    from gis.core.models import Category

    assert session.get(Category, CATEGORY) is not None


# -- locate -----------------------------------------------------------------------------------
def test_locate_returns_the_issue_shape(client, make_user, grids, session):
    leader = cadre(session, "C1", name="王书记", type_="镇街领导", phone="13800000000")
    contract(session, leader, grid_code=grids["a"].code)
    session.commit()
    lon, lat = lonlat(100, 100)
    response = client.get(f"/api/v1/locate?lon={lon}&lat={lat}", headers=auth(make_user("viewer")))
    assert response.status_code == 200
    body = response.json
    assert body["status"] == "inside" and body["distance_m"] == 0
    assert body["grid"] == {"code": grids["a"].code, "name": "网格A"}
    assert body["community"]["code"] == "310101001001" and body["district"] == {"code": "310101", "name": "测试区"}
    assert body["cadres"] == [{"code": "C1", "name": "王书记", "type": "镇街领导"}]
    assert "13800000000" not in response.get_data(as_text=True)


def test_locate_gcj02_and_bd09_input(client, make_user, grids):
    token = make_user("worker")
    target = geodesic_offset(*lonlat(200, 50), 270, 2)  # 2 m inside A, west of the A|B edge
    gcj = prcoords.wgs_gcj((target[1], target[0]))
    body = client.get(f"/api/v1/locate?lon={gcj.lon}&lat={gcj.lat}&crs=gcj02", headers=auth(token)).json
    assert (body["status"], body["grid"]["code"]) == ("inside", grids["a"].code)
    bd = prcoords.wgs_bd((target[1], target[0]))
    body = client.get(f"/api/v1/locate?lon={bd.lon}&lat={bd.lat}&crs=bd09", headers=auth(token)).json
    assert (body["status"], body["grid"]["code"]) == ("inside", grids["a"].code)
    # Read as WGS84, the same GCJ-02 numbers are hundreds of metres away: outside every grid.
    body = client.get(f"/api/v1/locate?lon={gcj.lon}&lat={gcj.lat}", headers=auth(token)).json
    assert body["status"] == "outside" and body["distance_m"] > 100


def test_locate_needs_a_signed_in_user(client, grids):
    problem(client.get("/api/v1/locate?lon=121.47&lat=31.23"), 401)


def test_locate_snap_m_comes_from_config(db_url, session, make_user, grids):
    from api import create_app

    token = make_user("viewer")
    near = geodesic_offset(*lonlat(400, 50), 90, 40)
    url = f"/api/v1/locate?lon={near[0]}&lat={near[1]}"
    app = create_app({"TESTING": True, "DATABASE_URL": db_url, "SECRET_KEY": "x", "SNAP_M": 50})
    try:
        assert app.test_client().get(url, headers=auth(token)).json["status"] == "snapped"
    finally:
        api_db.dispose(app)


@pytest.mark.parametrize("query,parameter", [
    ("lat=31.23", "lon"), ("lon=121.47", "lat"), ("lon=abc&lat=31.23", "lon"), ("lon=121.47&lat=91", "lat"),
    ("lon=NaN&lat=31.23", "lon"), ("lon=121.47&lat=inf", "lat"), ("lon=121.47&lat=31.23&crs=wgs85", "crs"),
    ("lon=121.47&lat=31.23&crs=EPSG:99999", "crs"), ("lon=121.47&lat=31.23&accuracy_m=-3", "accuracy_m"),
    ("lon=121.47&lat=31.23&at=yesterday", "at"),
])
def test_locate_bad_input_is_400(client, make_user, query, parameter):
    body = problem(client.get(f"/api/v1/locate?{query}", headers=auth(make_user("viewer"))), 400)
    assert body.get("parameter") == parameter


def test_locate_at_selects_the_grid_version(client, make_user, session, grids):
    import datetime as dt

    from tests.factories import grid, rect

    cut = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    grid(session, grids["community"], 4, rect(0, 300, 400, 400), valid_to=cut, name="旧")
    session.commit()
    lon, lat = lonlat(100, 350)
    token = make_user("viewer")
    # An unescaped '+08:00' arrives as ' 08:00' in a query string; both spellings work.
    old = client.get(f"/api/v1/locate?lon={lon}&lat={lat}&at=2024-12-31T23:00:00+08:00", headers=auth(token)).json
    assert old["grid"]["name"] == "旧"
    assert client.get(f"/api/v1/locate?lon={lon}&lat={lat}", headers=auth(token)).json["status"] == "outside"


# -- POST /events -----------------------------------------------------------------------------
def _report(client, token, *, key=None, **fields):
    body = {"category": CATEGORY, "title": "楼道堆物", **fields}
    headers = auth(token) | ({"Idempotency-Key": key} if key else {})
    return client.post("/api/v1/events", json=body, headers=headers)


def test_worker_gcj02_tap_2_m_inside_their_grid_lands_there(client, make_user, session, grids):
    token = make_user("worker", grids=[grids["a"].code])
    target = geodesic_offset(*lonlat(200, 50), 270, 2)  # 2 m from the A|B edge, inside A
    gcj = prcoords.wgs_gcj((target[1], target[0]))
    response = _report(client, token, lon=gcj.lon, lat=gcj.lat, crs="gcj02", accuracy_m=1.5)
    assert response.status_code == 201, response.json
    body = response.json
    assert body["assignment"]["status"] == "inside"
    assert body["assignment"]["grid"]["code"] == grids["a"].code
    assert body["source"] == {"crs": "gcj02", "x": gcj.lon, "y": gcj.lat}
    assert body["lon"] == pytest.approx(target[0], abs=1e-7) and body["lat"] == pytest.approx(target[1], abs=1e-7)
    assert response.headers["Location"] == f"/api/v1/events/{body['id']}"
    ev = session.get(Event, body["id"])
    assert (ev.grid_id, ev.assign_status, ev.source_crs) == (grids["a"].id, "inside", "gcj02")


def test_worker_may_not_report_outside_their_grids(client, make_user, session, grids):
    token = make_user("worker", grids=[grids["a"].code])
    lon, lat = lonlat(300, 50)
    body = problem(_report(client, token, lon=lon, lat=lat), 403)
    assert body["grid"] == grids["b"].code and grids["b"].code in body["detail"]
    far = geodesic_offset(*lonlat(400, 50), 90, 500)
    body = problem(_report(client, token, lon=far[0], lat=far[1]), 403)
    assert body["grid"] is None and body["assign_status"] == "outside"
    assert session.scalar(select(func.count()).select_from(Event)) == 0


def test_commander_reports_anywhere_and_sees_contact(client, make_user, grids):
    token = make_user("commander")
    far = geodesic_offset(*lonlat(400, 50), 90, 500)
    response = _report(client, token, lon=far[0], lat=far[1], contact={"name": "居民", "phone": "13700000000"})
    assert response.status_code == 201
    assert response.json["assignment"]["status"] == "outside"
    assert response.json["contact"] == {"name": "居民", "phone": "13700000000"}


@pytest.mark.parametrize("role", ["viewer", "planner"])
def test_other_roles_may_not_report(client, make_user, role, grids):
    lon, lat = lonlat(100, 100)
    problem(_report(client, make_user(role), lon=lon, lat=lat), 403)


def test_idempotency_key_returns_the_same_event(client, make_user, session, grids):
    token = make_user("worker", grids=[grids["a"].code])
    lon, lat = lonlat(100, 100)
    first = _report(client, token, key="phone-7f3a-0001", lon=lon, lat=lat)
    again = _report(client, token, key="phone-7f3a-0001", lon=lon, lat=lat)
    assert first.status_code == again.status_code == 201
    assert again.json["id"] == first.json["id"] and again.headers["Idempotent-Replayed"] == "true"
    assert again.json["assignment"]["grid"] == first.json["assignment"]["grid"]
    assert session.scalar(select(func.count()).select_from(Event)) == 1
    # The same key for a different report is a client bug: 409, nothing written.
    body = problem(_report(client, token, key="phone-7f3a-0001", lon=lon, lat=lat, title="另一件事"), 409)
    assert body["event_id"] == first.json["id"]
    # Keys belong to their user: another user's identical key is a new event.
    other = make_user("commander")
    assert _report(client, other, key="phone-7f3a-0001", lon=lon, lat=lat).json["id"] != first.json["id"]
    assert session.scalar(select(func.count()).select_from(Event)) == 2


def test_concurrent_retries_with_one_key_make_one_event(live_server, make_user, session, grids):
    import threading

    import requests

    token = make_user("worker", grids=[grids["a"].code])
    lon, lat = lonlat(100, 100)
    ids, barrier = [], threading.Barrier(4)

    def send():
        barrier.wait()
        r = requests.post(f"{live_server}/api/v1/events", json={"category": CATEGORY, "title": "t", "lon": lon,
                                                                "lat": lat},
                          headers=auth(token) | {"Idempotency-Key": "race-1"}, timeout=30)
        ids.append((r.status_code, r.json().get("id")))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {status for status, _ in ids} == {201} and len({i for _, i in ids}) == 1
    assert session.scalar(select(func.count()).select_from(Event)) == 1


@pytest.mark.parametrize("body,parameter", [
    ({"lat": 31.23}, "lon"), ({"lon": "abc", "lat": 31.23}, "lon"), ({"lon": 121.47, "lat": 91}, "lat"),
    ({"lon": 121.47, "lat": 31.23, "crs": "mars"}, "crs"), ({"lon": 121.47, "lat": 31.23, "category": "99999"},
                                                            "category"),
    ({"lon": 121.47, "lat": 31.23, "title": ""}, "title"), ({"lon": 121.47, "lat": 31.23, "title": 5}, "title"),
    ({"lon": 121.47, "lat": 31.23, "occurred_at": "2999-01-01T00:00:00+08:00"}, "occurred_at"),
    ({"lon": 121.47, "lat": 31.23, "contact": "13700000000"}, "contact"),
    ({"lon": True, "lat": 31.23}, "lon"),
])
def test_report_bad_input_is_400(client, make_user, body, parameter):
    token = make_user("commander")
    response = client.post("/api/v1/events", json={"category": CATEGORY, "title": "t", **body}, headers=auth(token))
    assert problem(response, 400).get("parameter") == parameter


def test_report_nan_literal_and_malformed_json_are_400(client, make_user):
    token = make_user("commander")
    raw = '{"category": "21001", "title": "t", "lon": NaN, "lat": 31.2}'
    body = problem(client.post("/api/v1/events", data=raw, content_type="application/json", headers=auth(token)), 400)
    assert body["parameter"] == "lon"
    problem(client.post("/api/v1/events", data="{lon:", content_type="application/json", headers=auth(token)), 400)


def test_report_10_mb_body_is_413(client, make_user, session):
    token = make_user("commander")
    big = json.dumps({"category": CATEGORY, "title": "t", "lon": 121.47, "lat": 31.23,
                      "description": "x" * (10 * 1024 * 1024)})
    problem(client.post("/api/v1/events", data=big, content_type="application/json", headers=auth(token)), 413)
    assert session.scalar(select(func.count()).select_from(Event)) == 0


# -- reading ----------------------------------------------------------------------------------
def _seed(client, token, grids):
    made = []
    for i, (x, y) in enumerate([(100, 100), (300, 50), (300, 150), (50, 20), (150, 180)]):
        lon, lat = lonlat(x, y)
        made.append(_report(client, token, lon=lon, lat=lat, title=f"事件{i}", category="21001" if i % 2 else "22001",
                            occurred_at=f"2025-06-0{i + 1}T09:00:00+08:00",
                            contact={"phone": f"1370000000{i}"}).json)
    return made


def test_list_filters_and_keyset_pages(client, make_user, grids):
    commander = make_user("commander")
    made = _seed(client, commander, grids)
    everything = client.get("/api/v1/events", headers=auth(commander)).json
    assert [e["id"] for e in everything["events"]] == [e["id"] for e in reversed(made)]  # newest first
    assert everything["next"] is None
    pages, url = [], "/api/v1/events?limit=2"
    while url:
        page = client.get(url, headers=auth(commander)).json
        pages.append([e["id"] for e in page["events"]])
        url = page["next"]
    assert pages == [[made[4]["id"], made[3]["id"]], [made[2]["id"], made[1]["id"]], [made[0]["id"]]]
    by_grid = client.get(f"/api/v1/events?grid={grids['a'].code}", headers=auth(commander)).json["events"]
    assert sorted(e["id"] for e in by_grid) == sorted(made[i]["id"] for i in (0, 3, 4))
    by_cat = client.get("/api/v1/events?category=21001", headers=auth(commander)).json["events"]
    assert sorted(e["id"] for e in by_cat) == sorted(made[i]["id"] for i in (1, 3))
    by_major = client.get("/api/v1/events?category=22", headers=auth(commander)).json["events"]
    assert len(by_major) == 3
    since = client.get("/api/v1/events?since=2025-06-02T09:00:00%2B08:00&until=2025-06-04T09:00:00%2B08:00",
                       headers=auth(commander)).json["events"]
    assert [e["id"] for e in since] == [made[2]["id"], made[1]["id"]]
    x0, y0 = lonlat(250, 0)
    x1, y1 = lonlat(400, 200)
    boxed = client.get(f"/api/v1/events?bbox={x0},{y0},{x1},{y1}", headers=auth(commander)).json["events"]
    assert sorted(e["id"] for e in boxed) == sorted(made[i]["id"] for i in (1, 2))
    by_community = client.get("/api/v1/events?community=310101001001&status=reported",
                              headers=auth(commander)).json["events"]
    assert len(by_community) == 5
    assert client.get("/api/v1/events?assign_status=edge", headers=auth(commander)).json["events"] == []
    assert everything["events"][0]["contact"] == {"phone": "13700000004"}


def test_worker_lists_only_their_grids_without_contacts(client, make_user, grids):
    made = _seed(client, make_user("commander"), grids)
    worker = make_user("worker", grids=[grids["b"].code])
    listed = client.get("/api/v1/events", headers=auth(worker)).json["events"]
    assert [e["id"] for e in listed] == [made[1]["id"]]
    assert "contact" not in listed[0] and "1370000000" not in json.dumps(listed)
    assert client.get(f"/api/v1/events/{made[1]['id']}", headers=auth(worker)).status_code == 200
    problem(client.get(f"/api/v1/events/{made[0]['id']}", headers=auth(worker)), 404)
    problem(client.get("/api/v1/events", headers=auth(make_user("viewer"))), 403)


def test_event_detail_has_assignment_and_cadres(client, make_user, session, grids):
    leader = cadre(session, "C1", name="王书记", type_="镇街领导", phone="13800000000")
    contract(session, leader, grid_code=grids["a"].code)
    session.commit()
    made = _seed(client, make_user("commander"), grids)
    planner = make_user("planner")
    body = client.get(f"/api/v1/events/{made[0]['id']}", headers=auth(planner)).json
    assert body["assignment"]["grid"]["code"] == grids["a"].code
    assert body["assignment"]["cadres"] == [{"code": "C1", "name": "王书记", "type": "镇街领导"}]
    assert "contact" not in body and "13800000000" not in json.dumps(body)
    problem(client.get("/api/v1/events/999999", headers=auth(planner)), 404)


@pytest.mark.parametrize("query,parameter", [("bbox=1,2,3", "bbox"), ("status=lost", "status"),
                                             ("since=soon", "since"), ("limit=0", "limit"), ("cursor=%%%", "cursor"),
                                             ("limit=2.5", "limit")])
def test_list_bad_input_is_400(client, make_user, query, parameter):
    body = problem(client.get(f"/api/v1/events?{query}", headers=auth(make_user("commander"))), 400)
    assert body.get("parameter") == parameter
