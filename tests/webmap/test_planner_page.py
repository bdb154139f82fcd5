"""The planner's page in Chromium: drag a shared vertex, see the preview, save, find both neighbours moved."""
from __future__ import annotations

import datetime as dt

import pytest
import shapely
from sqlalchemy import text

from gis.spatial.topology import Frame, Rules, validate_partition
from tests.factories import bent_pair, grid_building, lonlat, rect
from tests.webmap.test_map_pages import PASSWORD, browser_sign_in
from webmap import catalog


def _drag(page, frm, to):
    """Press on the map at lon/lat `frm`, move in steps to `to`, release (a real mouse drag)."""
    box = page.locator(".folium-map").bounding_box()
    a = page.evaluate(f"() => gridgov.map.latLngToContainerPoint([{frm[1]}, {frm[0]}])")
    b = page.evaluate(f"() => gridgov.map.latLngToContainerPoint([{to[1]}, {to[0]}])")
    page.mouse.move(box["x"] + a["x"], box["y"] + a["y"])
    page.mouse.down()
    page.mouse.move(box["x"] + b["x"], box["y"] + b["y"], steps=12)
    page.mouse.up()


@pytest.mark.browser
def test_drag_a_shared_vertex_preview_and_save(live_server, page, make_user, session):
    g = bent_pair(session)
    west, east = g["west"].code, g["east"].code
    # A building just east of the shared edge: moving the edge 25 m east hands it to the west grid.
    grid_building(session, g["east"], rect(104, 40, 112, 60), households=30, population=80)
    session.commit()
    make_user("planner", password=PASSWORD, name="p7")
    browser_sign_in(page, live_server, "p7", "/map/planner")
    page.wait_for_function("() => gridgov.state.drawn.grids === 2 && gridgov.state.planner.handles === 7")
    assert page.locator(".gg-vertex.gg-shared").count() == 3  # (100, 0), (100, 50), (100, 100)

    _drag(page, lonlat(100, 50), lonlat(125, 50))
    # Both neighbours follow the one handle on the page, before anything is saved.
    page.wait_for_function("() => gridgov.state.planner.preview !== null")
    preview = page.evaluate("() => gridgov.state.planner.preview")
    assert sorted(c["code"] for c in preview["closed"]) == [west, east]
    assert sorted((o["code"], o["version"]) for o in preview["opened"]) == [(west, 2), (east, 2)]
    (moved,) = preview["impact"]["buildings"]["moves"]
    assert (moved["from"], moved["to"], moved["households"]) == (east, west, 30)
    assert "no gap, no overlap" in page.locator("#gg-preview").inner_text()
    assert session.scalar(text("SELECT count(*) FROM grids")) == 2  # a preview writes nothing
    # The before/after table: one row per grid, the 30 households counted out of the east grid into the west.
    lang = "en" if page.evaluate("() => document.documentElement.lang").startswith("en") else "zh"
    table = page.locator("#gg-before-after")
    assert catalog.t("planner.table.caption", lang) in table.inner_text()
    for figure in ("area_m2", "buildings", "households", "open_events"):
        assert catalog.t(f"planner.table.{figure}", lang) in table.inner_text()
    assert page.evaluate("() => gridgov.missingMessages || []") == []  # every text the preview drew is in the catalog
    rows = {r["code"]: r for r in preview["impact"]["before_after"]}
    assert rows[east]["before"]["households"] - rows[east]["after"]["households"] == 30
    for code in (west, east):
        for side in ("before", "after"):
            for figure in ("buildings", "households", "open_events"):
                cell = table.locator(f'tr[data-code="{code}"] td[data-figure="{figure}.{side}"]')
                assert cell.inner_text() == str(rows[code][side][figure])  # small counts: no digit grouping
    assert page.locator("#gg-warnings-new").inner_text() == catalog.t("planner.warnings_none_new", lang)
    # The grids' old warnings (households under the default bounds) are counted apart, listed when opened.
    already = preview["warnings_already_count"]
    assert already == len(preview["warnings_already"]) > 0
    assert page.locator("#gg-warnings-already summary").inner_text() == catalog.t("planner.warnings_already", lang,
                                                                                   n=already)
    page.click("#gg-warnings-already summary")
    assert page.locator("#gg-warnings-already li").all_inner_texts() == [w["text"] for w in preview["warnings_already"]]

    # Saving waits for a note saying why.
    assert page.locator("#gg-save").is_disabled()
    why = "东侧新楼栋划入西网格"
    page.fill("#gg-note", why)
    page.click("#gg-save")
    page.wait_for_function("() => gridgov.state.planner.saved !== null")
    saved = page.evaluate("() => gridgov.state.planner.saved")
    assert saved["edit"]["note"] == why
    assert session.scalar(text("SELECT note FROM grid_edits WHERE id = :i"), {"i": saved["edit"]["id"]}) == why
    session.expire_all()
    rows = dict(session.execute(text("SELECT code, version FROM grids WHERE valid_to IS NULL")).all())
    assert rows == {west: 2, east: 2}
    # The dragged vertex is where it was dropped (to a pixel) in both grids, and nothing is left uncovered.
    assert saved["edit"]["id"] and page.evaluate("() => gridgov.moves.size") == 0  # pending edit cleared
    vertices = {}
    for code, wkt in session.execute(text("SELECT code, ST_AsText(geom) FROM grids WHERE valid_to IS NULL")):
        vertices[code] = {tuple(c) for c in shapely.get_coordinates(shapely.from_wkt(wkt))}
    common = vertices[west] & vertices[east]
    moved_vertex = [c for c in common if c not in {lonlat(100, 0), lonlat(100, 100)}]
    assert len(moved_vertex) == 1
    assert Frame(*lonlat(100, 50)).length_m(shapely.LineString([moved_vertex[0], lonlat(125, 50)])) < 1.0
    report = validate_partition(session, g["community"].code, Rules(area_m2=None, households=None))
    assert report.valid, [p.detail for p in report.errors]
    total = session.scalar(text("SELECT sum(area_m2) FROM grids WHERE valid_to IS NULL"))
    assert total == pytest.approx(session.scalar(text("SELECT area_m2 FROM admin_areas WHERE level = 'community'")),
                                  rel=1e-9)
    page.wait_for_function("() => [...document.querySelectorAll('#gg-planner tbody tr')]"
                           ".every(r => r.lastChild.textContent === '2')")

    # Dragging a corner of the community outwards: the preview lists the problems, saving stays off.
    _drag(page, lonlat(0, 100), lonlat(-20, 115))
    page.wait_for_function("() => document.querySelector('#gg-preview .gg-bad') !== null")
    rules = page.evaluate("() => [...document.querySelectorAll('#gg-preview li')].map(li => li.dataset.rule)")
    assert "outside_community" in rules
    assert page.locator("#gg-save").is_disabled()
    page.click("#gg-discard")

    # The grids as they were yesterday: version 1 of both.
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    page.fill("#gg-asof", yesterday)
    page.wait_for_function("() => [...document.querySelectorAll('#gg-planner tbody tr')]"
                           ".every(r => r.lastChild.textContent === '1')")
    assert page.evaluate("() => gridgov.state.planner.handles") == 0  # the past is not editable
    assert page.console_errors == []
    assert page.outside_requests == []


def _click(page, lonlat_xy):
    box = page.locator(".folium-map").bounding_box()
    p = page.evaluate(f"() => gridgov.map.latLngToContainerPoint([{lonlat_xy[1]}, {lonlat_xy[0]}])")
    page.mouse.click(box["x"] + p["x"], box["y"] + p["y"])


def _save_after_preview(page):
    page.wait_for_function("() => gridgov.state.planner.preview !== null")
    page.evaluate("() => { gridgov.state.planner.saved = null; }")
    page.fill("#gg-note", "测试：拆分与合并")
    page.click("#gg-save")
    page.wait_for_function("() => gridgov.state.planner.saved !== null")
    return page.evaluate("() => gridgov.state.planner.saved")


@pytest.mark.browser
def test_split_then_merge_in_the_browser(live_server, page, make_user, session):
    g = bent_pair(session)
    west = g["west"].code
    session.commit()
    make_user("planner", password=PASSWORD, name="p8")
    browser_sign_in(page, live_server, "p8", "/map/planner")
    page.wait_for_function("() => gridgov.state.drawn.grids === 2")
    page.evaluate("() => gridgov.map.setZoom(gridgov.map.getZoom() - 1)")
    page.wait_for_function("() => gridgov.state.drawn.grids === 2 && !gridgov.map._animatingZoom")

    # Select the west grid, then draw a line across it: two new grids, numbered north to south.
    _click(page, lonlat(30, 20))
    page.wait_for_function(f"() => document.querySelector('#gg-selected').textContent === '{west}'")
    page.click("#gg-tool-split")
    for point in (lonlat(-15, 60), lonlat(115, 60), lonlat(115, 60)):  # the last click on the last vertex ends it
        _click(page, point)
    saved = _save_after_preview(page)
    north, south = "310101001001003", "310101001001004"
    assert sorted(o["code"] for o in saved["opened"]) == [north, south] and saved["retired"] == [west]

    # Select both halves and merge them back: one new grid (005) with the west grid's old outline.
    page.wait_for_function("() => gridgov.state.drawn.grids === 3")
    _click(page, lonlat(30, 80))
    _click(page, lonlat(30, 20))
    page.wait_for_function(f"() => document.querySelector('#gg-selected').textContent === '{north}, {south}'")
    page.click("#gg-tool-merge")
    saved = _save_after_preview(page)
    assert [o["code"] for o in saved["opened"]] == ["310101001001005"]
    session.expire_all()
    merged = session.scalar(text("SELECT ST_AsText(geom) FROM grids WHERE code = '310101001001005'"))
    original = session.scalar(text("SELECT ST_AsText(geom) FROM grids WHERE code = :c"), {"c": west})
    assert shapely.equals(shapely.from_wkt(merged), shapely.from_wkt(original))
    assert validate_partition(session, g["community"].code, Rules(area_m2=None, households=None)).valid
    assert page.console_errors == []
    assert page.outside_requests == []
