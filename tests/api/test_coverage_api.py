"""GET /api/v1/coverage as JSON and CSV, roles, and bad input as problem+json."""
from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from gis.cadres.coverage import CSV_COLUMNS
from tests.conftest import auth, problem
from tests.gis.cadres.test_coverage import build_scene
from webmap import catalog


@pytest.fixture
def scene(session):
    return build_scene(session)



KEYS = ["area", "area_m2", "covered_m2", "coverage_ratio", "buildings", "households", "population",
        "uncovered_grids", "shared_grids", "cadres", "balance"]


@pytest.mark.parametrize("role", ["commander", "planner", "admin"])
def test_coverage_json_shape(client, make_user, scene, role):
    response = client.get("/api/v1/coverage?area=310101", headers=auth(make_user(role)))
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.json
    assert set(body) == set(KEYS)
    assert body["area"] == {"code": "310101", "name": "测试区", "level": "district"}
    assert set(body["buildings"]) == {"total", "covered", "ratio"}
    assert set(body["uncovered_grids"][0]) == {"code", "name", "open_events"}
    assert set(body["shared_grids"][0]) == {"code", "cadres"}
    assert set(body["cadres"][0]) == {"code", "name", "type", "grids", "area_m2", "buildings", "households",
                                      "population", "open_events"}
    assert set(body["balance"]) == {"max_median_ratio", "gini_households"}
    assert body["coverage_ratio"] == pytest.approx(0.5, abs=1e-6)
    assert "phone" not in response.get_data(as_text=True)


def test_coverage_filters_by_type_and_date(client, make_user, scene):
    token = make_user("planner")
    g, day = scene["g"], scene["day"]
    body = client.get("/api/v1/coverage?area=310101&cadre_type=网格员", headers=auth(token)).json
    assert [r["code"] for r in body["uncovered_grids"]] == [g[5].code, g[4].code, g[2].code]
    earlier = day - dt.timedelta(days=2)  # E still held G4 then
    body = client.get(f"/api/v1/coverage?area=310101&at={earlier}", headers=auth(token)).json
    assert [r["code"] for r in body["uncovered_grids"]] == [g[5].code]


def test_coverage_csv(client, make_user, scene):
    g = scene["g"]
    response = client.get("/api/v1/coverage?area=310101", headers={**auth(make_user("commander")),
                                                                    "Accept": "text/csv"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert 'filename="coverage-310101.csv"' in response.headers["Content-Disposition"]
    text = response.get_data().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    area = rows[0]
    assert (area["record"], area["code"], area["type"], area["grids"], area["buildings"],
            area["buildings_covered"], area["households"], area["households_covered"], area["cadres"]) == (
        "area", "310101", "district", "5", "8", "4", "63", "41", "4")
    assert float(area["coverage_ratio"]) == pytest.approx(0.5, abs=1e-6)
    cadres = [r for r in rows if r["record"] == "cadre"]
    assert [(r["code"], r["households"]) for r in cadres] == [("A", "10"), ("B", "10"), ("C", "20"), ("D", "11")]
    uncovered = [(r["code"], r["open_events"]) for r in rows if r["record"] == "uncovered_grid"]
    assert uncovered == [(g[5].code, "3"), (g[4].code, "2")]
    assert [(r["code"], r["cadres"]) for r in rows if r["record"] == "shared_grid"] == [(g[1].code, "A B")]
    # ?format=csv does the same for a plain link; the default stays JSON.
    linked = client.get("/api/v1/coverage?area=310101&format=csv", headers=auth(make_user("planner")))
    assert linked.mimetype == "text/csv" and linked.get_data() == response.get_data()
    assert client.get("/api/v1/coverage?area=310101", headers={**auth(make_user("planner")),
                                                               "Accept": "*/*"}).mimetype == "application/json"


@pytest.mark.parametrize("role", ["worker", "viewer"])
def test_coverage_roles(client, make_user, scene, role):
    problem(client.get("/api/v1/coverage?area=310101", headers=auth(make_user(role))), 403)


def test_coverage_needs_sign_in(client, scene):
    problem(client.get("/api/v1/coverage?area=310101"), 401)


@pytest.mark.parametrize("query,status,word", [
    ("area=999999", 404, "999999"),
    ("", 400, "area"),
    ("area=310101&at=2025-02-30", 400, "at"),
    ("area=310101&at=yesterday", 400, "YYYY-MM-DD"),
    ("area=310101&cadre_type=村长", 400, "网格员"),
    ("area=310101&format=xml", 400, "csv"),
    ("area=' OR 1=1 --", 404, "area"),
])
def test_bad_input_is_problem_json(client, make_user, scene, query, status, word):
    body = problem(client.get(f"/api/v1/coverage?{query}", headers=auth(make_user("commander"))), status)
    assert word in body["detail"] or word in catalog.t(body["code"], "en").lower()


def test_unacceptable_accept_is_406(client, make_user, scene):
    response = client.get("/api/v1/coverage?area=310101", headers={**auth(make_user("commander")),
                                                                    "Accept": "application/xml"})
    body = problem(response, 406)
    assert "text/csv" in body["detail"]


def test_area_without_grids_over_http(client, make_user, scene):
    body = client.get("/api/v1/coverage?area=310101001002", headers=auth(make_user("admin"))).json
    assert body["coverage_ratio"] is None and body["cadres"] == [] and body["uncovered_grids"] == []
