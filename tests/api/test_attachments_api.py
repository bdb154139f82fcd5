"""Photos of events over the API: checked by content, EXIF read and flagged, stored once, read as each role may."""
from __future__ import annotations

import datetime as dt
import io

import pytest
from sqlalchemy import func, select

from gis.core.models import Attachment, AuditEntry, EventMove
from tests.api.test_headers import assert_secured
from tests.conftest import app_on, auth, problem
from tests.factories import geodesic_offset, grid, hierarchy, lonlat, person, rect
from tests.images import gps_of, opened, photo

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def town(session, client):
    """Two grids; a commander's event in the first, its worker, a worker of the second, a planner and a viewer."""
    _, _, community = hierarchy(session, rect(0, 0, 400, 200))
    g1 = grid(session, community, 1, rect(0, 0, 200, 200))
    g2 = grid(session, community, 2, rect(200, 0, 400, 200))
    tokens = {name: person(session, role, name, grids=grids)[1] for name, role, grids in (
        ("commander", "commander", ()), ("worker", "worker", [g1.code]), ("outsider", "worker", [g2.code]),
        ("planner", "planner", ()), ("viewer", "viewer", ()))}
    session.commit()
    lon, lat = lonlat(50, 50)
    made = client.post("/api/v1/events", headers=auth(tokens["commander"]),
                       json={"lon": lon, "lat": lat, "category": "11002", "title": "积存垃圾"})
    assert made.status_code == 201, made.get_data(as_text=True)
    return {"event": made.json["id"], "tokens": tokens, "lonlat": (lon, lat)}


def upload(client, town, data: bytes, *, who: str = "worker", filename: str = "photo.jpg",
           mimetype: str = "image/jpeg", event: int | None = None, **form):
    """POST one file as multipart to the event's attachments."""
    return client.post(f"/api/v1/events/{event or town['event']}/attachments", headers=auth(town["tokens"][who]),
                       data={"file": (io.BytesIO(data), filename, mimetype), **form},
                       content_type="multipart/form-data")


def test_a_png_named_jpg_is_accepted_as_a_png(client, town):
    answer = upload(client, town, photo("PNG"), filename="photo.jpg", mimetype="image/jpeg")
    assert answer.status_code == 201, answer.get_data(as_text=True)
    assert answer.json["content_type"] == "image/png"
    assert answer.json["flags"] == ["no_exif_time"] and answer.json["distance_m"] is None


def test_a_text_file_named_photo_jpg_is_refused_with_a_problem(client, town, session):
    body = problem(upload(client, town, b"hello, not a picture\n" * 50), 415)
    assert "JPEG" in body["detail"] and body["parameter"] == "file"
    assert session.scalar(select(func.count()).select_from(Attachment)) == 0


def test_a_request_without_a_file_is_told_where_to_put_it(client, town):
    answer = client.post(f"/api/v1/events/{town['event']}/attachments", headers=auth(town["tokens"]["worker"]),
                         data={"other": "x"}, content_type="multipart/form-data")
    assert "`file`" in problem(answer, 400)["detail"]


def test_a_photo_over_the_size_limit_gets_413_naming_the_limit(db_url, town):
    data = photo()
    for application in app_on(db_url, MAX_ATTACHMENT_BYTES=len(data) - 10):
        body = problem(upload(application.test_client(), town, data), 413)
        assert f"{len(data) - 10:,}" in body["detail"]
        # Far over the limit: refused while the body is read, still a problem that says so.
        huge = problem(upload(application.test_client(), town, data * 400), 413)
        assert "larger than" in huge["detail"]


def test_exif_time_and_place_are_read_and_a_far_old_photo_is_flagged(client, town):
    lon, lat = geodesic_offset(*town["lonlat"], 90, 2100)
    taken = dt.datetime.now(SHANGHAI).replace(microsecond=0, tzinfo=None) - dt.timedelta(days=6)
    answer = upload(client, town, photo(taken=taken, lonlat=(lon, lat)), who="commander")
    assert answer.status_code == 201, answer.get_data(as_text=True)
    body = answer.json
    assert body["flags"] == ["far", "old"]
    assert body["distance_m"] == pytest.approx(2100, abs=5)
    assert body["taken_at"] == taken.isoformat() + "+08:00"  # no OffsetTimeOriginal: the district's zone
    assert body["taken_lon"] == pytest.approx(lon, abs=1e-5) and body["taken_lat"] == pytest.approx(lat, abs=1e-5)


def test_a_near_recent_photo_has_no_flags(client, town):
    lon, lat = geodesic_offset(*town["lonlat"], 0, 30)
    taken = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)
    answer = upload(client, town, photo(taken=taken.replace(tzinfo=None), offset="+00:00", lonlat=(lon, lat)))
    assert answer.status_code == 201 and answer.json["flags"] == []
    assert dt.datetime.fromisoformat(answer.json["taken_at"]) == taken


def test_a_photo_taken_in_the_future_is_flagged(client, town):
    taken = dt.datetime.now(SHANGHAI).replace(tzinfo=None) + dt.timedelta(days=2)
    assert upload(client, town, photo(taken=taken)).json["flags"] == ["future"]


def test_the_same_photo_twice_is_stored_once_and_replayed(client, town, session):
    data = photo(lonlat=town["lonlat"])
    first = upload(client, town, data)
    again = upload(client, town, data, filename="IMG_0001 (1).jpg")
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json["id"] == first.json["id"]
    assert session.scalar(select(func.count()).select_from(Attachment)) == 1
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.entity == "attachment")).all()
    assert sorted(actions) == ["attachment.create", "attachment.replay"]


def test_a_worker_outside_the_grid_gets_404_for_everything(client, town):
    made = upload(client, town, photo())
    assert made.status_code == 201
    outsider = auth(town["tokens"]["outsider"])
    problem(upload(client, town, photo(colour=(1, 2, 3)), who="outsider"), 404)
    problem(client.get(f"/api/v1/events/{town['event']}/attachments", headers=outsider), 404)
    for kind in ("original", "thumb"):
        problem(client.get(f"/api/v1/attachments/{made.json['id']}/{kind}", headers=outsider), 404)
        assert client.get(made.json[f"{kind}_url"], headers=auth(town["tokens"]["worker"])).status_code == 200


def test_a_viewer_may_neither_upload_nor_read(client, town):
    made = upload(client, town, photo())
    problem(upload(client, town, photo(), who="viewer"), 403)
    problem(client.get(made.json["original_url"], headers=auth(town["tokens"]["viewer"])), 403)


def test_a_role_without_personal_access_gets_the_photo_without_gps(client, town):
    data = photo(taken=dt.datetime(2026, 12, 1, 10, 0), lonlat=town["lonlat"])
    made = upload(client, town, data)
    planner, commander = auth(town["tokens"]["planner"]), auth(town["tokens"]["commander"])
    stripped = client.get(made.json["original_url"], headers=planner)
    whole = client.get(made.json["original_url"], headers=commander)
    assert whole.data == data and gps_of(whole.data)
    assert stripped.status_code == 200 and stripped.data != data and not gps_of(stripped.data)
    assert opened(stripped.data).size == opened(data).size
    for answer in (stripped, whole):
        assert answer.mimetype == "image/jpeg" and answer.headers["Cache-Control"] == "private"
    assert whole.headers["ETag"] != stripped.headers["ETag"]
    listed = client.get(f"/api/v1/events/{town['event']}/attachments", headers=planner).json["attachments"]
    assert "taken_lon" not in listed[0] and "taken_lat" not in listed[0]
    assert client.get(f"/api/v1/events/{town['event']}/attachments", headers=commander).json[
        "attachments"][0]["taken_lat"] == pytest.approx(town["lonlat"][1], abs=1e-5)


def test_an_unchanged_photo_answers_304_to_its_etag(client, town):
    made = upload(client, town, photo())
    first = client.get(made.json["thumb_url"], headers=auth(town["tokens"]["worker"]))
    again = client.get(made.json["thumb_url"], headers=auth(town["tokens"]["worker"]) | {
        "If-None-Match": first.headers["ETag"]})
    assert first.status_code == 200 and again.status_code == 304 and not again.data
    assert_secured(first, made.json["thumb_url"])


def test_the_thumbnail_is_small_and_carries_no_exif(client, town):
    made = upload(client, town, photo(size=(1600, 1200), lonlat=town["lonlat"]))
    thumb = client.get(made.json["thumb_url"], headers=auth(town["tokens"]["commander"]))
    image = opened(thumb.data)
    assert thumb.mimetype == "image/jpeg" and max(image.size) == 320 and not image.getexif()


def test_a_heic_from_a_phone_is_accepted(client, town):
    answer = upload(client, town, photo("HEIF", lonlat=town["lonlat"]), filename="IMG_1234.HEIC",
                    mimetype="application/octet-stream")
    assert answer.status_code == 201, answer.get_data(as_text=True)
    assert answer.json["content_type"] == "image/heic"


def test_a_photo_may_belong_to_a_move_of_its_own_event_only(client, town, session):
    move = session.scalar(select(EventMove.id).where(EventMove.event_id == town["event"]))
    answer = upload(client, town, photo(), move_id=str(move))
    assert answer.status_code == 201 and answer.json["move_id"] == move
    lon, lat = lonlat(60, 60)
    other = client.post("/api/v1/events", headers=auth(town["tokens"]["commander"]),
                        json={"lon": lon, "lat": lat, "category": "11002", "title": "另一处"}).json["id"]
    refused = problem(upload(client, town, photo(colour=(9, 9, 9)), event=other, move_id=str(move)), 400)
    assert refused["parameter"] == "move_id"
    problem(upload(client, town, photo(colour=(9, 9, 8)), move_id="abc"), 400)


def test_the_event_and_its_case_list_the_photos(client, town):
    made = upload(client, town, photo())
    event = client.get(f"/api/v1/events/{town['event']}", headers=auth(town["tokens"]["commander"])).json
    assert [a["id"] for a in event["attachments"]] == [made.json["id"]]
    case = client.get(f"/api/v1/events/{town['event']}/timeline", headers=auth(town["tokens"]["commander"])).json
    assert case["attachments"][0]["thumb_url"] == made.json["thumb_url"] and "taken_lat" not in case["attachments"][0]


MULTIPART_GARBAGE = [
    (b"--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n\r\n\xff\xd8\xff", "boundary=x"),
    (b"--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc\r\n--x--\r\n", "boundary=x"),
    (b"no boundary at all", ""),
    (b"--x\r\n\r\n\r\n--x--", "boundary=x"),
    (b"--x\r\nContent-Disposition: form-data; name=\"move_id\"\r\n\r\n\x00\r\n--x--\r\n", "boundary=x"),
    (b"", "boundary=x"),
]


@pytest.mark.parametrize("body,params", MULTIPART_GARBAGE)
def test_multipart_garbage_gets_a_4xx_problem(client, town, body, params):
    content_type = "multipart/form-data" + (f"; {params}" if params else "")
    for path in (f"/api/v1/events/{town['event']}/attachments", "/open311/v2/requests.json"):
        answer = client.post(path, headers=auth(town["tokens"]["commander"]), data=body, content_type=content_type)
        assert 400 <= answer.status_code < 500, (path, answer.status_code, answer.get_data(as_text=True))
        assert answer.mimetype == "application/problem+json"


def test_a_signed_in_page_must_send_its_csrf_token(client, town, session, make_user):
    make_user("commander", name="页面指挥", password="a long enough password")
    signed_in = client.post("/login", data={"name": "页面指挥", "password": "a long enough password"})
    assert signed_in.status_code == 302
    answer = client.post(f"/api/v1/events/{town['event']}/attachments",
                         data={"file": (io.BytesIO(photo()), "p.jpg")}, content_type="multipart/form-data")
    assert "CSRF" in problem(answer, 403)["title"]
