"""Open311's public view: only public-channel reports, a rounded place, text once published and masked."""
from __future__ import annotations

import pytest
from pyproj import Transformer
from sqlalchemy import func, select

from gis.cases import workflow
from gis.core.models import AuditEntry, Event, User
from tests.conftest import auth, problem
from tests.factories import grid, hierarchy, lonlat, person, rect

PHONE, MASKED_PHONE = "13812345678", "138****5678"
PUBLIC_KEYS = {"service_request_id", "status", "status_notes", "service_name", "service_code", "description",
               "requested_datetime", "updated_datetime", "lat", "long", "media_url"}


@pytest.fixture
def town(session):
    """One grid, its worker, a commander and a citizen app's viewer key."""
    _, _, community = hierarchy(session)
    g = grid(session, community, 1, rect(0, 0, 200, 200))
    tokens = {role: person(session, role, role, grids=[g.code] if role == "worker" else ())[1]
              for role in ("worker", "commander", "viewer", "planner")}
    session.commit()
    return g, tokens


def _post(client, key: str, **form):
    lon, lat = lonlat(50, 60)
    response = client.post("/open311/v2/requests.json", data={"api_key": key, "service_code": "11002",
                                                               "lat": lat, "long": lon, **form})
    assert response.status_code == 201, response.get_data(as_text=True)
    return int(response.json[0]["service_request_id"])


def test_a_worker_filed_event_never_reaches_an_anonymous_reader(client, town):
    _, tokens = town
    lon, lat = lonlat(40, 40)
    filed = client.post("/api/v1/events", headers=auth(tokens["worker"]), json={
        "lon": lon, "lat": lat, "category": "11002", "title": "门口垃圾", "description": f"住户说电话{PHONE}"})
    assert filed.status_code == 201
    anonymous = client.get("/open311/v2/requests.json")
    assert anonymous.status_code == 200 and anonymous.json == []
    assert PHONE not in anonymous.get_data(as_text=True)
    assert client.get(f"/open311/v2/requests/{filed.json['id']}.json").status_code == 404
    for role in ("viewer", "worker", "planner"):  # any non-staff key gets the public view too
        assert client.get("/open311/v2/requests.json", query_string={"api_key": tokens[role]}).json == []
    staff = client.get("/open311/v2/requests.json", query_string={"api_key": tokens["commander"]}).json
    assert [r["service_request_id"] for r in staff] == [str(filed.json["id"])] and PHONE in staff[0]["description"]


def test_a_public_report_shows_its_text_only_once_published_and_masked(client, session, town):
    _, tokens = town
    new = _post(client, tokens["viewer"], description=f"小区门口积存垃圾，联系{PHONE}",
                media_url="https://img.example.org/heap.jpg", phone="13900001111", first_name="王")
    commander = session.scalar(select(User).where(User.role == "commander"))
    workflow.apply_move(session, new, commander, "reject", note="核实：王女士13900001111 家门口")
    session.commit()
    before = client.get(f"/open311/v2/requests/{new}.json").json[0]
    assert set(before) == PUBLIC_KEYS
    assert before["description"] is None and before["media_url"] is None and before["status"] == "closed"
    assert "王女士" not in before["status_notes"] and "13900001111" not in str(before)
    lon, lat = lonlat(50, 60)
    assert (before["long"], before["lat"]) == (round(lon, 3), round(lat, 3)) != (lon, lat)

    published = client.post(f"/api/v1/events/{new}/publish", headers=auth(tokens["commander"]),
                            json={"reply": "已转交物业清运"})
    assert published.status_code == 200 and published.json["published_at"]
    after = client.get(f"/open311/v2/requests/{new}.json").json[0]
    assert MASKED_PHONE in after["description"] and PHONE not in after["description"]
    assert after["media_url"] == "https://img.example.org/heap.jpg" and after["status_notes"].endswith("已转交物业清运")
    xml = client.get(f"/open311/v2/requests/{new}.xml").get_data(as_text=True)
    assert MASKED_PHONE in xml and PHONE not in xml and "王女士" not in xml
    staff = client.get(f"/open311/v2/requests/{new}.json", query_string={"api_key": tokens["commander"]}).json[0]
    assert PHONE in staff["description"] and "王女士13900001111" in staff["status_notes"]
    assert session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "publish")) == 1


def test_private_and_non_public_categories_stay_with_staff(client, town):
    _, tokens = town
    dispute = _post(client, tokens["viewer"], service_code="21001", description="邻居吵架")
    hardship = _post(client, tokens["viewer"], service_code="23005", description="困难求助")
    assert client.get("/open311/v2/requests.json").json == []
    for hidden in (dispute, hardship):
        assert client.get(f"/open311/v2/requests/{hidden}.json").status_code == 404
        staff = client.get(f"/open311/v2/requests/{hidden}.json", query_string={"api_key": tokens["commander"]})
        assert staff.status_code == 200


def test_publishing_needs_a_commander_and_a_public_report(client, town):
    _, tokens = town
    new = _post(client, tokens["viewer"])
    assert client.post(f"/api/v1/events/{new}/publish", headers=auth(tokens["worker"]), json={}).status_code == 403
    lon, lat = lonlat(40, 40)
    filed = client.post("/api/v1/events", headers=auth(tokens["worker"]),
                        json={"lon": lon, "lat": lat, "category": "11002", "title": "工作人员上报"}).json["id"]
    problem(client.post(f"/api/v1/events/{filed}/publish", headers=auth(tokens["commander"]), json={}), 409)


def _projected(crs: str, lon: float, lat: float) -> tuple[float, float]:
    return Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)


@pytest.mark.parametrize("role", ["viewer", "worker", "commander"])
@pytest.mark.parametrize("crs, where", [
    ("wgs84", lambda: (121.9, 31.5)),  # 50 km away
    ("EPSG:3857", lambda: (121.4705, 31.2304)),  # degrees sent as Web Mercator metres: off Africa
    ("EPSG:4547", lambda: _projected("EPSG:4547", 113.0, 23.0)),  # a real CGCS2000 point, in Guangdong
    ("EPSG:32651", lambda: (500000.0, 0.0)),  # UTM 51N on the equator
])
def test_a_point_outside_the_district_is_refused_in_any_crs(client, session, town, role, crs, where):
    _, tokens = town
    x, y = where()
    response = client.post("/open311/v2/requests.json", data={
        "api_key": tokens[role], "service_code": "11002", "long": x, "lat": y, "crs": crs})
    assert "网格" in problem(response, 400)["detail"]
    assert session.scalar(select(func.count()).select_from(Event)) == 0


def test_a_projected_point_inside_the_district_is_placed(client, session, town):
    g, tokens = town
    x, y = _projected("EPSG:3857", *lonlat(50, 60))
    response = client.post("/open311/v2/requests.json", data={
        "api_key": tokens["viewer"], "service_code": "11002", "long": x, "lat": y, "crs": "EPSG:3857"})
    assert response.status_code == 201, response.get_data(as_text=True)
    event = session.get(Event, int(response.json[0]["service_request_id"]))
    assert event.grid_id == g.id and event.channel == "open311"
