"""Two servers configured with the same S3 bucket (moto's server) read each other's photos."""
from __future__ import annotations

import io

from tests.conftest import app_on, auth
from tests.factories import grid, hierarchy, lonlat, person, rect
from tests.images import gps_of, photo


def test_two_app_instances_on_one_bucket_read_each_others_photos(db_url, session, s3_bucket):
    _, _, community = hierarchy(session)
    grid(session, community, 1, rect(0, 0, 200, 200))
    _, token = person(session, "commander", "指挥")
    _, planner = person(session, "planner", "规划")
    session.commit()
    data = photo(lonlat=lonlat(50, 50))
    one, other = app_on(db_url, **s3_bucket), app_on(db_url, **s3_bucket)
    first, second = next(one), next(other)
    try:
        a, b = first.test_client(), second.test_client()
        lon, lat = lonlat(50, 50)
        event = a.post("/api/v1/events", headers=auth(token),
                       json={"lon": lon, "lat": lat, "category": "11002", "title": "积存垃圾"}).json["id"]
        made = a.post(f"/api/v1/events/{event}/attachments", headers=auth(token),
                      data={"file": (io.BytesIO(data), "p.jpg")}, content_type="multipart/form-data")
        assert made.status_code == 201, made.get_data(as_text=True)
        assert first.config["MEDIA_DIR"] != second.config["MEDIA_DIR"]  # nothing shared but the bucket
        assert b.get(made.json["original_url"], headers=auth(token)).data == data
        stripped = b.get(made.json["original_url"], headers=auth(planner))
        assert stripped.status_code == 200 and not gps_of(stripped.data)
        assert b.get(made.json["thumb_url"], headers=auth(token)).mimetype == "image/jpeg"
        again = b.post(f"/api/v1/events/{event}/attachments", headers=auth(token),
                       data={"file": (io.BytesIO(data), "p.jpg")}, content_type="multipart/form-data")
        assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    finally:
        for gen in (one, other):
            next(gen, None)
