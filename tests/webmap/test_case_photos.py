"""The case page shows a case's photos as thumbnails linking to the originals, with their flags in words."""
from __future__ import annotations

import datetime as dt
import io

from tests.factories import geodesic_offset, grid, hierarchy, lonlat, rect
from tests.images import photo
from webmap.case import flag_notes
from webmap.catalog import t

PASSWORD = "correct horse battery"


def test_flags_read_as_short_notes():
    reported = "2026-12-07T10:00:00+08:00"
    far_old = {"flags": ["far", "old"], "distance_m": 2100.0, "taken_at": "2026-12-01T10:00:00+08:00"}
    assert flag_notes(far_old, reported) == [t("photo.far_km", km="2.1"), t("photo.old_days", n="6")]
    assert flag_notes(far_old, reported) == ["拍摄于 2.1 公里外", "拍摄时间早于上报 6 天"]  # what a reader sees
    near_hours = {"flags": ["far", "old"], "distance_m": 640.0, "taken_at": "2026-12-06T04:00:00+08:00"}
    assert flag_notes(near_hours, reported) == [t("photo.far_m", m="640"), t("photo.old_hours", n="30")]
    assert flag_notes(near_hours, reported, "en") == ["taken 640 m away", "taken 30 hours before the report"]
    assert flag_notes({"flags": ["no_exif_time"], "distance_m": None, "taken_at": None}, reported) == ["无拍摄时间"]
    assert flag_notes({"flags": [], "distance_m": 3.0, "taken_at": reported}, reported) == []


def test_the_case_page_shows_thumbnails_linking_to_originals_with_their_flags(client, session, make_user):
    _, _, community = hierarchy(session)
    grid(session, community, 1, rect(0, 0, 200, 200))
    session.commit()
    token = make_user("commander", name="zhang", password=PASSWORD)
    lon, lat = lonlat(50, 50)
    headers = {"Authorization": f"Bearer {token}"}
    event = client.post("/api/v1/events", headers=headers,
                        json={"lon": lon, "lat": lat, "category": "11002", "title": "积存垃圾"}).json["id"]
    taken = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).replace(tzinfo=None) - dt.timedelta(days=6, hours=1)
    made = client.post(f"/api/v1/events/{event}/attachments", headers=headers, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(photo(taken=taken, lonlat=geodesic_offset(lon, lat, 45, 2100))),
                                      "p.jpg")})
    assert made.status_code == 201, made.get_data(as_text=True)
    client.post("/login", data={"name": "zhang", "password": PASSWORD})
    page = client.get(f"/cases/{event}").get_data(as_text=True)
    assert f'<a href="{made.json["original_url"]}"><img src="{made.json["thumb_url"]}"' in page
    assert "拍摄于 2.1 公里外" in page and "拍摄时间早于上报 6 天" in page
