"""In Chromium: the command center, the planner and the to-do list show catalog texts, never a raw key,
and no script asked the catalog for a key it lacks (gridgov.missingMessages stays empty)."""
from __future__ import annotations

import pytest

from tests.factories import four_grids
from tests.webmap.test_map_pages import PASSWORD, browser_sign_in
from webmap import catalog

# Read in the page: every text node of the body, the popup of the first event, the legend.
SEEN = """() => {
  document.querySelectorAll("details").forEach((d) => (d.open = true));
  const marker = gridgov.state.events.values().next().value;
  const content = marker ? marker.getPopup().getContent()(marker) : "";
  const popup = content instanceof Node ? content.innerHTML : content;
  return { text: document.body.innerText, popup, missing: gridgov.missingMessages || [] };
}"""


def _raw_keys(text: str) -> list[str]:
    return sorted(key for key in catalog.entries() if key in text)


@pytest.fixture
def district(session):
    community, grids, buildings, events = four_grids(session)
    session.commit()
    return grids


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_command_center_speaks_the_catalog_and_shows_no_raw_key(live_server, page, make_user, district, lang):
    make_user("commander", password=PASSWORD, name=f"msg-{lang}")
    page.set_extra_http_headers({"Accept-Language": lang})
    browser_sign_in(page, live_server, f"msg-{lang}", "/map")
    page.wait_for_function("() => gridgov.state.drawn.events === 4")
    seen = page.evaluate(SEEN)
    assert seen["missing"] == [] and _raw_keys(seen["text"]) == [] and _raw_keys(seen["popup"]) == []
    # The status legend and the popups name statuses and fields by the catalog, not by their codes.
    assert catalog.t("status.in_progress", lang) in seen["text"] and "in_progress" not in seen["text"]
    assert catalog.t("map.counter.open_events", lang) in seen["text"]
    assert f"<th>{catalog.t('field.status', lang)}</th>" in seen["popup"]
    assert f"<td>{catalog.t('status.reported', lang)}</td>" in seen["popup"]  # the district's events are new
    assert ">status<" not in seen["popup"] and page.console_errors == []


@pytest.mark.browser
def test_the_planner_and_the_to_do_list_show_no_raw_key(live_server, page, make_user, district):
    make_user("admin", password=PASSWORD, name="msg-admin")
    page.set_extra_http_headers({"Accept-Language": "zh-CN,zh;q=0.9"})
    browser_sign_in(page, live_server, "msg-admin", "/map/planner")
    page.wait_for_selector("#gg-planner")
    seen = page.evaluate("() => ({ text: document.body.innerText, missing: gridgov.missingMessages || [] })")
    assert seen["missing"] == [] and _raw_keys(seen["text"]) == []
    assert catalog.t("planner.split") in seen["text"]
    page.goto(f"{live_server}/cases")
    text = page.locator("body").inner_text()
    assert catalog.t("todo.title") in text and _raw_keys(text) == []
    assert page.console_errors == []
