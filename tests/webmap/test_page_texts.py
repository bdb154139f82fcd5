"""The pages that are not maps speak the reader's language from the catalog, and show no raw key."""
from __future__ import annotations

import re

from tests.factories import grid, hierarchy, rect, reported_event
from webmap import catalog

PASSWORD = "page-texts-password"
# A catalog key as a page would show it by mistake: words joined by dots, e.g. status.in_progress.
KEY = re.compile(r"\b(?:" + "|".join(sorted({k.split(".")[0] for k in catalog.entries()})) + r")\.[a-z_.0-9]+\b")


def _text(html: str) -> str:
    """What a reader sees: the page without its tags, scripts and styles."""
    html = re.sub(r"(?s)<(script|style)\b.*?</\1>", "", html)
    return re.sub(r"<[^>]+>", " ", html)


def _raw_keys(html: str) -> set[str]:
    return {k for k in KEY.findall(_text(html)) if catalog.has(k)}


def _case_and_commander(client, session, make_user):
    _, _, community = hierarchy(session)
    g = grid(session, community, 1, rect(0, 0, 200, 200))
    case = reported_event(session, grid=g)
    session.commit()
    make_user("commander", name="texts-cc", password=PASSWORD)
    assert client.post("/login", data={"name": "texts-cc", "password": PASSWORD}).status_code == 302
    return case


def test_the_sign_in_page_is_chinese_by_default_and_english_when_asked(client):
    zh = client.get("/login").get_data(as_text=True)
    assert f"<button type=\"submit\">{catalog.t('page.login.submit')}</button>" in zh and 'lang="zh-CN"' in zh
    en = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.8"}).get_data(as_text=True)
    assert catalog.t("page.login.submit", "en") in en and 'lang="en"' in en
    assert catalog.t("page.login.password") not in en
    wrong = client.post("/login", data={"name": "nobody", "password": "x"}, headers={"Accept-Language": "en"})
    assert wrong.status_code == 401 and catalog.t("page.login.wrong", "en") in wrong.get_data(as_text=True)


def test_the_to_do_list_labels_statuses_and_sections_from_the_catalog(client, session, make_user):
    case = _case_and_commander(client, session, make_user)
    html = client.get("/cases").get_data(as_text=True)
    assert f"#{case.id}" in html
    assert catalog.t("todo.to_register") in html and catalog.t("status.reported") in html
    assert ">reported<" not in html and not _raw_keys(html)
    en = client.get("/cases", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert catalog.t("todo.to_register", "en") in en and catalog.t("todo.to_register") not in en


def test_the_case_panel_labels_its_moves_fields_and_timeline_from_the_catalog(client, session, make_user):
    case = _case_and_commander(client, session, make_user)
    html = client.get(f"/cases/{case.id}").get_data(as_text=True)
    for key in ("case.timeline", "case.moves", "case.deadline", "move.register", "move.report", "status.reported",
                "case.field.reason", "case.outside_source"):
        assert catalog.t(key) in html, key
    assert not _raw_keys(html)
    en = client.get(f"/cases/{case.id}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert catalog.t("move.register", "en") in en and catalog.t("case.timeline", "en") in en
    assert 'data-lang="en"' in en and 'data-lang="zh-CN"' in html


def test_a_users_own_language_decides_the_page_over_the_browser(client, session, make_user):
    case = _case_and_commander(client, session, make_user)
    assert client.patch("/api/v1/me", json={"lang": "en"},
                        headers={"X-CSRF-Token": _csrf(client)}).status_code == 200
    html = client.get(f"/cases/{case.id}", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert catalog.t("case.timeline", "en") in html and catalog.t("case.timeline") not in html


def test_the_map_pages_are_titled_in_the_readers_language(client, session, make_user):
    make_user("planner", name="texts-planner", password=PASSWORD)
    assert client.post("/login", data={"name": "texts-planner", "password": PASSWORD}).status_code == 302
    zh = client.get("/map").get_data(as_text=True)
    assert f"<title>gridgov — {catalog.t('page.command.title')}</title>" in zh
    en = client.get("/map/planner", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert f"<title>gridgov — {catalog.t('page.planner.title', 'en')}</title>" in en


def test_the_ogc_pages_say_their_headings_in_the_readers_language(client):
    zh = client.get("/ogc/collections?f=html").get_data(as_text=True)
    assert catalog.t("ogc.collections") in zh and not _raw_keys(zh)
    en = client.get("/ogc/conformance?f=html", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert catalog.t("ogc.conformance", "en") in en and catalog.t("ogc.column.class", "en") in en


def _csrf(client) -> str:
    with client.session_transaction() as s:
        return s["csrf"]
