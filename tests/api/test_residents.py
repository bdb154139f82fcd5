"""The residents' channel: a report without an account, with a photo, a tracking number and a limit per address."""
from __future__ import annotations

import io
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select, text

from gis.cases.residents import RESIDENTS
from gis.core.models import Attachment, AuditEntry, Event, User
from tests.conftest import problem
from tests.factories import grid, hierarchy, lonlat, person, rect
from tests.images import gps_of, photo
from webmap import catalog


@pytest.fixture
def town(session):
    _, _, community = hierarchy(session)
    grid(session, community, 1, rect(0, 0, 200, 200))
    token = person(session, "commander", "commander")[1]
    session.commit()
    return {"commander": token}


def report(client, *, media: bytes | None = None, phone: str | None = None, address: str = "203.0.113.7", **extra):
    lon, lat = lonlat(50, 60)
    form = {"service_code": "11002", "lat": str(lat), "long": str(lon), "description": "楼下垃圾三天没清"}
    if phone:
        form["phone"] = phone
    if media is not None:
        form["media"] = (io.BytesIO(media), "IMG_1.jpg", "image/jpeg")
    return client.post("/open311/v2/requests.json", data=form, content_type="multipart/form-data",
                       environ_base={"REMOTE_ADDR": address}, **extra)


def test_a_resident_reports_with_a_photo_and_no_account(client, session, town):
    answer = report(client, media=photo(lonlat=lonlat(50, 60)), phone="13812345678")
    assert answer.status_code == 201, answer.get_data(as_text=True)
    event_id = int(answer.json[0]["service_request_id"])
    event = session.get(Event, event_id)
    reporter = session.get(User, event.reporter_id)
    assert reporter.name == RESIDENTS and reporter.password_hash is None and reporter.token_hash is None
    assert event.channel == "open311" and event.grid_id is not None
    assert session.scalar(select(func.count()).select_from(Attachment).where(Attachment.event_id == event_id)) == 1
    # Nothing of the contact comes back, not in the answer and not in the public view.
    assert "13812345678" not in answer.get_data(as_text=True)
    public = client.get(f"/open311/v2/requests/{event_id}.json").get_data(as_text=True)
    assert "13812345678" not in public and "138" not in public
    audit = session.scalar(select(AuditEntry).where(AuditEntry.action == "resident.report"))
    assert audit.entity_id == str(event_id) and audit.address == "203.0.113.7" and audit.via == "resident"


def test_the_residents_user_cannot_sign_in_or_read(client, session, town):
    report(client)
    assert client.post("/login", data={"name": RESIDENTS, "password": ""}).status_code != 302
    assert client.get("/api/v1/events").status_code == 401


def test_more_than_the_hourly_limit_from_one_address_is_refused_with_when_to_retry(app, client, session, town):
    app.config["RESIDENT_REPORTS_PER_HOUR"] = 3
    for _ in range(3):
        assert report(client).status_code == 201
    refused = problem(report(client), 429)
    assert refused["code"] == "problem.too_many_reports"
    assert 1 <= int(report(client).headers["Retry-After"]) <= 3601
    # Another address is not held back by this one; nothing was created by the refused ones.
    assert report(client, address="198.51.100.9").status_code == 201
    assert session.scalar(select(func.count()).select_from(Event)) == 4


def test_the_limit_counts_the_last_hour_only(app, client, session, town):
    app.config["RESIDENT_REPORTS_PER_HOUR"] = 1
    assert report(client).status_code == 201
    problem(report(client), 429)
    # The audit trail is append-only; its purge is the one way rows go. Age the row instead, as time would.
    session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
    session.execute(text("UPDATE audit_log SET at = at - interval '61 minutes' WHERE action = 'resident.report'"))
    session.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
    session.commit()
    assert report(client).status_code == 201


def test_a_replayed_report_is_one_case_and_counts_once(app, client, session, town):
    app.config["RESIDENT_REPORTS_PER_HOUR"] = 2
    key = {"Idempotency-Key": "resident-key-0001"}
    first = report(client, headers=key)
    again = report(client, headers=key)
    assert first.json[0]["service_request_id"] == again.json[0]["service_request_id"]
    assert session.scalar(select(func.count()).select_from(Event)) == 1
    assert report(client).status_code == 201  # the replay did not use up the second report


def test_the_channel_can_be_closed(app, client, town):
    app.config["RESIDENT_REPORTS"] = False
    problem(report(client), 401)


def test_a_photo_that_is_not_an_image_is_refused_and_nothing_is_made(client, session, town):
    problem(report(client, media=b"just text, named like a photo"), 415)
    assert session.scalar(select(func.count()).select_from(Event)) == 0


def test_the_report_page_needs_no_account_and_speaks_chinese(client, town):
    page = client.get("/report")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert catalog.t("resident.title") in html and "/static/js/resident.js" in html


def test_the_tracking_page_shows_the_public_status_and_never_the_contact(client, session, town):
    answer = report(client, phone="13812345678", media=photo(lonlat=lonlat(50, 60)))
    event_id = answer.json[0]["service_request_id"]
    page = client.get(f"/report/{event_id}", headers={"Accept-Language": "zh-CN"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert catalog.t("resident.state.open") in html and catalog.t("resident.unpublished") in html
    assert "13812345678" not in html and "楼下垃圾" not in html  # the description waits for staff
    assert client.get(f"/report/track?id={event_id}").headers["Location"].endswith(f"/report/{event_id}")
    problem(client.get("/report/track?id=abc"), 400)
    problem(client.get("/report/999999"), 404)


def test_a_residents_photo_reaches_the_public_without_gps(client, session, town):
    answer = report(client, media=photo(lonlat=lonlat(50, 60)))
    event_id = int(answer.json[0]["service_request_id"])
    client.post(f"/api/v1/events/{event_id}/publish", json={"publish": True},
                headers={"Authorization": f"Bearer {town['commander']}"})
    media_url = client.get(f"/open311/v2/requests/{event_id}.json").json[0]["media_url"]
    path = urlsplit(media_url).path
    assert path.startswith("/open311/v2/media/")
    public = client.get(path)
    assert public.status_code == 200 and gps_of(public.data) == {}
