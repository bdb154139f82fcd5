"""Open311 GeoReport v2, read by a real client (PyPI `georeport`) from a live server, in JSON and XML."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
import requests
from georeport import GeoReport
from sqlalchemy import func, select

from gis.cases import workflow
from gis.core.models import Category, Event
from tests.factories import grid, hierarchy, person, rect, reported_event

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def city(session):
    """Reports in one grid: open, closed, rejected, merged into the open one, a private dispute, an old one."""
    _, _, community = hierarchy(session)
    g = grid(session, community, 1, rect(0, 0, 200, 200))
    worker, _ = person(session, "worker", "w", grids=[g.code])
    boss, _ = person(session, "commander", "boss")
    chief, chief_token = person(session, "commander", "chief")
    e = SimpleNamespace(g=g, token=chief_token)
    e.open = reported_event(session, grid=g, title="路灯不亮", reported_at=NOW - dt.timedelta(days=2),
                            category="01003")
    e.closed = reported_event(session, grid=g, title="垃圾堆积", reported_at=NOW - dt.timedelta(days=3),
                              category="11002")
    e.rejected = reported_event(session, grid=g, title="重复来电", reported_at=NOW - dt.timedelta(days=4),
                                category="11002")
    e.merged = reported_event(session, grid=g, title="路灯坏了", reported_at=NOW - dt.timedelta(days=1),
                              category="01003")
    e.dispute = reported_event(session, grid=g, title="邻里吵架", reported_at=NOW - dt.timedelta(days=1),
                               category="21001")
    e.old = reported_event(session, grid=g, title="去年的事", reported_at=NOW - dt.timedelta(days=120),
                           category="01003")
    session.commit()
    workflow.apply_move(session, e.closed.id, boss, "register")
    workflow.apply_move(session, e.closed.id, boss, "dispatch", handler="w")
    workflow.apply_move(session, e.closed.id, worker, "handle", note="已清运", photo_ref="https://img.example.org/a.jpg")
    workflow.apply_move(session, e.closed.id, boss, "verify", note="现场核实已清理")
    workflow.apply_move(session, e.rejected.id, boss, "reject", note="与12345工单重复")
    workflow.apply_move(session, e.merged.id, boss, "merge", target=e.open.id)
    for report in (e.open, e.dispute, e.old):
        workflow.open_case(session, report)
    for report in (e.open, e.closed, e.rejected, e.merged, e.dispute, e.old):
        report.channel = "open311"  # as if residents had sent them: the public may list them
    session.commit()
    return e


def ids(found) -> set[int]:
    return {int(r["service_request_id"]) for r in found}


def test_service_list_and_definition(live_server, session):
    client = GeoReport(f"{live_server}/open311/v2")
    services = client.get_service_list()
    active = session.scalar(select(func.count()).select_from(Category).where(Category.active))
    assert len(services) == active
    lamp = next(s for s in services if s["service_code"] == "01003")
    assert (lamp["service_name"], lamp["group"], lamp["metadata"], lamp["type"]) == \
        ("路灯", "公用设施", False, "realtime")
    assert client.get_service_definition("01003") == {"service_code": "01003", "attributes": []}
    # Without an extension the answer is JSON too.
    assert requests.get(f"{live_server}/open311/v2/services", timeout=10).json() == services
    xml = GeoReport(f"{live_server}/open311/v2", output_format="xml")
    assert [s["service_code"] for s in xml.get_service_list()] == [s["service_code"] for s in services]
    assert xml.get_service_definition("01003")["service_code"] == "01003"


def test_requests_with_filters_json(live_server, city):
    client = GeoReport(f"{live_server}/open311/v2")
    # Default window: the last 90 days; the dispute is private to staff.
    assert ids(client.get_service_requests()) == {city.open.id, city.closed.id, city.rejected.id, city.merged.id}
    assert ids(client.get_service_requests(status="closed")) == {city.closed.id, city.rejected.id}
    assert ids(client.get_service_requests(status="open")) == {city.open.id, city.merged.id}
    assert ids(client.get_service_requests(service_code="11002")) == {city.closed.id, city.rejected.id}
    start = (NOW - dt.timedelta(days=3, hours=12)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (NOW - dt.timedelta(days=1, hours=12)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(client.get_service_requests(start_date=start, end_date=end)) == {city.open.id, city.closed.id}
    old_start = (NOW - dt.timedelta(days=150)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(client.get_service_requests(start_date=old_start)) == {city.old.id}
    # service_request_id overrides every other filter.
    assert ids(client.get_service_requests(service_request_id=f"{city.old.id},{city.open.id}",
                                           status="closed")) == {city.old.id, city.open.id}


def test_one_request_with_status_notes(live_server, city):
    client = GeoReport(f"{live_server}/open311/v2")
    closed = client.get_service_request(str(city.closed.id))
    # The public reads the status, not the staff's notes, nor an unpublished photo, and a rounded place.
    assert closed["status"] == "closed" and closed["status_notes"] == "已结案 verified and closed"
    assert closed["service_code"] == "11002" and closed["media_url"] is None and closed["description"] is None
    assert closed["lat"] == round(closed["lat"], 3) and abs(closed["lat"] - 31.2304) < 0.001
    rejected = client.get_service_request(str(city.rejected.id))
    assert rejected["status"] == "closed" and "与12345工单重复" not in rejected["status_notes"]
    merged = client.get_service_request(str(city.merged.id))
    assert merged["status"] == "open" and f"merged with request {city.open.id}" in merged["status_notes"]
    opened = client.get_service_request(str(city.open.id))
    assert opened["status_notes"].startswith("已受理")
    # Staff (a commander's api_key) read the whole request: notes, photo, agency, exact place.
    url = f"{live_server}/open311/v2/requests/{{}}.json"
    [full] = requests.get(url.format(city.closed.id), params={"api_key": city.token}, timeout=10).json()
    assert full["status_notes"].endswith("现场核实已清理") and full["media_url"] == "https://img.example.org/a.jpg"
    assert full["agency_responsible"] == "网格1" and "测试社区" in full["address"]
    assert abs(full["lat"] - 31.2304) < 0.001 and abs(full["long"] - 121.4705) < 0.001
    [full] = requests.get(url.format(city.rejected.id), params={"api_key": city.token}, timeout=10).json()
    assert "与12345工单重复" in full["status_notes"]
    [full] = requests.get(url.format(city.open.id), params={"api_key": city.token}, timeout=10).json()
    assert full["expected_datetime"] is not None


def test_requests_in_xml(live_server, city):
    client = GeoReport(f"{live_server}/open311/v2", output_format="xml")
    found = client.get_service_requests(status="closed")
    assert {int(r["service_request_id"]) for r in found} == {city.closed.id, city.rejected.id}
    one = client.get_service_request(str(city.closed.id))  # xmltodict: a single <request> is a dict
    assert one["status"] == "closed" and one["service_name"] == "积存垃圾渣土"


def test_private_categories_need_a_staff_key(live_server, city):
    url = f"{live_server}/open311/v2/requests/{city.dispute.id}.json"
    assert requests.get(url, timeout=10).status_code == 404
    staff = requests.get(url, params={"api_key": city.token}, timeout=10)
    assert staff.status_code == 200 and staff.json()[0]["service_code"] == "21001"
    wrong = requests.get(url, params={"api_key": "gg_nope"}, timeout=10)
    assert wrong.status_code == 401 and wrong.headers["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("path, status, parameter", [
    ("requests.json?start_date=yesterday", 400, "start_date"),
    ("requests.json?start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z", 400, "start_date"),
    ("requests.json?start_date=2026-06-01T00:00:00Z&end_date=2026-01-01T00:00:00Z", 400, "end_date"),
    ("requests.json?status=pending", 400, "status"),
    ("requests.json?service_code=00000", 400, "service_code"),
    ("requests.json?service_request_id=1;2", 400, "service_request_id"),
    ("requests/987654.json", 404, None),
    ("services/00000.xml", 404, None),
    ("services.csv", 404, None),
])
def test_bad_requests_get_problem_json(client, path, status, parameter):
    response = client.get(f"/open311/v2/{path}")
    assert response.status_code == status and response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["detail"] and body.get("parameter") == parameter


@pytest.fixture
def field(session):
    """Two grids, a worker of the first (an Open311 key), a viewer key (a citizen app), a planner and a commander."""
    _, _, community = hierarchy(session)
    g = grid(session, community, 1, rect(0, 0, 200, 200))
    grid(session, community, 2, rect(200, 0, 400, 200))
    keys = {role: person(session, role, name, grids=[g.code] if role == "worker" else ())[1]
            for role, name in [("worker", "w"), ("viewer", "app"), ("planner", "p"), ("commander", "c")]}
    session.commit()
    return SimpleNamespace(g=g, **keys)


def test_post_then_read_back_round_trip(live_server, session, field):
    from tests.factories import lonlat

    lon, lat = lonlat(50, 60)
    posted = requests.post(f"{live_server}/open311/v2/requests.json", timeout=10, data={
        "api_key": field.worker, "service_code": "11002", "lat": lat, "long": lon,
        "description": "小区门口积存建筑垃圾\n已经三天了", "media_url": "https://img.example.org/heap.jpg",
        "first_name": "王", "last_name": "女士", "phone": "13800000000"})
    assert posted.status_code == 201, posted.text
    [receipt] = posted.json()
    new_id = receipt["service_request_id"]
    assert receipt["service_notice"] is None
    # Read back by the real client: open, near where it was reported; its text waits for publication.
    back = GeoReport(f"{live_server}/open311/v2").get_service_request(new_id)
    assert (back["status"], back["service_code"]) == ("open", "11002")
    assert back["description"] is None and back["media_url"] is None
    assert abs(back["lat"] - lat) < 1e-3 and abs(back["long"] - lon) < 1e-3
    # Staff read it whole: the text, the exact place, its deadline and photo.
    [full] = requests.get(f"{live_server}/open311/v2/requests/{new_id}.json", params={"api_key": field.commander},
                          timeout=10).json()
    assert full["description"].startswith("小区门口积存建筑垃圾")
    assert abs(full["lat"] - lat) < 1e-9 and abs(full["long"] - lon) < 1e-9
    assert full["expected_datetime"] and full["media_url"] == "https://img.example.org/heap.jpg"
    assert full["agency_responsible"] == "网格1"
    assert "13800000000" not in posted.text + str(back) + str(full)  # the resident's phone is stored, never shown
    event = session.get(Event, int(new_id))
    assert event.grid_id == field.g.id and event.contact["phone"] == "13800000000"
    assert event.first_deadline_at is not None  # through create_event, the clock started
    # A second report a few metres away is told about the first.
    near_lon, near_lat = lonlat(55, 62)
    again = requests.post(f"{live_server}/open311/v2/requests.xml", timeout=10, data={
        "api_key": field.viewer, "service_code": "11002", "lat": near_lat, "long": near_lon})
    assert again.status_code == 201 and again.headers["Content-Type"].startswith("text/xml")
    assert f"possibly a duplicate of {new_id}" in again.text and "<service_request_id>" in again.text


def test_post_in_gcj02_lands_in_wgs84(live_server, session, field):
    from gis.spatial.crs import wgs84_to_gcj02
    from tests.factories import lonlat

    lon, lat = lonlat(100, 100)
    # What a phone with AMap would send for this spot: its GCJ-02 coordinates.

    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    assert abs(g_lon - lon) > 1e-3  # a few hundred metres apart
    posted = requests.post(f"{live_server}/open311/v2/requests.json", timeout=10, data={
        "api_key": field.worker, "service_code": "01003", "lat": g_lat, "long": g_lon, "crs": "gcj02"})
    assert posted.status_code == 201, posted.text
    event = session.get(Event, int(posted.json()[0]["service_request_id"]))
    assert event.grid_id == field.g.id and event.source_crs == "gcj02"
    stored = session.execute(select(func.ST_X(Event.geom), func.ST_Y(Event.geom)).where(Event.id == event.id)).one()
    assert tuple(stored) == pytest.approx((lon, lat), abs=1e-7)  # back on the spot, not 500 m off


@pytest.mark.parametrize("form, status, parameter", [
    ({"service_code": "11002", "lat": "31.2305"}, 400, "lat"),
    ({"service_code": "99999", "lat": "31.2305", "long": "121.4705"}, 400, "service_code"),
    ({"service_code": "11002", "lat": "north", "long": "121.4705"}, 400, "lat"),
    ({"service_code": "11002", "lat": "31.2305", "long": "121.4705", "colour": "red"}, 400, "colour"),
    ({"service_code": "11002", "lat": "31.2305", "long": "121.4705", "media_url": "file:///etc/passwd"}, 400,
     "media_url"),
    ({"service_code": "11002", "lat": "31.5", "long": "121.9"}, 400, "lat"),  # outside the district
    ({"service_code": "11002", "lat": "31.2309", "long": "121.4735"}, 403, None),  # in another grid
])
def test_bad_posts_get_problem_json_and_write_nothing(client, session, field, form, status, parameter):
    response = client.post("/open311/v2/requests.json", data={"api_key": field.worker, **form})
    assert response.status_code == status and response.mimetype == "application/problem+json"
    assert response.get_json().get("parameter") == parameter and response.get_json()["detail"]
    assert session.scalar(select(func.count()).select_from(Event)) == 0


def test_post_needs_a_key_of_a_reporting_role(app, client, field):
    # Without any key it would be a resident's report (tests/api/test_residents.py); with that channel closed, 401.
    app.config["RESIDENT_REPORTS"] = False
    form = {"service_code": "11002", "lat": "31.2305", "long": "121.4705"}
    assert client.post("/open311/v2/requests.json", data=form).status_code == 401
    assert client.post("/open311/v2/requests.json", data={**form, "api_key": "gg_nope"}).status_code == 401
    assert client.post("/open311/v2/requests.json", data={**form, "api_key": field.planner}).status_code == 403
