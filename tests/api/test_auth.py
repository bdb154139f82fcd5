"""Tokens and sessions, the role guard, and that no write route can exist without it."""
from __future__ import annotations

import re

import pytest
from flask import Blueprint, Flask

from api.auth import check_every_write_is_guarded, public, requires
from tests.conftest import auth, live_hub
from webmap import catalog


def test_no_token_is_401_problem(client):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json["status"] == 401 and "Authorization" in response.json["detail"]


def test_unknown_token_is_401(client):
    response = client.get("/api/v1/me", headers=auth("gg_not-a-real-token"))
    assert response.status_code == 401
    assert response.json["title"] == catalog.t("problem.invalid_token")


def test_token_identifies_user_and_grid_scope(client, make_user, session):
    from tests.factories import grid, hierarchy, rect

    _, _, community = hierarchy(session)
    g = grid(session, community, 1, rect(0, 0, 100, 100))
    session.commit()
    token = make_user("worker", grids=[g.code], name="wang")
    response = client.get("/api/v1/me", headers=auth(token))
    assert response.status_code == 200
    assert response.json == {"name": "wang", "display_name": None, "role": "worker", "lang": None,
                             "grids": [g.code], "department_id": None}


def test_wrong_role_is_403(client, make_user):
    token = make_user("planner")
    response = client.post("/api/v1/users", json={"name": "x", "role": "viewer"}, headers=auth(token))
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"
    assert "admin" in response.json["detail"] and "planner" in response.json["detail"]


def test_admin_adds_user_and_new_token_works(client, make_user):
    admin = make_user("admin")
    response = client.post("/api/v1/users", json={"name": "li", "role": "commander"}, headers=auth(admin))
    assert response.status_code == 201
    token = response.json["token"]
    assert client.get("/api/v1/me", headers=auth(token)).json["role"] == "commander"


def test_duplicate_user_is_409(client, make_user):
    admin = make_user("admin")
    client.post("/api/v1/users", json={"name": "li", "role": "viewer"}, headers=auth(admin))
    response = client.post("/api/v1/users", json={"name": "li", "role": "viewer"}, headers=auth(admin))
    assert response.status_code == 409


def test_unknown_grid_scope_is_400(client, make_user):
    admin = make_user("admin")
    response = client.post("/api/v1/users", json={"name": "w", "role": "worker", "grids": ["999999999999999"]},
                           headers=auth(admin))
    assert response.status_code == 400
    assert response.json["codes"] == ["999999999999999"]


def test_token_is_stored_hashed(client, make_user, session):
    from sqlalchemy import select

    from gis.core.models import User

    token = make_user("viewer", name="hashme")
    stored = session.scalar(select(User.token_hash).where(User.name == "hashme"))
    assert token not in stored and re.fullmatch("[0-9a-f]{64}", stored)


def test_login_session_and_csrf(client, make_user):
    admin = make_user("admin", password="correct horse", name="boss")
    assert client.post("/login", data={"name": "boss", "password": "wrong"}).status_code == 401
    response = client.post("/login?next=/api/v1/me", data={"name": "boss", "password": "correct horse"})
    assert response.status_code == 302 and response.headers["Location"] == "/api/v1/me"
    assert client.get("/api/v1/me").json["name"] == "boss"
    # A write from a cookie session without the page's CSRF token is refused …
    denied = client.post("/api/v1/users", json={"name": "n1", "role": "viewer"})
    assert denied.status_code == 403 and denied.json["title"] == catalog.t("problem.csrf_token_missing")
    # … and accepted with it.
    with client.session_transaction() as s:
        csrf = s["csrf"]
    ok = client.post("/api/v1/users", json={"name": "n1", "role": "viewer"}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201
    assert admin  # the token still works alongside the session


def test_cookie_sessions_follow_a_rotated_secret_key(client, make_user, app):
    # The signing serializer is cached per app; a new key must still take effect at once.
    make_user("viewer", password="password1", name="rot")
    client.post("/login", data={"name": "rot", "password": "password1"})
    assert client.get("/api/v1/me").json["name"] == "rot"
    app.secret_key = "rotated-secret"
    assert client.get("/api/v1/me").status_code == 401  # signed with the old key: refused
    app.config["SECRET_KEY_FALLBACKS"] = ["test-secret"]
    assert client.get("/api/v1/me").json["name"] == "rot"  # the old key as a fallback: accepted


def test_a_request_without_cookies_sets_none(client, make_user):
    token = make_user("viewer")
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and "Set-Cookie" not in response.headers


def test_login_never_redirects_off_site(client, make_user):
    make_user("viewer", password="password1", name="v")
    response = client.post("/login?next=//evil.example/", data={"name": "v", "password": "password1"})
    assert response.headers["Location"] == "/map"


def test_every_write_route_of_the_app_is_guarded(app):
    # create_app already refuses unguarded writes; check the rule holds for the real route table.
    for rule in app.url_map.iter_rules():
        if rule.methods & {"POST", "PUT", "PATCH", "DELETE"}:
            view = app.view_functions[rule.endpoint]
            assert hasattr(view, "_gridgov_roles") or getattr(view, "_gridgov_public", False), rule.rule


def test_an_unguarded_write_route_stops_the_app():
    app = Flask(__name__)
    bp = Blueprint("x", __name__)

    @bp.post("/open")
    def open_write():
        return "oops"

    @bp.post("/guarded")
    @requires("planner")
    def guarded_write():
        return "ok"

    @bp.post("/public")
    @public
    def public_write():
        return "ok"

    app.register_blueprint(bp)
    with pytest.raises(RuntimeError, match="/open"):
        check_every_write_is_guarded(app)


def test_revoked_token_stops_working_at_once_despite_the_cache(client, make_user, session, app):
    from gis.core.users import rotate_token

    token = make_user("viewer", name="cached")
    live_hub(app)
    assert client.get("/api/v1/me", headers=auth(token)).status_code == 200
    assert client.get("/api/v1/me", headers=auth(token)).status_code == 200  # now served from the cache
    rotate_token(session, "cached")
    session.commit()
    import time

    deadline = time.monotonic() + 2
    while client.get("/api/v1/me", headers=auth(token)).status_code == 200:
        assert time.monotonic() < deadline, "a revoked token kept working"
        time.sleep(0.02)
    assert client.get("/api/v1/me", headers=auth(token)).status_code == 401


def test_worker_scope_change_is_seen_at_once(client, make_user, session, app):
    import time

    from gis.core.users import get_user, set_user_grids
    from tests.factories import event, grid, hierarchy, rect

    _, _, community = hierarchy(session)
    g1 = grid(session, community, 1, rect(0, 0, 100, 100))
    g2 = grid(session, community, 2, rect(100, 0, 200, 100))
    event(session, g2, 150, 50)
    session.commit()
    token = make_user("worker", grids=[g1.code], name="scoped")
    live_hub(app)

    def visible() -> int:
        return len(client.get("/layers/events.geojson", headers=auth(token)).json["features"])

    assert visible() == 0
    assert visible() == 0  # the scope now comes from the cache
    set_user_grids(session, get_user(session, "scoped"), [g2.code])
    session.commit()
    deadline = time.monotonic() + 2
    while visible() != 1:
        assert time.monotonic() < deadline, "the new scope was not seen"
        time.sleep(0.02)
