"""The grid worker's page on a phone: made for a thumb, in Chinese, locating by GPS and tap, reporting by outbox."""
from __future__ import annotations

import prcoords  # the independent GCJ-02 reference the CRS tests use
import pytest

from tests.factories import four_grids, lonlat
from tests.webmap.test_map_pages import PASSWORD, browser_sign_in
from webmap import catalog

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "locale": "zh-CN"}


@pytest.fixture
def district(session):
    community, grids, buildings, events = four_grids(session)
    session.commit()
    return {"community": community, "grids": grids, "buildings": buildings, "events": events}


def phone(browser, **extra):
    context = browser.new_context(**PHONE, **extra)
    page = context.new_page()
    page.errors, page.outside = [], []
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("request", lambda r: r.url.startswith("http") and "127.0.0.1" not in r.url.split("/")[2]
            and page.outside.append(r.url))
    return context, page


def wait_for_locate(page, code: str) -> None:
    """Wait until the locate result names grid `code`."""
    page.wait_for_function("(code) => document.querySelector('#gg-locate').textContent.includes(code)", arg=code)


def pick_category(page, query: str, code: str) -> None:
    """Open the picker, search, tap the category."""
    page.tap("#gg-category")
    page.fill("#gg-picker input[type=search]", query)
    page.tap(f"#gg-picker .gg-option[data-code='{code}']")


@pytest.mark.browser
def test_the_worker_page_at_phone_width_locates_by_tap_and_reports(live_server, browser, make_user, district):
    mine = [district["grids"][0].code, district["grids"][1].code]
    make_user("worker", password=PASSWORD, name="w2", grids=mine)
    context, page = phone(browser)
    browser_sign_in(page, live_server, "w2", "/map/worker")
    page.wait_for_function("() => gridgov.state.drawn.grids === 2 && gridgov.state.drawn.events === 2")
    assert page.locator("#gg-mine > ul > li").count() == 4  # two grids, their two open events
    assert page.locator("#gg-sheet").bounding_box()["width"] <= 390
    # Tap inside the worker's NE grid: the locate result names it, in Chinese.
    lon, lat = lonlat(300, 300)
    point = page.evaluate(f"() => gridgov.map.latLngToContainerPoint([{lat}, {lon}])")
    page.locator(".folium-map").tap(position={"x": point["x"], "y": point["y"]})
    wait_for_locate(page, mine[1])
    assert catalog.t("assign.inside") in page.inner_text("#gg-locate")
    pick_category(page, "11001", "11001")
    page.fill("#gg-report input[name=title]", "井盖缺失")
    page.tap("#gg-submit")
    page.wait_for_function("() => [...document.querySelectorAll('#gg-mine li')]"
                           ".some(li => li.textContent.includes('井盖缺失'))")
    assert page.locator("#gg-outbox li").count() == 0  # delivered, nothing left waiting
    # The category picked is offered first next time.
    page.tap("#gg-category")
    assert page.locator("#gg-picker h3").first.inner_text() == catalog.t("worker.category_recent")
    assert page.locator("#gg-picker .gg-option").first.get_attribute("data-code") == "11001"
    assert page.errors == [] and page.outside == []
    context.close()


@pytest.mark.browser
def test_every_control_of_the_worker_page_is_at_least_44_px_and_needs_no_emoji_font(live_server, browser, make_user,
                                                                                    district):
    make_user("worker", password=PASSWORD, name="w3", grids=[district["grids"][0].code])
    context, page = phone(browser)
    browser_sign_in(page, live_server, "w3", "/map/worker")
    page.wait_for_function("() => gridgov.state.drawn.grids === 1 && gridgov.state.drawn.events >= 1")
    small = page.evaluate("""() => [...document.querySelectorAll(
        '#gg-sheet button, #gg-sheet a, #gg-sheet summary, #gg-sheet label.gg-secondary, .leaflet-control-zoom a')]
      .filter((n) => n.offsetParent !== null)
      .map((n) => [n.textContent.trim() || n.className, n.getBoundingClientRect()])
      .filter(([, r]) => r.height < 44 || r.width < 44)
      .map(([name, r]) => `${name}: ${Math.round(r.width)}×${Math.round(r.height)}`)""")
    assert small == []
    # No emoji anywhere on the page: icons are SVG.
    emoji = page.evaluate("() => [...document.body.innerText].filter((c) => /\\p{Extended_Pictographic}/u.test(c))")
    assert emoji == []
    # Chinese throughout: every catalog text the page shows exists, no key leaked.
    assert page.evaluate("() => gridgov.missingMessages || []") == []
    assert page.locator("#gg-gps").inner_text().strip() == catalog.t("worker.gps")
    context.close()


@pytest.mark.browser
def test_gps_accuracy_is_shown_in_metres_and_a_poor_fix_is_warned(live_server, browser, make_user, district):
    make_user("worker", password=PASSWORD, name="w4", grids=[district["grids"][0].code])
    lon, lat = lonlat(100, 300)
    context, page = phone(browser, geolocation={"latitude": lat, "longitude": lon, "accuracy": 12},
                          permissions=["geolocation"])
    browser_sign_in(page, live_server, "w4", "/map/worker")
    page.wait_for_function("() => gridgov.state.drawn.grids === 1")
    page.tap("#gg-gps")
    wait_for_locate(page, district["grids"][0].code)
    assert page.inner_text("#gg-accuracy") == catalog.t("worker.accuracy", n=12)
    context.set_geolocation({"latitude": lat, "longitude": lon, "accuracy": 180})
    page.tap("#gg-gps")
    page.wait_for_function("() => document.querySelector('#gg-accuracy').classList.contains('gg-warning')")
    assert page.inner_text("#gg-accuracy") == catalog.t("worker.accuracy_poor", n=180)
    # GPS is WGS84: no coordinate choice beside it; only the typed-coordinates box has one.
    assert page.locator("#gg-report > select[name=crs]").count() == 0
    assert page.locator("#gg-report details.gg-typed select[name=crs]").count() == 1
    context.close()


@pytest.mark.browser
def test_typed_gcj02_coordinates_are_converted_before_locating(live_server, browser, make_user, district):
    make_user("worker", password=PASSWORD, name="w5", grids=[district["grids"][1].code])
    context, page = phone(browser)
    browser_sign_in(page, live_server, "w5", "/map/worker")
    page.wait_for_function("() => gridgov.state.drawn.grids === 1")
    lon, lat = lonlat(300, 300)
    glat, glon = prcoords.wgs_gcj((lat, lon))  # what 高德 shows for this WGS84 point
    page.locator("details.gg-typed summary").tap()
    page.fill("details.gg-typed input[name=coords]", f"{glon:.7f}, {glat:.7f}")
    page.select_option("details.gg-typed select[name=crs]", "gcj02")
    page.locator("details.gg-typed button").tap()
    wait_for_locate(page, district["grids"][1].code)
    context.close()


def sample_points(seed: int = 18) -> list[tuple[float, float, float]]:
    """Points (x m, y m, accuracy m) over the four grids: inside, on shared edges and corners, just
    outside (within and beyond snapping), some with an accuracy circle crossing a boundary."""
    import random

    rng = random.Random(seed)
    points = [(200, 100, 0), (200, 300, 0), (100, 200, 0), (200, 200, 0), (0, 100, 0), (400, 400, 0)]
    points += [(rng.uniform(-60, 460), rng.uniform(-60, 460), rng.choice((0, 0, 5, 25))) for _ in range(60)]
    points += [(rng.uniform(-40, 0), rng.uniform(0, 400), 0) for _ in range(10)]  # west of the community
    return points


@pytest.mark.browser
def test_locating_offline_follows_the_servers_rule(live_server, browser, make_user, district, client):
    token = make_user("worker", password=PASSWORD, name="w6", grids=[g.code for g in district["grids"]])
    context, page = phone(browser)
    browser_sign_in(page, live_server, "w6", "/map/worker")
    page.wait_for_function("() => gridgov.state.drawn.grids === 4")
    cases = []
    for x, y, accuracy in sample_points():
        lon, lat = lonlat(x, y)
        params = {"lon": repr(lon), "lat": repr(lat)}  # every digit: a point on a shared edge stays on it
        if accuracy:
            params["accuracy_m"] = accuracy
        server = client.get("/api/v1/locate", query_string=params, headers={"Authorization": f"Bearer {token}"}).json
        cases.append({"lon": float(params["lon"]), "lat": float(params["lat"]), "accuracy": accuracy,
                      "status": server["status"], "grid": (server["grid"] or {}).get("code"),
                      "building": (server["building"] or {}).get("code")})
    offline = page.evaluate("""async (cases) => {
      const { placeOffline } = await import('/static/js/worker/place.js');
      const grids = await (await fetch('/layers/grids.geojson?mine=true')).json();
      const buildings = await (await fetch('/layers/buildings.geojson?mine=true')).json();
      return cases.map((c) => {
        const rules = { snapM: 30, buildingNearM: 15 };
        const p = placeOffline(grids.features, buildings.features, c.lon, c.lat, c.accuracy, rules);
        return { status: p.status, grid: p.grid && p.grid.code, building: p.building && p.building.code };
      });
    }""", cases)
    differ = [(c, o) for c, o in zip(cases, offline, strict=True)
              if (c["status"], c["grid"], c["building"]) != (o["status"], o["grid"], o["building"])]
    assert {c["status"] for c in cases} >= {"inside", "edge", "snapped", "outside", "ambiguous"}
    assert differ == []
    context.close()


@pytest.mark.browser
def test_a_report_the_server_refuses_stays_on_the_phone_with_the_reason_for_editing(live_server, browser, make_user,
                                                                                   district):
    mine = district["grids"][0].code
    make_user("worker", password=PASSWORD, name="w7", grids=[mine])
    context, page = phone(browser)
    browser_sign_in(page, live_server, "w7", "/map/worker")
    page.wait_for_function("() => gridgov.state.drawn.grids === 1")
    # A point in a neighbour's grid: a worker reports only in their own, and the server says so.
    lon, lat = lonlat(300, 100)
    page.evaluate("([lat, lon]) => gridgov.map.fire('click', { latlng: L.latLng(lat, lon) })", [lat, lon])
    page.wait_for_function("() => document.querySelector('#gg-locate table') !== null")
    pick_category(page, "11001", "11001")
    page.fill("#gg-report input[name=title]", "不在我的网格")
    page.tap("#gg-submit")
    page.wait_for_selector("#gg-outbox li[data-state=refused]")
    item = page.inner_text("#gg-outbox li")
    assert "不在我的网格" in item and catalog.t("worker.outbox.refused") in item
    assert page.locator("#gg-outbox li .gg-warning").inner_text().strip()  # the server's reason, in words
    # Edit: it goes back into the form, nothing lost, and leaves the outbox.
    page.locator("#gg-outbox li button", has_text=catalog.t("worker.outbox.edit")).tap()
    page.wait_for_function("() => document.querySelectorAll('#gg-outbox li').length === 0")
    assert page.input_value("#gg-report input[name=title]") == "不在我的网格"
    assert page.input_value("#gg-report input[name=category]") == "11001"
    assert page.errors == [e for e in page.errors if "403" in e]  # the refusal itself is the only complaint
    context.close()
