"""Every response carries the security headers: walk every GET route, signed in and not, errors and static files too."""
from __future__ import annotations

import re

import pytest

from api.headers import FIXED
from api.locate import ENDPOINT
from tests.conftest import auth, live_hub
from tests.factories import four_grids

PASSWORD = "correct-horse-9"
# A value for each path parameter a GET route takes, filled from the fixture district below.
SAMPLE = {"filename": "favicon.svg", "asset": "leaflet/dist/leaflet.js", "name": "grids", "z": "16", "x": "0",
          "y": "0", "fid": "1", "fmt": "json"}


@pytest.fixture
def district(session):
    community, grids, buildings, events = four_grids(session)
    session.commit()
    return {"community": community.code, "grid": grids[0].code, "building": buildings[0].code,
            "event": str(events[0].id)}


def paths(app, district) -> list[str]:
    """One concrete path per GET route of the app, its parameters filled with real ids."""
    values = {**SAMPLE, "event_id": district["event"], "request_id": district["event"], "contract_id": "1",
              "edit_id": "1", "attachment_id": "1"}
    out = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()):
            continue
        args = dict(values)
        if "code" in rule.arguments:
            args["code"] = (district["building"] if "buildings" in rule.rule else
                            district["community"] if "areas" in rule.rule else district["grid"])
        path = re.sub(r"<(?:[^:>]+:)?(\w+)(?:\([^)]*\))?>", lambda m, a=args: a[m.group(1)], rule.rule)
        out.append(path)
    return sorted(set(out))


def assert_secured(response, path: str) -> None:
    headers = response.headers
    policy = headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in policy, path
    assert "default-src 'self'" in policy or "default-src 'none'" in policy, path
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[-1].split(";")[0], path
    assert "'unsafe-eval'" not in policy, path
    for name, value in FIXED.items():
        assert headers.get(name) == value, (path, name)
    assert "Strict-Transport-Security" not in headers, path  # plain HTTP: HSTS would be ignored or harmful


def test_every_get_route_answers_with_the_security_headers_signed_in_or_not(app, client, make_user, district):
    walked = paths(app, district)
    assert len(walked) > 40  # the walk reaches the routes, not a handful
    token = make_user("admin", name="boss", password=PASSWORD)
    statuses = set()
    for path in walked:
        for headers in ({}, auth(token)):
            response = client.get(path, headers=headers)
            statuses.add(response.status_code)
            assert_secured(response, path)
            assert response.status_code < 500, (path, response.get_data(as_text=True)[:300])
    assert {200, 401}.issubset(statuses) or {200, 302}.issubset(statuses)


def test_pages_signed_in_by_cookie_carry_the_headers_and_a_fresh_nonce_on_every_script(client, make_user, district):
    make_user("admin", name="boss", password=PASSWORD)
    assert client.post("/login", data={"name": "boss", "password": PASSWORD}).status_code == 302
    nonces = []
    for path in ("/map", "/map/worker", "/map/planner", f"/cases/{district['event']}", "/cases", "/login"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_secured(response, path)
        html = response.get_data(as_text=True)
        nonce = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"]).group(1)
        tags = re.findall(r"<script\b[^>]*>", html, re.I)
        assert all(f'nonce="{nonce}"' in tag for tag in tags), (path, tags)
        assert not re.search(r"\son[a-z]+\s*=", html.split("<body", 1)[-1].replace("<script", "")), path
        nonces.append(nonce)
    assert len(set(nonces)) == len(nonces)  # a nonce is used once


def test_errors_and_unknown_paths_carry_the_headers_too(client):
    for path in ("/no/such/page", "/api/v1/events/999999999", "/static/../pyproject.toml"):
        assert_secured(client.get(path), path)
    assert_secured(client.post("/api/v1/events", json={}), "POST /api/v1/events")


def test_a_page_cannot_be_framed_by_another_site(client, make_user, district):
    make_user("commander", name="c1", password=PASSWORD)
    client.post("/login", data={"name": "c1", "password": PASSWORD})
    response = client.get("/map")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_hsts_is_sent_only_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/healthz").headers
    secure = client.get("/healthz", base_url="https://gridgov.example")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")


def test_the_locate_fast_path_answers_with_the_same_headers(app, client, make_user, district):
    token = make_user("admin")
    live_hub(app)  # the process hears table changes, so it caches the token on the first call
    assert client.get("/api/v1/locate?lon=118&lat=24", headers=auth(token)).status_code == 200
    calls, view = [], app.view_functions[ENDPOINT]
    app.view_functions[ENDPOINT] = lambda *a, **k: calls.append(1) or view(*a, **k)
    response = client.get("/api/v1/locate?lon=118.0&lat=24.0", headers=auth(token))
    assert response.status_code == 200 and calls == []  # answered by the fast path, not the route
    assert_secured(response, "/api/v1/locate")
