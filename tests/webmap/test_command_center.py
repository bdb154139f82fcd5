"""Done when of issue 19 (parts 2 and 3): a commander on /map sees a worker's report arrive in the queue with a
toast, opens its case page with its photo and place, registers and dispatches it without a reload, and finds
the overdue cases from the queue — in Chinese, with no raw key, console error or request leaving 127.0.0.1.

GRIDGOV_SCREENSHOTS=<dir> also writes screenshots of /map and the case page there (off by default: fast)."""
from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
from pathlib import Path

import pytest
import requests
from PIL import Image
from sqlalchemy import text

from tests.factories import grid, hierarchy, lonlat, rect, reported_event
from webmap import catalog

PASSWORD = "correct horse battery"
SCREEN = {"width": 1600, "height": 1000}


@contextlib.contextmanager
def commander_page(browser, live_server, name):
    """A zh-CN browser at 1600×1000 signed in as `name`; at the end, no console error and nothing fetched outside."""
    context = browser.new_context(viewport=SCREEN, locale="zh-CN")
    page = context.new_page()
    problems = []
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: r.url.split("/")[2].split(":")[0] != "127.0.0.1" and problems.append(r.url))
    page.goto(f"{live_server}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    try:
        yield page
        assert problems == []
    finally:
        context.close()


def jpeg() -> bytes:
    """A real JPEG, as a phone's camera makes one."""
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 120, 40)).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def screenshot(page, name: str, *, full_page: bool = False) -> None:
    """Only when GRIDGOV_SCREENSHOTS names a folder (docs/img for the docs' pictures)."""
    folder = os.environ.get("GRIDGOV_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=full_page)


def no_raw_keys(page) -> None:
    assert page.evaluate("() => window.gridgov.missingMessages || []") == []


@pytest.mark.browser
def test_a_commander_takes_a_new_report_from_the_queue_to_dispatch(browser, live_server, session, make_user):
    _, _, community = hierarchy(session)
    g = grid(session, community, 1, rect(0, 0, 200, 200))
    late = [reported_event(session, grid=g, x=20 + 10 * i, y=30, title=f"超期事件{i}") for i in range(3)]
    reported_event(session, grid=g, x=30, y=170, title="三天前的事件",
                   reported_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=3))
    session.commit()
    session.execute(text("UPDATE events SET deadline_at = now() - interval '2 days' WHERE id = ANY(:ids)"),
                    {"ids": [e.id for e in late]})
    session.commit()
    make_user("commander", name="zhang", password=PASSWORD)
    li = make_user("worker", name="li", grids=[g.code], password=PASSWORD)

    with commander_page(browser, live_server, "zhang") as page:
        page.goto(f"{live_server}/map")
        page.wait_for_function("() => gridgov.state.live && gridgov.state.queue")
        assert page.locator("#gg-todo-link").get_attribute("href") == "/cases"

        # A worker reports from the field, with a photo.
        lon, lat = lonlat(120, 80)
        auth = {"Authorization": f"Bearer {li}"}
        posted = requests.post(f"{live_server}/api/v1/events", headers=auth, timeout=10,
                               json={"lon": lon, "lat": lat, "accuracy_m": 15, "category": "01001",
                                     "title": "井盖缺失", "description": "人行道上的井盖不见了"})
        assert posted.status_code == 201
        case_id = posted.json()["id"]
        photo = requests.post(f"{live_server}/api/v1/events/{case_id}/attachments", headers=auth, timeout=10,
                              files={"file": ("cover.jpg", jpeg(), "image/jpeg")})
        assert photo.status_code == 201, photo.text

        # It arrives in the queue, with a toast linking to its case page.
        page.wait_for_selector(f"#gg-queue [data-kind=to_register] li[data-id='{case_id}']")
        toast = page.locator(f".gg-toast[data-id='{case_id}']")
        toast.wait_for()
        assert catalog.t("command.toast.new", id=case_id, title="井盖缺失") in toast.inner_text()
        no_raw_keys(page)
        screenshot(page, "command-center.png")
        with page.expect_navigation():
            toast.locator("a").click()
        assert page.url == f"{live_server}/cases/{case_id}"

        # The case page: the map on top with the grid and the accuracy circle, the photo, the place.
        page.wait_for_selector(".photos img")
        assert page.locator("path.gg-grid-outline").count() == 1 and page.locator("path.gg-accuracy").count() == 1
        map_top = page.locator(".folium-map").bounding_box()["y"]
        assert map_top < page.locator("main.case-panel").bounding_box()["y"]
        assert page.locator("a.place[data-kind=grid]").get_attribute("href") == f"/map?focus={g.code}"
        assert "人行道上的井盖不见了" in page.locator("#case-description").inner_text()
        assert catalog.t("case.hours_left", n="24").split("24")[0] in page.locator("#case-hours-left").inner_text()
        assert page.locator("form.move").first.get_attribute("data-move") == "register"
        screenshot(page, "case-page.png")

        # Register, then dispatch: no reload, the next move comes first each time.
        reported = page.locator("#timeline li[data-move=report] time").inner_text()  # as the server wrote it
        page.evaluate("() => { window.stayed = true; }")
        page.locator("form.move[data-move=register] button").click()
        page.wait_for_selector("#case-status[data-status=registered]")
        assert page.locator("form.move").first.get_attribute("data-move") == "dispatch"
        page.locator("form.move[data-move=dispatch] select[name=handler]").select_option("li")
        page.locator("form.move[data-move=dispatch] button").click()
        page.wait_for_selector("#case-status[data-status=dispatched]")
        assert page.locator("#case-handler").inner_text() == "li"
        assert page.locator("#timeline li").evaluate_all("items => items.map(i => i.dataset.move)") == \
            ["dispatch", "register", "report"]
        assert page.evaluate("() => window.stayed") is True
        assert page.locator("#timeline li[data-move=report] time").inner_text() == reported  # same zone, same form
        no_raw_keys(page)

        # Back on the map, the overdue ones are in the queue, each linking to its case.
        page.goto(f"{live_server}/map")
        overdue = page.locator("#gg-queue [data-kind=overdue]")
        overdue.locator("li[data-id]").first.wait_for()
        assert sorted(int(i) for i in overdue.locator("li[data-id]").evaluate_all(
            "items => items.map(i => i.dataset.id)")) == [e.id for e in late]
        assert catalog.t("command.queue.count", name=catalog.t("command.queue.overdue"), n=3) in overdue.inner_text()
        assert overdue.locator(f"a[href='/cases/{late[0].id}']").count() == 1

        # Today (the district's day) leaves out the report of three days ago; the last 7 days has it.
        page.wait_for_function("() => gridgov.state.drawn.events === 5")
        page.select_option("#gg-time", "today")
        page.wait_for_function("() => gridgov.state.drawn.events === 4")
        page.select_option("#gg-time", "week")
        page.wait_for_function("() => gridgov.state.drawn.events === 5")

        # A click inside the grid, away from the events, shows the grid (not its community or street).
        x, y = page.evaluate("([lat, lon]) => { const p = gridgov.map.latLngToContainerPoint([lat, lon]); "
                             "return [p.x, p.y]; }", list(reversed(lonlat(170, 120))))
        box = page.locator(".folium-map").bounding_box()
        page.mouse.click(box["x"] + x, box["y"] + y)
        page.wait_for_function("() => gridgov.state.identified && gridgov.state.identified.layer === 'grids'")
        card = page.locator(".gg-card")
        assert card.locator(".gg-card-name").inner_text() == f"{g.name} {g.code}"  # the grid's name, its code
        assert catalog.t("field.area_m2") in card.inner_text() and "area_m2" not in card.inner_text()
        no_raw_keys(page)


def test_a_capped_list_says_how_many_there_are(client, session, make_user):
    _, _, community = hierarchy(session)
    g = grid(session, community, 1, rect(0, 0, 200, 200))
    for i in range(5):
        reported_event(session, grid=g, x=10 + 10 * i, y=20, reported_at=dt.datetime.now(dt.UTC))
    session.commit()
    make_user("commander", name="zhang", password=PASSWORD)
    client.post("/login", data={"name": "zhang", "password": PASSWORD})
    mine = client.get("/api/v1/cases/mine?limit=2").json
    assert len(mine["to_register"]) == 2 and mine["to_register_omitted"] == 3
    assert mine["escalated"] == [] and client.get("/api/v1/cases/mine?limit=0").status_code == 400


def test_the_case_page_shows_the_reporters_contact_only_to_its_readers_and_audits_the_read(client, session,
                                                                                          make_user):
    _, _, community = hierarchy(session)
    g = grid(session, community, 1, rect(0, 0, 200, 200))
    session.commit()
    boss = make_user("commander", name="zhang", password=PASSWORD)
    make_user("worker", name="li", grids=[g.code], password=PASSWORD)
    lon, lat = lonlat(50, 50)
    case = client.post("/api/v1/events", headers={"Authorization": f"Bearer {boss}"},
                       json={"lon": lon, "lat": lat, "category": "01001", "title": "井盖缺失",
                             "contact": {"name": "王先生", "phone": "13812345678"}}).json["id"]
    again = client.post("/api/v1/events", headers={"Authorization": f"Bearer {boss}"},
                        json={"lon": lon, "lat": lat, "category": "01001", "title": "井盖又缺"}).json["id"]
    before = session.scalar(text("SELECT coalesce(max(id), 0) FROM audit_log"))
    client.post("/login", data={"name": "zhang", "password": PASSWORD})
    page = client.get(f"/cases/{case}").get_data(as_text=True)
    assert catalog.t("case.contact") in page and "王先生 · 13812345678" in page
    assert f'href="/map?focus={g.code}"' in page and f'href="/map?focus={community.code}"' in page
    assert catalog.t("case.duplicates") in page and f'<a href="/cases/{again}">' in page  # its likely duplicate
    reads = session.execute(text("SELECT action, entity, after FROM audit_log WHERE id > :id AND action = 'read'"),
                            {"id": before}).all()
    assert [(r.action, r.entity, r.after["ids"]) for r in reads] == [("read", "events", [case])]
    client.post("/login", data={"name": "li", "password": PASSWORD})  # signing in again: now the worker
    worker_page = client.get(f"/cases/{case}").get_data(as_text=True)
    assert "13812345678" not in worker_page and catalog.t("case.contact") not in worker_page


@pytest.mark.browser
def test_reject_asks_first_and_a_code_on_the_map_jumps_to_its_place(browser, live_server, session, make_user):
    _, _, community = hierarchy(session)
    g = grid(session, community, 1, rect(0, 0, 200, 200))
    case = reported_event(session, grid=g)
    session.commit()
    make_user("commander", name="zhang", password=PASSWORD)
    with commander_page(browser, live_server, "zhang") as page:
        page.goto(f"{live_server}/cases/{case.id}")
        reject = page.locator("form.move[data-move=reject]")
        reject.locator("input[name=note]").fill("不属于受理范围")
        reject.locator("button").click()
        assert reject.get_attribute("data-confirming") == "yes"
        assert catalog.t("case.confirm", move=catalog.t("move.reject")) == reject.locator("button").inner_text()
        assert page.locator("#case-status").get_attribute("data-status") == "reported"  # nothing sent yet
        reject.locator("button").click()
        page.wait_for_selector("#case-status[data-status=rejected]")

        # The grid's link on the case page frames that grid on the map; a 12-digit code finds its community.
        with page.expect_navigation():
            page.locator("a.place[data-kind=grid]").click()
        page.wait_for_function(f"() => gridgov.state.found && gridgov.state.found.code === '{g.code}'")
        page.fill("#gg-search", community.code)
        page.press("#gg-search", "Enter")
        page.wait_for_function(f"() => gridgov.state.found.code === '{community.code}'")
        assert page.evaluate("() => gridgov.state.found.type") == "community"
        no_raw_keys(page)
