"""Open311 photos: a multipart `media` file goes through the same checks, media_url points at the first photo,
and the public route serves it without GPS only once the request is published."""
from __future__ import annotations

import datetime as dt
import io

import pytest
from sqlalchemy import func, select

from gis.core.models import Attachment, Event, EventMove
from tests.conftest import auth, problem
from tests.factories import geodesic_offset, grid, hierarchy, lonlat, person, rect
from tests.images import gps_of, photo


@pytest.fixture
def town(session):
    """One grid, a commander and a citizen app's viewer key."""
    _, _, community = hierarchy(session)
    grid(session, community, 1, rect(0, 0, 200, 200))
    tokens = {role: person(session, role, role)[1] for role in ("commander", "viewer")}
    session.commit()
    return tokens


def _post(client, key: str, media: bytes | None, filename: str = "IMG_0007.jpg"):
    lon, lat = lonlat(50, 60)
    form = {"api_key": key, "service_code": "11002", "lat": str(lat), "long": str(lon), "description": "门口垃圾"}
    if media is not None:
        form["media"] = (io.BytesIO(media), filename, "image/jpeg")
    return client.post("/open311/v2/requests.json", data=form, content_type="multipart/form-data")


def test_a_request_with_a_photo_attaches_it_to_its_report(client, session, town):
    far = geodesic_offset(*lonlat(50, 60), 180, 900)
    taken = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).replace(tzinfo=None) - dt.timedelta(days=3)
    answer = _post(client, town["viewer"], photo(taken=taken, lonlat=far))
    assert answer.status_code == 201, answer.get_data(as_text=True)
    event_id = int(answer.json[0]["service_request_id"])
    stored = session.scalar(select(Attachment).where(Attachment.event_id == event_id))
    report = session.scalar(select(EventMove.id).where(EventMove.event_id == event_id, EventMove.move == "report"))
    assert stored.move_id == report and stored.flags == ["far", "old"]


def test_a_text_file_as_media_is_refused_and_no_request_is_made(client, session, town):
    problem(_post(client, town["viewer"], b"GIF89a? no, just text", filename="photo.jpg"), 415)
    assert session.scalar(select(func.count()).select_from(Event)) == 0


def test_media_url_is_the_public_photo_once_published_and_never_before(client, town):
    data = photo(lonlat=lonlat(50, 60))
    event_id = int(_post(client, town["viewer"], data).json[0]["service_request_id"])
    photo_id = client.get(f"/api/v1/events/{event_id}/attachments",
                          headers=auth(town["commander"])).json["attachments"][0]["id"]
    before = client.get(f"/open311/v2/requests/{event_id}.json").json[0]
    assert before["media_url"] is None
    for path in (f"/open311/v2/media/{photo_id}", f"/open311/v2/media/{photo_id}/thumb"):
        problem(client.get(path), 404)

    assert client.post(f"/api/v1/events/{event_id}/publish", headers=auth(town["commander"]),
                       json={}).status_code == 200
    after = client.get(f"/open311/v2/requests/{event_id}.json").json[0]
    assert after["media_url"] == f"http://localhost/open311/v2/media/{photo_id}"
    public = client.get(f"/open311/v2/media/{photo_id}")
    assert public.status_code == 200 and public.mimetype == "image/jpeg"
    assert gps_of(data) and not gps_of(public.data) and public.data != data
    thumb = client.get(f"/open311/v2/media/{photo_id}/thumb")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    staff = client.get(f"/open311/v2/requests/{event_id}.json", query_string={"api_key": town["commander"]}).json[0]
    assert staff["media_url"] == f"http://localhost/api/v1/attachments/{photo_id}/original"
    assert "first_name" not in str(after) and "contact" not in after


def test_a_staff_filed_event_never_has_a_public_photo(client, session, town):
    lon, lat = lonlat(40, 40)
    filed = client.post("/api/v1/events", headers=auth(town["commander"]),
                        json={"lon": lon, "lat": lat, "category": "11002", "title": "工作人员上报"}).json["id"]
    made = client.post(f"/api/v1/events/{filed}/attachments", headers=auth(town["commander"]),
                       data={"file": (io.BytesIO(photo()), "p.jpg")}, content_type="multipart/form-data")
    assert made.status_code == 201
    problem(client.get(f"/open311/v2/media/{made.json['id']}"), 404)
