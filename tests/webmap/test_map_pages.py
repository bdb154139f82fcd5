"""The three map pages: who may open them, and in Chromium — no console errors, nothing leaving
127.0.0.1, layers drawn, and a new event on an open command center within 2 s."""
from __future__ import annotations

import json
import re
import urllib.request

import pytest

from tests.factories import four_grids, lonlat
from webmap import catalog

PASSWORD = "correct-horse-9"
ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


@pytest.fixture
def district(session):
    community, grids, buildings, events = four_grids(session)
    session.commit()
    return {"community": community, "grids": grids, "buildings": buildings, "events": events}


def sign_in(client, name):
    response = client.post("/login", data={"name": name, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)


def test_pages_redirect_to_login_when_not_signed_in(client):
    for path in ("/map", "/map/worker", "/map/planner"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=" + path.replace("/", "%2F")) or \
            response.headers["Location"].startswith("/login?next=" + path)


def test_page_roles(client, make_user, district):
    make_user("worker", password=PASSWORD, name="w1", grids=[district["grids"][0].code])
    sign_in(client, "w1")
    assert client.get("/map").headers["Location"].endswith("/map/worker")
    assert client.get("/map/worker").status_code == 200
    forbidden = client.get("/map/planner")
    assert forbidden.status_code == 403 and forbidden.mimetype == "application/problem+json"


@pytest.mark.parametrize("path", ["/map", "/map/worker", "/map/planner"])
def test_every_page_asset_is_local_and_served(client, make_user, district, path):
    make_user("admin", password=PASSWORD, name="boss")
    sign_in(client, "boss")
    html = client.get(path).get_data(as_text=True)
    assets = [a for a in ASSET.findall(html) if a.endswith((".js", ".css"))]
    assert any("gridgov-map.js" in a for a in assets) and any("leaflet.js" in a for a in assets)
    for asset in assets:
        assert asset.startswith("/static/"), asset
        assert client.get(asset).status_code == 200, asset
    assert "maxZoom" in html  # marker clustering throws on a map without a maximum zoom


def test_command_center_shows_only_readable_layers(client, make_user, district):
    make_user("viewer", password=PASSWORD, name="v1")
    sign_in(client, "v1")
    html = client.get("/map").get_data(as_text=True)
    assert '"name": "grids"' in html and '"name": "events"' not in html


def browser_sign_in(page, live_server, name, path):
    page.goto(f"{live_server}/login?next={path}")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}{path}")


def _worker_reports(live_server, make_user, district, title: str) -> dict:
    """A worker of grid 3 reports an event in it through the events API; the created event."""
    worker = make_user("worker", grids=[district["grids"][2].code])
    lon, lat = lonlat(150, 150)
    request = urllib.request.Request(
        f"{live_server}/api/v1/events", method="POST",
        data=json.dumps({"lon": lon, "lat": lat, "category": "11001", "title": title}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {worker}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


@pytest.mark.browser
def test_command_center_draws_layers_and_shows_a_new_event_live(live_server, page, make_user, district):
    make_user("commander", password=PASSWORD, name="c1")
    browser_sign_in(page, live_server, "c1", "/map")
    page.wait_for_function("() => gridgov.state.tilesLoaded.grids > 0 && gridgov.state.tilesLoaded.buildings > 0")
    page.wait_for_function("() => gridgov.state.drawn.events === 4 && gridgov.state.live")
    page.wait_for_function("() => document.querySelector('[data-counter=open_events]').textContent === '4'")
    # A paint of the vector tiles: paths in the tile SVGs.
    assert page.locator(".leaflet-tile path").count() >= 4

    # A worker reports through the events API; the open command center shows it within 2 s.
    created = _worker_reports(live_server, make_user, district, "直播事件")
    assert created["assignment"]["grid"]["code"] == district["grids"][2].code
    new_id = created["id"]
    page.wait_for_function(f"() => gridgov.state.events.has({new_id})", timeout=2000)
    page.wait_for_function("() => document.querySelector('[data-counter=open_events]').textContent === '5'")
    assert page.console_errors == []
    assert page.outside_requests == []


@pytest.mark.browser
def test_command_center_polls_when_the_server_has_no_stream_slot(app, live_server, page, make_user, district):
    # A server whose stream slots are all taken answers 503; the map says so and polls instead.
    app.config.update(MAX_STREAMS=0, STREAM_POLL_S=1)
    make_user("commander", password=PASSWORD, name="c3")
    browser_sign_in(page, live_server, "c3", "/map")
    page.wait_for_function("() => gridgov.state.drawn.events === 4 && gridgov.state.polling === true")
    # In the page's language (Chromium asks for en-US unless told otherwise).
    assert page.locator("#gg-live").text_content() == catalog.t("map.live.busy", page.evaluate("gridgov.lang"), s=1)
    new_id = _worker_reports(live_server, make_user, district, "轮询事件")["id"]
    page.wait_for_function(f"() => gridgov.state.events.has({new_id})", timeout=5000)
    assert page.evaluate("gridgov.state.live") is False
    assert [e for e in page.console_errors if "503" not in e] == []
    assert page.outside_requests == []


@pytest.mark.browser
def test_planner_page_draws_editable_grids(live_server, page, make_user, district):
    make_user("planner", password=PASSWORD, name="p1")
    browser_sign_in(page, live_server, "p1", "/map/planner")
    page.wait_for_function("() => gridgov.map.getZoom() >= 15 && gridgov.state.drawn.grids === 4")
    assert page.locator("#gg-planner tbody tr").count() == 4
    assert page.evaluate("() => typeof gridgov.map.pm.enableGlobalEditMode") == "function"
    page.evaluate("() => gridgov.map.pm.enableGlobalEditMode()")
    assert page.locator(".marker-icon").count() >= 16  # the grids' vertices are draggable
    assert page.console_errors == []
    assert page.outside_requests == []


def test_no_basemap_unless_configured(app, client, make_user):
    make_user("commander", password=PASSWORD, name="c2")
    sign_in(client, "c2")
    assert '"basemap": null' in client.get("/map").get_data(as_text=True)
    app.config["BASEMAP_URL"] = "http://tiles.intranet.example/{z}/{x}/{y}.png"
    html = client.get("/map").get_data(as_text=True)
    assert "tiles.intranet.example/{z}/{x}/{y}.png" in html
