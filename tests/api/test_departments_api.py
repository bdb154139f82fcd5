"""Departments over HTTP: the list proposes the owner, its member works the case from the queue, the league
table ranks it, the list's gaps are reported (API and `gridgov duties check`), and the import refuses bad files."""
from __future__ import annotations

import datetime as dt

import pytest

from gis.core.models import Responsibility
from gis.duties import create_department, set_member
from tests.api.test_cli import gridgov
from tests.conftest import auth
from tests.factories import grid, hierarchy, person, rect, reported_event


@pytest.fixture
def city(session, make_user):
    _, street, community = hierarchy(session)
    a = grid(session, community, 1, rect(0, 0, 400, 200))
    cg = create_department(session, "CGJ", "城管执法局", "district")
    sw = create_department(session, "SWJ", "水务局", "district")
    session.add(Responsibility(major_code="01", level="grid", owner_id=cg.id, co_ids=[sw.id],
                               valid_from=dt.date(2020, 1, 1)))
    member, member_token = person(session, "department", "cg-1")
    set_member(session, member, cg)
    other, other_token = person(session, "department", "sw-1")
    set_member(session, other, sw)
    session.commit()
    case = reported_event(session, grid=a, category="01001", title="井盖缺失")
    session.commit()
    return {"case": case.id, "member": member_token, "other": other_token,
            "commander": make_user("commander", name="cmd"), "checker": make_user("commander", name="chk"),
            "admin": make_user("admin", name="adm")}


def move(client, token, event_id, **body):
    return client.post(f"/api/v1/events/{event_id}/moves", json=body, headers=auth(token))


def test_the_list_proposes_the_owner_and_its_member_handles_it_from_the_queue(client, city):
    case = city["case"]
    registered = move(client, city["commander"], case, move="register").get_json()
    assert registered["case"]["proposed_owner"]["code"] == "CGJ"
    assert [d["code"] for d in registered["case"]["co_departments"]] == ["SWJ"]
    dispatched = move(client, city["commander"], case, move="dispatch")
    assert dispatched.status_code == 201 and dispatched.get_json()["case"]["owner_department"]["code"] == "CGJ"
    mine = client.get("/api/v1/cases/mine", headers=auth(city["member"])).get_json()
    assert [c["id"] for c in mine["to_handle"]] == [case]
    assert client.get("/api/v1/cases/mine", headers=auth(city["other"])).get_json()["to_handle"] == []
    assert client.get(f"/api/v1/events/{case}/timeline", headers=auth(city["other"])).status_code == 403
    assert move(client, city["other"], case, move="start").status_code == 403
    seen = client.get(f"/api/v1/events/{case}/timeline", headers=auth(city["member"])).get_json()
    assert seen["allowed_moves"] == ["start", "handle", "return", "note"]
    assert move(client, city["member"], case, move="handle", note="已更换井盖").status_code == 201
    assert move(client, city["checker"], case, move="verify").status_code == 201
    league = client.get("/api/v1/stats/departments?from=2000-01-01&min_count=1",
                        headers=auth(city["commander"])).get_json()
    row = next(r for r in league["rows"] if r["code"] == "CGJ")
    assert (row["rank"], row["dispatched"], row["on_time_handling_ratio"]) == (1, 1, 1.0)
    assert client.get("/api/v1/stats/departments", headers=auth(city["member"])).status_code == 403


def test_a_return_needs_a_reason_and_the_case_waits_to_be_dispatched_again(client, city):
    case = city["case"]
    move(client, city["commander"], case, move="register")
    move(client, city["commander"], case, move="dispatch", department="CGJ")
    assert move(client, city["member"], case, move="return").status_code == 400
    back = move(client, city["member"], case, move="return", note="属水务局")
    assert back.status_code == 201 and back.get_json()["case"]["status"] == "registered"
    waiting = client.get("/api/v1/cases/mine", headers=auth(city["commander"])).get_json()["returned"]
    assert [c["id"] for c in waiting] == [case]
    assert move(client, city["commander"], case, move="dispatch", department="SWJ", handler="sw-1").status_code == 201
    assert move(client, city["commander"], case, move="dispatch", department="CGJ",
                handler="sw-1").status_code == 400  # not a member of it


def test_gaps_are_reported_by_the_api_and_the_cli(client, city, db_url):
    gaps = client.get("/api/v1/responsibilities/gaps", headers=auth(city["commander"])).get_json()
    assert gaps["count"] > 0 and all(not g["category"].startswith("01") or g["level"] != "grid"
                                     for g in gaps["gaps"])
    assert any(g["category"] == "02001" and g["street"] == "310101001" for g in gaps["gaps"])
    checked = gridgov(db_url, "duties", "check", "--level", "grid", lang="en")
    assert checked.returncode == 1 and ": 02001 " in checked.stdout and ": 01001 " not in checked.stdout


def test_the_import_over_http_is_all_or_nothing(client, city):
    bad = "category,level,owner,valid_from\n02001,grid,CGJ,2021-01-01\n02002,grid,NOPE,2021-01-01\n"
    refused = client.post("/api/v1/responsibilities/import", data=bad, content_type="text/csv",
                          headers=auth(city["admin"]))
    assert refused.status_code == 400 and refused.get_json()["errors"][0]["line"] == 3
    good = bad.replace("NOPE", "SWJ")
    made = client.post("/api/v1/responsibilities/import", data=good, content_type="text/csv",
                       headers=auth(city["admin"]))
    assert made.status_code == 201 and made.get_json()["created"] == 2
    assert client.post("/api/v1/responsibilities/import", data=good, content_type="text/csv",
                       headers=auth(city["commander"])).status_code == 403


def test_the_case_page_shows_the_proposed_owner_and_a_member_sees_only_its_cases(client, city):
    case = city["case"]
    move(client, city["commander"], case, move="register")
    page = client.get(f"/cases/{case}", headers=auth(city["commander"]))
    assert page.status_code == 200 and 'id="case-proposed">城管执法局 <small>CGJ</small>' in page.get_data(as_text=True)
    assert client.get(f"/cases/{case}", headers=auth(city["member"])).status_code == 403  # not dispatched yet
    move(client, city["commander"], case, move="dispatch")
    owned = client.get(f"/cases/{case}", headers=auth(city["member"])).get_data(as_text=True)
    assert 'id="case-owner">城管执法局' in owned and "水务局" in owned  # the co-operating department too


def test_stats_group_department_on_the_command_line(client, city, db_url):
    case = city["case"]
    move(client, city["commander"], case, move="register")
    move(client, city["commander"], case, move="dispatch")
    move(client, city["member"], case, move="return", note="不属本部门")
    listed = gridgov(db_url, "stats", "--group", "department", "--from", "2000-01-01", "--min-count", "1",
                     "--rank-by", "return_ratio", lang="en")
    assert listed.returncode == 0, listed.stderr
    line = next(x for x in listed.stdout.splitlines() if "CGJ" in x)
    assert line.split()[0] == "1" and "100.0%" in line  # ranked first, every case it got sent back


def test_departments_are_listed_with_their_members_and_added_by_an_admin(client, city):
    listed = client.get("/api/v1/departments", headers=auth(city["commander"])).get_json()["departments"]
    assert [(d["code"], d["members"]) for d in listed] == [("CGJ", ["cg-1"]), ("SWJ", ["sw-1"])]
    body = {"code": "JD001", "name": "测试街道办事处", "level": "street", "area": "310101001"}
    assert client.post("/api/v1/departments", json=body, headers=auth(city["commander"])).status_code == 403
    assert client.post("/api/v1/departments", json=body, headers=auth(city["admin"])).status_code == 201
    again = client.post("/api/v1/departments", json=body, headers=auth(city["admin"]))
    assert again.status_code == 400 and again.get_json()["parameter"] == "code"
    assert client.get("/api/v1/departments", headers=auth(city["member"])).status_code == 403
