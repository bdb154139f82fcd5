"""The basemap on the map pages, in Chromium: our own roads, water and names under every other layer,
the outside XYZ basemap only as the alternative, and a metric scale bar on every map."""
from __future__ import annotations

import pytest

from tests.factories import basemap_rows, four_grids, grid, hierarchy, rect, reported_event
from tests.webmap.test_case_page import PASSWORD as CASE_PASSWORD
from tests.webmap.test_case_page import signed_in
from tests.webmap.test_map_pages import PASSWORD, browser_sign_in

PANES = """() => {
  const z = (name) => Number(getComputedStyle(gridgov.map.getPane(name)).zIndex);
  return { basemap: z('gg-basemap'), labels: z('gg-basemap-labels'), overlay: z('overlayPane'),
           tile: z('tilePane') };
}"""
SCALE = "() => [...document.querySelectorAll('.leaflet-control-scale-line')].map((e) => e.textContent)"


@pytest.fixture
def district(session):
    community, grids, buildings, events = four_grids(session)
    basemap_rows(session)
    session.commit()
    return {"community": community, "grids": grids}


def assert_metric(scale_lines: list[str]) -> None:
    assert len(scale_lines) == 1, scale_lines  # one bar, no second (imperial) line
    assert scale_lines[0].endswith((" m", " km")) and "ft" not in scale_lines[0] and "mi" not in scale_lines[0]


@pytest.mark.browser
@pytest.mark.parametrize("path", ["/map", "/map/worker", "/map/planner"])
def test_the_basemap_is_drawn_under_the_grids_with_a_metric_scale(live_server, page, make_user, district, path):
    make_user("planner", password=PASSWORD, name="p9")
    browser_sign_in(page, live_server, "p9", path)
    page.wait_for_function("() => gridgov.state.tilesLoaded.roads > 0 && gridgov.state.tilesLoaded.water > 0")
    page.wait_for_function("() => gridgov.state.drawn.basemap_labels > 0")
    z = page.evaluate(PANES)
    assert z["tile"] < z["basemap"] < z["labels"] < z["overlay"], z
    # The roads and the lake are painted in the basemap's pane, the place name in its label pane.
    assert page.locator(".gg-basemap .leaflet-tile path, .leaflet-gg-basemap-pane .leaflet-tile path").count() >= 2
    assert page.locator(".leaflet-gg-basemap-labels-pane .gg-label").first.inner_text() == "和坊社区"
    assert_metric(page.evaluate(SCALE))
    assert page.console_errors == [] and page.outside_requests == []


@pytest.mark.browser
def test_an_outside_basemap_is_only_the_alternative(app, live_server, page, make_user, district):
    app.config["BASEMAP_URL"] = "http://tiles.intranet.example/{z}/{x}/{y}.png"
    make_user("commander", password=PASSWORD, name="c9")
    browser_sign_in(page, live_server, "c9", "/map")
    page.wait_for_function("() => gridgov.state.tilesLoaded.roads > 0")
    bases = page.locator(".leaflet-control-layers-base input[type=radio]")
    assert bases.count() == 2 and bases.nth(0).is_checked() and not bases.nth(1).is_checked()
    assert page.outside_requests == []  # the outside tiles are fetched only once someone picks them


@pytest.mark.browser
def test_the_case_page_map_has_the_basemap_and_a_metric_scale(browser, live_server, session, make_user):
    _, _, community = hierarchy(session, rect(0, 0, 400, 400))
    g = grid(session, community, 1, rect(0, 0, 400, 400))
    basemap_rows(session)
    case = reported_event(session, grid=g, x=100, y=100)
    session.commit()
    make_user("commander", password=CASE_PASSWORD, name="c8")
    with signed_in(browser, live_server, "c8") as page:
        page.goto(f"{live_server}/cases/{case.id}")
        page.wait_for_function("() => gridgov.state.tilesLoaded.roads > 0")
        assert page.locator(".leaflet-gg-basemap-pane .leaflet-tile path").count() >= 1
        assert_metric(page.evaluate(SCALE))
