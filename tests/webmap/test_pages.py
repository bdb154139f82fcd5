"""Map pages load every asset from our own /static, in a real browser with nothing leaving 127.0.0.1."""
from __future__ import annotations

import re

import pytest

ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


def _sign_in(client, make_user):
    make_user("commander", name="cc", password="page-test-password")
    assert client.post("/login", data={"name": "cc", "password": "page-test-password"}).status_code == 302


def test_map_page_assets_are_all_local_and_served(client, make_user):
    _sign_in(client, make_user)  # the map pages need sign-in (see api/pages.py)
    html = client.get("/map").get_data(as_text=True)
    assets = [a for a in ASSET.findall(html) if a.endswith((".js", ".css"))]
    assert any("leaflet.js" in a for a in assets)
    for asset in assets:
        assert asset.startswith("/static/"), asset
        assert client.get(asset).status_code == 200, asset


def test_vendor_route_serves_only_declared_packages(client):
    assert client.get("/static/vendor/leaflet/dist/leaflet.css").status_code == 200
    assert client.get("/static/vendor/lodash/lodash.js").status_code == 404
    assert client.get("/static/vendor/leaflet/../../package.json").status_code == 404


def test_login_page_renders(client):
    response = client.get("/login")
    assert response.status_code == 200 and "password" in response.get_data(as_text=True)


@pytest.mark.browser
def test_map_page_in_chromium_has_no_errors_and_no_outside_requests(live_server, page, make_user):
    make_user("commander", name="cc", password="page-test-password")
    page.goto(f"{live_server}/login?next=/map")
    page.fill("input[name=name]", "cc")
    page.fill("input[name=password]", "page-test-password")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/map")
    page.wait_for_selector(".leaflet-container")
    assert page.evaluate("typeof L") == "object"
    assert page.console_errors == []
    assert page.outside_requests == []
