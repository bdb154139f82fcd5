"""The residents' report page in Chromium at phone width: no account, GPS, a photo, a tracking number to follow."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.factories import four_grids, lonlat
from tests.webmap.test_worker_offline import jpeg
from webmap import catalog


@pytest.mark.browser
def test_a_resident_reports_with_a_photo_and_follows_the_case(live_server, browser, session, tmp_path):
    four_grids(session)
    session.commit()
    lon, lat = lonlat(120, 320)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                  locale="zh-CN", geolocation={"latitude": lat, "longitude": lon, "accuracy": 10},
                                  permissions=["geolocation"])
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live_server}/report")
    assert page.title() == catalog.t("resident.title")
    page.tap("#gg-resident-gps")
    page.wait_for_function("(text) => document.querySelector('#gg-place').textContent === text",
                           arg=catalog.t("resident.placed", n=10))
    page.select_option("#gg-service", "11002")
    page.fill("#gg-resident-form textarea[name=description]", "小区东门路灯不亮")
    page.fill("#gg-resident-form input[name=phone]", "13900001111")
    page.set_input_files("#gg-resident-form input[name=media]", jpeg(tmp_path, "lamp.jpg", (240, 220, 40)))
    page.tap("#gg-resident-submit")
    page.wait_for_function("() => /\\d+/.test(document.querySelector('#gg-answer').textContent)"
                           " && document.querySelectorAll('#gg-mine-reports li').length === 1")
    event_id, photos = session.execute(text(
        "SELECT e.id, (SELECT count(*) FROM attachments a WHERE a.event_id = e.id) FROM events e "
        "WHERE e.description = '小区东门路灯不亮'")).one()
    assert photos == 1
    assert page.inner_text("#gg-answer") == catalog.t("resident.thanks", id=event_id)
    page.tap("#gg-mine-reports li a")
    page.wait_for_url(f"{live_server}/report/{event_id}")
    assert page.inner_text("#gg-track-status") == catalog.t("resident.state.open")
    assert "13900001111" not in page.content()
    assert errors == []
    context.close()
