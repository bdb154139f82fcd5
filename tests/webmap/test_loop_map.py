"""The loop on the command center: counters from the workflow, overdue cases standing out on /map."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from gis.cases import workflow
from tests.conftest import auth
from tests.factories import grid, hierarchy, person, rect, reported_event
from tests.webmap.test_map_pages import PASSWORD, browser_sign_in
from webmap import catalog

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def loop(session, make_user):
    """Grid A: a case 20 days old, dispatched and overdue; a report merged into it. Grid B: a case
    closed on time yesterday and a fresh registered one."""
    _, _, community = hierarchy(session, rect(0, 0, 400, 200))
    a = grid(session, community, 1, rect(0, 0, 200, 200))
    b = grid(session, community, 2, rect(200, 0, 400, 200))
    boss, _ = person(session, "commander", "boss")
    checker, _ = person(session, "commander", "checker")
    wa, _ = person(session, "worker", "wa", grids=[a.code])
    wb, _ = person(session, "worker", "wb", grids=[b.code])
    late = reported_event(session, grid=a, x=50, title="积存垃圾", reported_at=NOW - dt.timedelta(days=20))
    copy = reported_event(session, grid=a, x=52, title="又是垃圾", reported_at=NOW - dt.timedelta(days=19))
    done = reported_event(session, grid=b, x=250, title="路灯不亮", reported_at=NOW - dt.timedelta(days=3))
    fresh = reported_event(session, grid=b, x=300, title="新上报", reported_at=NOW - dt.timedelta(minutes=10))
    session.commit()
    step = dt.timedelta(minutes=10)
    moves = [(late, boss, "register", {}), (late, boss, "dispatch", {"handler": "wa"}),
             (copy, boss, "merge", {"target": late.id}),
             (done, boss, "register", {}), (done, boss, "dispatch", {"handler": "wb"}),
             (done, wb, "handle", {"note": "已修复"}), (done, checker, "verify", {}),
             (fresh, boss, "register", {})]
    for i, (e, user, move, kwargs) in enumerate(moves):
        at = min(e.reported_at + step * (i + 1), NOW - dt.timedelta(minutes=1))
        workflow.apply_move(session, e.id, user, move, at=at, **kwargs)
    session.commit()
    workflow.tick(session)
    session.commit()
    return SimpleNamespace(a=a, b=b, late=late, copy=copy, done=done, fresh=fresh,
                           commander=make_user("commander", name="c1", password=PASSWORD),
                           worker_a=make_user("worker", name="w1", grids=[a.code], password=PASSWORD),
                           worker_b=make_user("worker", name="w2", grids=[b.code]))


def test_counters_carry_the_loops_figures(client, loop):
    body = client.get("/api/v1/counters", headers=auth(loop.commander)).json
    # Open: late and fresh (the merged copy is part of late; done is closed). Overdue: late.
    # Due: late (deadline passed) and done (closed); fresh is not due. Closed on time: done → ½.
    assert (body["open_events"], body["overdue_events"]) == (2, 1)
    assert (body["closure_rate"], body["on_time_closure_rate"]) == (0.5, 0.5)
    # A worker's counters are their grids': grid A has the overdue case and nothing closed.
    mine = client.get("/api/v1/counters", headers=auth(loop.worker_a)).json
    assert (mine["overdue_events"], mine["closure_rate"]) == (1, 0.0)
    theirs = client.get("/api/v1/counters", headers=auth(loop.worker_b)).json
    assert (theirs["overdue_events"], theirs["closure_rate"]) == (0, 1.0)


def test_events_layer_marks_overdue_cases_and_filters_them(client, loop):
    everything = client.get("/layers/events.geojson?zoom=18", headers=auth(loop.commander)).json["features"]
    flags = {f["id"]: f["properties"]["overdue"] for f in everything}
    assert flags == {loop.late.id: True, loop.copy.id: False, loop.done.id: False, loop.fresh.id: False}
    opened = {f["id"] for f in everything if f["properties"]["open"]}
    assert opened == {loop.late.id, loop.fresh.id}
    only = client.get("/layers/events.geojson?zoom=18&overdue=true", headers=auth(loop.commander)).json["features"]
    assert [f["id"] for f in only] == [loop.late.id]
    assert only[0]["properties"]["level"] == "grid" and only[0]["properties"]["deadline_at"]


@pytest.mark.browser
def test_overdue_cases_light_up_on_the_map_and_lead_to_their_case(live_server, page, loop):
    browser_sign_in(page, live_server, "c1", "/map")
    page.wait_for_function("() => gridgov.state.drawn.events === 2")  # the open ones
    page.wait_for_function("() => document.querySelector('[data-counter=overdue_events]').textContent === '1'")
    assert page.locator("[data-counter=closure_rate]").inner_text() == "50.0%"
    styles = page.evaluate("""() => Object.fromEntries([...gridgov.state.events].map(
        ([id, m]) => [id, {color: m.options.color, weight: m.options.weight}]))""")
    assert styles[str(loop.late.id)] == {"color": "#d50000", "weight": 4}
    assert styles[str(loop.fresh.id)]["color"] != "#d50000"
    # Only the overdue ones, then the popup leads to the case page with its timeline.
    page.check("#gg-overdue-only")
    page.wait_for_function("() => gridgov.state.drawn.events === 1")
    page.evaluate(f"() => gridgov.state.events.get({loop.late.id}).openPopup()")
    with page.expect_navigation():
        page.click(".gg-case-link")
    assert page.url == f"{live_server}/cases/{loop.late.id}"
    assert page.locator(".badge.overdue").count() == 1
    moves = page.locator("#timeline li").evaluate_all("items => items.map(i => i.dataset.move)")
    assert moves == ["overdue", "merge", "dispatch", "register", "report"]
    assert page.console_errors == [] and page.outside_requests == []


@pytest.mark.browser
def test_the_worker_page_lists_cases_with_links(live_server, page, session, loop):
    from gis.core.users import set_password

    set_password(session, "wa", PASSWORD)  # the handler of the overdue case
    session.commit()
    browser_sign_in(page, live_server, "wa", "/map/worker")
    page.wait_for_function("() => [...document.querySelectorAll('#gg-mine a.gg-case-link')].length === 1")
    # The browser asks for English (Playwright's default locale): the page answers in it.
    line = page.locator("#gg-mine li", has=page.locator("a.gg-case-link")).inner_text()
    assert catalog.t("status.overdue", "en") in line
    with page.expect_navigation():
        page.click("#gg-my-cases")
    assert page.locator(f"#to_handle li[data-id='{loop.late.id}']").count() == 1
    assert page.console_errors == [] and page.outside_requests == []
