"""Locate's fast path (api/locate.py) answers as the Flask route does, and only the common case."""
from __future__ import annotations

import datetime as dt
import random
import time

import pytest
from sqlalchemy import text

from api import create_app
from api import db as api_db
from api.locate import ENDPOINT, LocateFastPath, fast_path_of
from tests.conftest import auth, live_hub, problem

UTC = dt.UTC


def _warm(app, client, token: str) -> None:
    """Let the process hear table changes (so it caches tokens), then have this token cached."""
    live_hub(app)
    assert client.get("/api/v1/locate?lon=118&lat=24", headers=auth(token)).status_code == 200


def _count_flask_calls(app) -> list:
    """Record each request that reaches the Flask route (its guard included)."""
    calls, view = [], app.view_functions[ENDPOINT]

    def counted(*args, **kwargs):
        calls.append(1)
        return view(*args, **kwargs)

    app.view_functions[ENDPOINT] = counted
    return calls


@pytest.fixture
def viewer(demo_session):
    from gis.core.users import create_user

    _, token = create_user(demo_session, "fast-path", "viewer")
    demo_session.commit()
    return token


def test_the_fast_path_answers_byte_for_byte_as_the_flask_route(demo_app, demo_db_url, demo_session, viewer):
    client = demo_app.test_client()
    _warm(demo_app, client, viewer)
    calls = _count_flask_calls(demo_app)
    plain = create_app({"TESTING": True, "DATABASE_URL": demo_db_url, "SECRET_KEY": "test-secret",
                        "LOCATE_FAST_PATH": False})
    assert fast_path_of(demo_app) is not None and fast_path_of(plain) is None
    rng = random.Random(5)
    # Grid corners (edge ties, cadres of several grids), random points in and around the district.
    points = [tuple(r) for r in demo_session.execute(text(
        "SELECT ST_X(d.geom), ST_Y(d.geom) FROM grids g, ST_DumpPoints(g.geom) d ORDER BY md5(g.code) LIMIT 40"))]
    x0, y0, x1, y1 = demo_session.execute(text(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM grids) s")).one()
    points += [(rng.uniform(x0 - 0.01, x1 + 0.01), rng.uniform(y0 - 0.01, y1 + 0.01)) for _ in range(80)]
    try:
        plain_client = plain.test_client()
        statuses = set()
        for i, (lon, lat) in enumerate(points):
            query = {"lon": repr(lon), "lat": repr(lat)}
            if i % 3 == 0:
                query["accuracy_m"] = str(rng.choice([0, 5, 25.5, 300]))
            if i % 4 == 0:
                query["at"] = (dt.datetime.now(UTC) - dt.timedelta(days=rng.randrange(400))).isoformat()
            if i % 5 == 0:
                query["crs"] = rng.choice(["wgs84", "cgcs2000", "EPSG:4326"])
            # A fixed request id: both answers echo it (api/origin.py), so their headers compare.
            headers = {**auth(viewer), "X-Request-Id": f"probe-{len(statuses)}"}
            fast = client.get("/api/v1/locate", query_string=query, headers=headers)
            slow = plain_client.get("/api/v1/locate", query_string=query, headers=headers)
            assert fast.status_code == slow.status_code == 200, slow.get_data(as_text=True)
            assert fast.headers == slow.headers
            assert fast.data == slow.data, query
            statuses.add(fast.json["status"])
        assert {"inside", "edge", "outside", "ambiguous"} <= statuses
        assert calls == []  # every answer came from the fast path
    finally:
        api_db.dispose(plain)


def test_only_the_common_case_takes_the_fast_path(demo_app, demo_session, viewer):
    from gis.core.users import create_user, rotate_token

    client = demo_app.test_client()
    _warm(demo_app, client, viewer)
    calls = _count_flask_calls(demo_app)
    here = "/api/v1/locate?lon=118.0&lat=24.0"

    def via_flask() -> bool:
        went = bool(calls)
        calls.clear()
        return went

    assert client.get(here, headers=auth(viewer)).status_code == 200 and not via_flask()
    # Anything else is Flask's to answer: bad input, no or unknown token, HEAD, a session cookie.
    body = problem(client.get("/api/v1/locate?lat=24", headers=auth(viewer)), 400)
    assert body["parameter"] == "lon" and via_flask()
    assert problem(client.get(here + "&crs=wgs85", headers=auth(viewer)), 400)["parameter"] == "crs"
    assert via_flask()
    problem(client.get(here), 401)
    assert via_flask()
    problem(client.get(here, headers=auth("gg_not-a-token")), 401)
    assert via_flask()
    assert client.head(here, headers=auth(viewer)).status_code == 200 and via_flask()
    client.set_cookie("other", "1")
    assert client.get(here, headers=auth(viewer)).status_code == 200 and via_flask()
    client.delete_cookie("other")
    # A token the process has not cached yet goes through Flask, then (once the process has
    # heard of the new user, whose NOTIFY may arrive after the first answer) the fast path.
    _, planner = create_user(demo_session, "fast-path-planner", "planner")
    demo_session.commit()
    assert client.get(here, headers=auth(planner)).status_code == 200 and via_flask()
    deadline = time.monotonic() + 2
    while True:
        assert client.get(here, headers=auth(planner)).status_code == 200
        if not via_flask():
            break
        assert time.monotonic() < deadline, "a cached token never took the fast path"
    # A revoked token stops working at once: the change is heard, the cached user is never used.
    rotate_token(demo_session, "fast-path")
    demo_session.commit()
    deadline = time.monotonic() + 2
    while client.get(here, headers=auth(viewer)).status_code == 200:
        assert time.monotonic() < deadline, "a revoked token kept working on the fast path"
        time.sleep(0.02)
    problem(client.get(here, headers=auth(viewer)), 401)
    assert via_flask()


def test_debug_mode_and_the_setting_turn_the_fast_path_off(db_url):
    for config in ({"LOCATE_FAST_PATH": False}, {"DEBUG": True}, {}):
        app = create_app({"TESTING": True, "DATABASE_URL": db_url, "SECRET_KEY": "x", **config})
        try:
            assert (fast_path_of(app) is not None) == (config == {})
        finally:
            api_db.dispose(app)


def test_a_request_hook_the_fast_path_would_skip_stops_the_app(db_url):
    from api.locate import bp

    app = create_app({"TESTING": True, "DATABASE_URL": db_url, "SECRET_KEY": "x", "LOCATE_FAST_PATH": False})
    try:
        for registry in (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs,
                         app.url_value_preprocessors):
            for scope in (None, bp.name):  # app-wide, and the locate blueprint's own
                registry[scope].append(lambda *args: None)
                with pytest.raises(RuntimeError, match="LOCATE_FAST_PATH"):
                    LocateFastPath(app, app.wsgi_app)
                registry[scope].clear()
        assert LocateFastPath(app, app.wsgi_app).path == "/api/v1/locate"
    finally:
        api_db.dispose(app)
