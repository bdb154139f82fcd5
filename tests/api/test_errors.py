"""Every error is application/problem+json with status, title and what to fix; a dead database is 503."""
from __future__ import annotations

from api import create_app
from api import db as api_db
from tests.conftest import auth, problem
from webmap import catalog


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["status"] == "ok" and response.json["postgis"] >= "3.3"


def test_healthz_when_database_is_down_is_503():
    # A port nobody listens on: the database is "down".
    from gis.core.pgcluster import free_port

    port = free_port()
    app = create_app({"TESTING": True, "SECRET_KEY": "x",
                      "DATABASE_URL": f"postgresql+psycopg://nobody:pw@127.0.0.1:{port}/nothing"})
    body = problem(app.test_client().get("/healthz"), 503)
    assert body["title"] == catalog.t(body["code"]) and "database" in catalog.t(body["code"], "en").lower()


def test_unknown_route_is_404_problem(client):
    problem(client.get("/no/such/thing"), 404)


def test_wrong_method_is_405_problem(client):
    body = problem(client.delete("/healthz"), 405)
    assert "GET" in body["detail"]


def test_malformed_json_is_400(client, make_user):
    token = make_user("admin")
    body = problem(client.post("/api/v1/users", data="{not json", content_type="application/json",
                                   headers=auth(token)), 400)
    assert body["title"] == catalog.t("problem.malformed_json")


def test_non_json_body_is_400(client, make_user):
    token = make_user("admin")
    problem(client.post("/api/v1/users", data="name=x", headers=auth(token)), 400)


def test_too_large_body_is_413(client, make_user):
    token = make_user("admin")
    big = b"{" + b" " * (3 * 1024 * 1024) + b"}"
    body = problem(client.post("/api/v1/users", data=big, content_type="application/json",
                                   headers=auth(token)), 413)
    assert "bytes" in body["detail"]


def test_unexpected_exception_is_500_problem_without_traceback(db_url):
    app = create_app({"TESTING": False, "SECRET_KEY": "x", "DATABASE_URL": db_url})

    @app.get("/boom")
    def boom():
        raise ZeroDivisionError("secret internals")

    response = app.test_client().get("/boom")
    body = problem(response, 500)
    assert "secret internals" not in response.get_data(as_text=True)
    assert "Traceback" not in body["detail"]
    api_db.dispose(app)


def test_values_the_database_cannot_hold_are_400_not_500(client, make_user):
    # A NUL character (PostgreSQL text cannot hold one) in a filter, a path, a JSON field.
    token = make_user("admin")
    for path in ("/api/v1/events?category=%00", "/api/v1/coverage?area=%00", "/api/v1/grids?community=%00",
                 "/open311/v2/requests.json?service_code=%00"):
        body = problem(client.get(path, headers=auth(token)), 400)
        assert "NUL" in body["detail"], path
    body = problem(client.post("/api/v1/events", headers=auth(token), json={
        "lon": 121.47, "lat": 31.23, "category": "11001", "title": "bad\u0000title"}), 400)
    assert "NUL" in body["detail"]


def test_ids_beyond_the_column_range_are_404(client, make_user):
    token = make_user("admin")
    for path in ("/api/v1/contracts/110101001001001", "/api/v1/grid-edits/9999999999",
                 "/api/v1/events/99999999999999999999"):
        problem(client.get(path, headers=auth(token)), 404)


def test_users_api_refuses_fields_of_the_wrong_type(client, make_user):
    token = make_user("admin")
    for body in ({"name": -1, "role": "viewer"}, {"name": "n1", "role": ["admin"]},
                 {"name": "n2", "role": "worker", "grids": -1}, {"name": "n3", "role": "worker", "grids": [1]},
                 {"name": "n4", "role": "viewer", "password": 123}):
        problem(client.post("/api/v1/users", headers=auth(token), json=body), 400)


def test_locate_recovers_after_the_server_drops_every_connection(client, make_user, db_url):
    # Locate runs on the driver connection directly; when the server ends every backend (a
    # restart), the request that meets a dead connection says 503 and the next ones reconnect,
    # rather than failing with 500 on each stale pooled connection in turn.
    import psycopg

    from tests.conftest import _libpq

    headers = auth(make_user("viewer"))
    path = "/api/v1/locate?lon=118.1&lat=24.5"
    assert [client.get(path, headers=headers).status_code for _ in range(3)] == [200] * 3
    with psycopg.connect(_libpq(db_url), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                      " WHERE datname = current_database() AND pid <> pg_backend_pid()")
    statuses = []
    for _ in range(6):
        response = client.get(path, headers=headers)
        statuses.append(response.status_code)
        if response.status_code == 503:
            assert problem(response, 503)["detail"]  # says what happened and to try again
    assert set(statuses) <= {200, 503} and statuses[-3:] == [200] * 3, statuses


def test_after_the_database_drops_every_connection_no_request_meets_a_dead_one(app, client, make_user, db_url):
    # A restart or failover ends every backend. The process's listener hears it at once and the
    # hub drops both pools, so the requests after it connect afresh: none answers 503.
    import time

    import psycopg

    from tests.conftest import _libpq, live_hub

    headers = auth(make_user("commander"))
    paths = ["/api/v1/events?limit=5", "/api/v1/locate?lon=118.1&lat=24.5", "/layers/grids.geojson"]
    the_hub = live_hub(app)
    assert [client.get(path, headers=headers).status_code for path in paths * 2] == [200] * 6  # pools in use
    with psycopg.connect(_libpq(db_url), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                      " WHERE datname = current_database() AND pid <> pg_backend_pid()")
    deadline = time.monotonic() + 5
    while the_hub.generations.live:  # the listener hears the loss …
        assert time.monotonic() < deadline, "the listener never noticed its connection was gone"
        time.sleep(0.005)
    assert the_hub.listener.wait_listening(5)  # … and is back
    assert [client.get(path, headers=headers).status_code for path in paths * 2] == [200] * 6


def test_a_request_that_finds_every_connection_in_use_is_503_with_retry_after(db_url, make_user):
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    def exhaust(engine) -> list:
        held = []
        while True:
            try:
                held.append(engine.connect())
            except PoolTimeout:
                return held

    headers = auth(make_user("commander"))
    app = create_app({"TESTING": True, "DATABASE_URL": db_url, "SECRET_KEY": "x", "DB_POOL_TIMEOUT_S": 0.2})
    client = app.test_client()
    ext = app.extensions[api_db.EXT]
    try:
        for engine, path in ((ext["engine"], "/api/v1/events?limit=5"),
                             (ext["reader"], "/api/v1/locate?lon=118.1&lat=24.5")):
            assert client.get(path, headers=headers).status_code == 200
            held = exhaust(engine)
            response = client.get(path, headers=headers)
            assert problem(response, 503)["title"] == catalog.t("problem.server_busy")
            assert response.headers["Retry-After"] == "5"
            for connection in held:
                connection.close()
            assert client.get(path, headers=headers).status_code == 200
    finally:
        api_db.dispose(app)
