"""In Chromium under the strict CSP: every page draws with no policy violation, and hostile text stays text."""
from __future__ import annotations

import pytest

from tests.factories import four_grids, point_event

PASSWORD = "correct-horse-9"
# Each breaks out of a different context: HTML, a <script> block, a JS template literal, an attribute.
HOSTILE = ("</script><script>window.__xss=1</script> ${window.__xss=2} ` "
           "<img src=x onerror=\"window.__xss=3\"> \\u0060")
WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline')));
"""


@pytest.fixture
def hostile_case(session):
    community, grids, _, _ = four_grids(session)
    event = point_event(session, 120, 120, grid=grids[2], title=HOSTILE)
    session.commit()
    return event.id


def sign_in(page, live_server, name: str) -> None:
    page.goto(f"{live_server}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


@pytest.mark.browser
def test_every_map_page_draws_under_the_policy_without_a_violation(live_server, page, make_user, hostile_case):
    make_user("admin", name="boss", password=PASSWORD)
    page.add_init_script(WATCH)
    sign_in(page, live_server, "boss")
    for path in ("/map", "/map/worker", "/map/planner", f"/cases/{hostile_case}", "/cases"):
        response = page.goto(f"{live_server}{path}")
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
        if path != "/cases":
            page.wait_for_selector(".leaflet-container .leaflet-pane", state="attached")
        assert page.evaluate("window.__csp") == [], path
        assert page.evaluate("window.__xss") is None, path
    assert page.console_errors == [] and page.outside_requests == []


@pytest.mark.browser
def test_a_hostile_event_title_shows_as_text_on_the_case_page(live_server, page, make_user, hostile_case):
    make_user("commander", name="c1", password=PASSWORD)
    sign_in(page, live_server, "c1")
    page.goto(f"{live_server}/cases/{hostile_case}")
    page.wait_for_selector(".leaflet-interactive")
    page.locator(".leaflet-interactive").first.hover()
    tooltip = page.wait_for_selector(".leaflet-tooltip")
    assert "</script><script>window.__xss=1</script>" in tooltip.inner_text()
    assert "${window.__xss=2}" in tooltip.inner_text()
    assert page.evaluate("window.__xss") is None
    assert page.locator("img[src=x]").count() == 0
