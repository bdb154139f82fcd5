"""The whole loop in Chromium: commander registers and dispatches, the worker handles on a phone, another verifies."""
from __future__ import annotations

import contextlib

import pytest
from PIL import Image
from sqlalchemy import text

from gis.core.models import Event
from tests.factories import grid, hierarchy, rect, reported_event

PASSWORD = "correct horse battery"
PHONE = {"width": 390, "height": 844}


@contextlib.contextmanager
def signed_in(browser, live_server, name, *, viewport=None, expect_status=None):
    """A browser context signed in as `name`, failing on console errors or requests leaving 127.0.0.1
    (Chromium logs a refused fetch as a console error: `expect_status` names the one a test provokes)."""
    context = browser.new_context(viewport=viewport, is_mobile=viewport is not None)
    page = context.new_page()
    problems = []
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: "127.0.0.1" not in r.url.split("/")[2] and problems.append(r.url))
    page.goto(f"{live_server}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    try:
        yield page
        expected = f"status of {expect_status}" if expect_status else None
        assert [p for p in problems if not (expected and expected in p)] == []
    finally:
        context.close()


def photo_file(tmp_path) -> str:
    """A real JPEG on disk, as a phone's camera would hand it over."""
    path = tmp_path / "cover.jpg"
    Image.new("RGB", (320, 240), (90, 90, 90)).save(path, "JPEG")
    return str(path)


def do(page, move: str, **fields):
    """Fill a move's form and submit it; wait for the page to show the move in its timeline (no reload)."""
    form = page.locator(f"form.move[data-move={move}]")
    for name, value in fields.items():
        if form.locator(f"select[name={name}]").count():
            form.locator(f"select[name={name}]").select_option(value)
        else:
            form.locator(f"input[name={name}]").fill(value)
    before = page.locator("#timeline li").count()
    page.evaluate("() => { window.ggNoReload = true; }")  # gone if the page reloaded
    form.locator("button[type=submit]").click()
    page.wait_for_function("(n) => document.querySelectorAll('#timeline li').length > n", arg=before)
    assert page.evaluate("() => window.ggNoReload === true")


@pytest.mark.browser
def test_the_loop_in_the_browser(browser, live_server, session, make_user, tmp_path):
    from tests.factories import lonlat

    _, _, community = hierarchy(session)
    g = grid(session, community, 1, rect(0, 0, 200, 200))
    session.commit()
    make_user("commander", name="zhang", password=PASSWORD)
    li_token = make_user("worker", name="li", grids=[g.code], password=PASSWORD)
    make_user("worker", name="wang", grids=[g.code], password=PASSWORD)

    # The worker reports from the phone (the app's token, WGS84 from the browser's geolocation).
    with signed_in(browser, live_server, "li", viewport=PHONE) as phone:
        lon, lat = lonlat(80, 120)
        posted = phone.request.post(f"{live_server}/api/v1/events", headers={"Authorization": f"Bearer {li_token}"},
                                    data={"lon": lon, "lat": lat, "category": "01001", "title": "井盖缺失"})
        assert posted.status == 201
        case_id = posted.json()["id"]
    url = f"{live_server}/cases/{case_id}"

    with signed_in(browser, live_server, "zhang") as page:
        page.goto(f"{live_server}/cases")
        with page.expect_navigation():
            page.locator(f"#to_register li[data-id='{case_id}'] a").click()
        assert page.url == url
        assert page.locator("#case-status").get_attribute("data-status") == "reported"
        assert page.locator(".leaflet-container").count() == 1
        do(page, "register")
        do(page, "dispatch", handler="li")
        assert page.locator("#case-status").get_attribute("data-status") == "dispatched"

    with signed_in(browser, live_server, "li", viewport=PHONE) as phone:
        # The worker finds the case in their to-do list and opens it.
        phone.goto(f"{live_server}/cases")
        with phone.expect_navigation():
            phone.locator(f"#to_handle li[data-id='{case_id}'] a").click()
        assert phone.url == url
        assert [f.get_attribute("data-move") for f in phone.locator("form.move").all()] == \
            ["start", "handle", "escalate", "note"]
        # Page fits the phone: no horizontal scrolling.
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        do(phone, "start")
        phone.locator("form.move[data-move=handle] input[name=photos]").set_input_files(photo_file(tmp_path))
        do(phone, "handle", note="已补装井盖")
        # The photo of the work done came after the move, attached to it.
        handle = session.execute(text("SELECT m.id FROM event_moves m WHERE m.event_id = :id AND m.move = 'handle'"),
                                 {"id": case_id}).scalar()
        assert session.execute(text("SELECT move_id FROM attachments WHERE event_id = :id"),
                               {"id": case_id}).scalars().all() == [handle]
        assert phone.locator("form.move[data-move=verify]").count() == 0  # not their own work

    with signed_in(browser, live_server, "wang", viewport=PHONE) as phone:
        phone.goto(url)
        phone.locator("form.move[data-move=verify] button").click()  # the API's answer shows if anything fails
        phone.wait_for_selector("#case-status[data-status=closed]")
        steps = phone.locator("#timeline li").evaluate_all("items => items.map(i => i.dataset.move)")
        assert steps == ["verify", "handle", "start", "dispatch", "register", "report"]

    session.expire_all()
    assert session.get(Event, case_id).status == "closed"


@pytest.mark.browser
def test_a_refused_move_shows_the_problem_on_the_page(browser, live_server, session, make_user):
    _, _, community = hierarchy(session)
    g = grid(session, community, 1, rect(0, 0, 200, 200))
    session.commit()
    make_user("commander", name="zhang", password=PASSWORD)
    case = reported_event(session, grid=g)
    session.commit()
    with signed_in(browser, live_server, "zhang", expect_status=400) as page:
        page.goto(f"{live_server}/cases/{case.id}")
        do(page, "register")
        page.locator("form.move[data-move=dispatch] button").click()  # no handler, and the grid has no worker
        page.wait_for_selector("#move-error:not(:empty)")
        assert "no worker" in page.locator("#move-error").inner_text()


def test_the_case_page_needs_a_sign_in_and_a_role(client, session, make_user):
    _, _, community = hierarchy(session)
    g = grid(session, community, 1, rect(0, 0, 200, 200))
    case = reported_event(session, grid=g)
    session.commit()
    response = client.get(f"/cases/{case.id}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    viewer = make_user("viewer", password=PASSWORD, name="v")
    client.post("/login", data={"name": "v", "password": PASSWORD})
    assert client.get(f"/cases/{case.id}").status_code == 403
    assert viewer
