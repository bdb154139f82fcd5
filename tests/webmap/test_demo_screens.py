"""The demo district as a commander and a grid worker see it, in Chinese: our own roads, water and place names
under the grids on /map, the case page and the worker's phone page.

GRIDGOV_SCREENSHOTS=docs/img also writes the pictures docs/pages.md shows (they need a CJK font such as
Debian's fonts-noto-cjk, or the Chinese labels come out as boxes)."""
from __future__ import annotations

import io

import pytest
import requests
from PIL import Image
from sqlalchemy import text

from gis.core.users import create_user
from tests.conftest import start_server, stop_server
from tests.webmap.test_command_center import screenshot
from webmap import catalog

PASSWORD = "correct horse battery"
BASEMAP_DRAWN = "() => gridgov.state.tilesLoaded.roads > 0 && gridgov.state.tilesLoaded.water > 0"


@pytest.fixture
def demo_server(demo_app):
    server, thread = start_server(demo_app)
    yield f"http://127.0.0.1:{server.server_port}"
    stop_server(server, thread)


def sign_in(context, url: str, name: str, path: str):
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{url}/login?next={path}")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}{path}")
    page.errors = errors
    return page


@pytest.mark.browser
@pytest.mark.slow
def test_the_demo_district_shows_roads_and_water_under_the_grids_in_chinese(demo_server, demo_session, browser):
    grid_code, event_id = demo_session.execute(text(
        "SELECT g.code, e.id FROM events e JOIN grids g ON g.id = e.grid_id "
        "WHERE e.status = 'reported' AND g.valid_to IS NULL ORDER BY e.id LIMIT 1")).one()
    _, token = create_user(demo_session, "shift-lead", "commander", password=PASSWORD, display_name="值班长")
    create_user(demo_session, "shift-worker", "worker", grids=[grid_code], password=PASSWORD, display_name="网格员小李")
    demo_session.commit()
    photo = io.BytesIO()
    Image.new("RGB", (800, 600), (90, 140, 200)).save(photo, "JPEG", quality=85)
    attached = requests.post(f"{demo_server}/api/v1/events/{event_id}/attachments",
                             headers={"Authorization": f"Bearer {token}"},
                             files={"file": ("现场.jpg", photo.getvalue(), "image/jpeg")}, timeout=30)
    assert attached.status_code == 201, attached.text

    desk = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="zh-CN")
    page = sign_in(desk, demo_server, "shift-lead", "/map")
    page.wait_for_function(BASEMAP_DRAWN)
    page.wait_for_function("() => gridgov.state.drawn.basemap_labels > 0 && (gridgov.state.tilesLoaded.grids || 0) > 0")
    assert page.evaluate("() => gridgov.missingMessages || []") == []
    # Clusters wear dark slate, a colour no status has (MarkerCluster's own green/yellow/orange would clash).
    page.wait_for_selector(".marker-cluster div")
    assert page.evaluate("() => getComputedStyle(document.querySelector('.marker-cluster div')).backgroundColor"
                         ).startswith(("rgba(38, 50, 56", "rgba(16, 24, 32"))
    page.wait_for_timeout(500)  # the last tiles paint
    screenshot(page, "command-center.png")

    page.goto(f"{demo_server}/cases/{event_id}")
    page.wait_for_function(BASEMAP_DRAWN)
    assert page.locator(".photos img").count() == 1
    assert page.locator("form.move").first.get_attribute("data-move") == "register"  # the likely next move first
    assert page.locator("#case-outbox li").count() == 0
    assert catalog.t("status.reported") in page.inner_text("#case-status")
    page.wait_for_timeout(500)
    screenshot(page, "case-page.png", full_page=True)
    assert page.errors == []
    desk.close()

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                locale="zh-CN")
    page = sign_in(phone, demo_server, "shift-worker", "/map/worker")
    page.wait_for_function(BASEMAP_DRAWN)
    page.wait_for_function("() => gridgov.state.drawn.grids === 1")
    assert page.inner_text("#gg-gps").strip() == catalog.t("worker.gps")
    page.wait_for_timeout(500)
    screenshot(page, "worker-page.png")
    assert page.errors == []
    phone.close()
