"""Issue 17: sign-in redirects stay on site, logout ends the session, guessing is throttled, cookies are Secure."""
from __future__ import annotations

import pytest

from tests.conftest import problem

PASSWORD = "correct horse"


def sign_in(client, name: str = "boss", next_: str | None = None):
    """POST the login form with the right password."""
    url = "/login" if next_ is None else f"/login?next={next_}"
    return client.post(url, data={"name": name, "password": PASSWORD})


def copy_of(app, client):
    """A second client holding the first one's session cookie (what a thief would copy)."""
    other = app.test_client()
    other.set_cookie("session", client.get_cookie("session").value)
    return other


def csrf_of(client) -> str:
    with client.session_transaction() as s:
        return s["csrf"]


def test_login_never_redirects_to_a_host_smuggled_past_a_tab(client, make_user):
    make_user("viewer", password=PASSWORD, name="boss")
    response = sign_in(client, next_="/%09/evil.example")
    assert response.status_code == 302 and response.headers["Location"] == "/map"


# The usual bypasses of a "starts with one slash" check, as Flask hands them over after decoding the
# query string once; each must fall back to /map.
BYPASSES = [
    "//evil.example", "///evil.example", "/%09/evil.example", "/%0a/evil.example", "/%0d/evil.example",
    "/%00/evil.example", "%20//evil.example", "/%5cevil.example", "%5c%5cevil.example", "/%5c/evil.example",
    "/%252f/evil.example", "/%2f%2fevil.example", "/%252f%252fevil.example", "/%255cevil.example",
    "https://evil.example", "http:evil.example", "javascript:alert(1)", "%2f%2fevil.example",
    "/@evil.example", "/map@evil.example", "evil.example", "map", "", "/%e3%80%82/evil.example",
    "/ /evil.example", "/%7f/evil.example", "/" + "a" * 3000,
]


@pytest.mark.parametrize("target", BYPASSES)
def test_next_outside_the_site_falls_back_to_the_map(client, make_user, target):
    make_user("viewer", password=PASSWORD, name="boss")
    response = sign_in(client, next_=target)
    assert response.status_code == 302 and response.headers["Location"] == "/map", target


@pytest.mark.parametrize("target", ["/map/worker", "/cases/12", "/api/v1/me", "/map?layer=events&z=14",
                                    "/map#grid-310101001001001"])
def test_next_on_the_site_is_followed(client, make_user, target):
    make_user("viewer", password=PASSWORD, name="boss")
    quoted = target.replace("?", "%3F").replace("&", "%26").replace("#", "%23")
    response = sign_in(client, next_=quoted)
    assert response.headers["Location"] == target


def test_a_cookie_copied_before_logout_no_longer_reads_me(app, client, make_user):
    make_user("viewer", password=PASSWORD, name="boss")
    sign_in(client)
    thief = copy_of(app, client)
    assert thief.get("/api/v1/me").json["name"] == "boss"
    assert client.post("/logout", data={"csrf_token": csrf_of(client)}).status_code == 302
    problem(thief.get("/api/v1/me"), 401)


def test_a_cookie_copied_before_logout_no_longer_writes_with_its_csrf_token(app, client, make_user):
    make_user("admin", password=PASSWORD, name="boss")
    sign_in(client)
    thief, csrf = copy_of(app, client), csrf_of(client)
    client.post("/logout", data={"csrf_token": csrf})
    denied = thief.post("/api/v1/users", json={"name": "mole", "role": "admin"}, headers={"X-CSRF-Token": csrf})
    problem(denied, 401)


def test_logout_without_the_pages_csrf_token_is_refused_and_keeps_the_session(client, make_user):
    make_user("viewer", password=PASSWORD, name="boss")
    sign_in(client)
    problem(client.post("/logout"), 403)
    assert client.get("/api/v1/me").json["name"] == "boss"


def test_the_session_cookie_carries_only_a_random_id_stored_hashed(client, make_user, session):
    from sqlalchemy import select

    from gis.core.models import UserSession
    from gis.core.sessions import hash_session_id

    make_user("viewer", password=PASSWORD, name="boss")
    sign_in(client)
    with client.session_transaction() as s:
        sid = s["sid"]
        assert set(s) == {"sid", "csrf"}
    stored = session.scalars(select(UserSession.token_hash)).all()
    assert stored == [hash_session_id(sid)] and sid not in stored[0]


def test_twenty_wrong_passwords_lock_the_account_and_then_the_right_one_waits(client, make_user):
    make_user("viewer", password=PASSWORD, name="boss")
    statuses = [client.post("/login", data={"name": "boss", "password": f"wrong{i}"}).status_code
                for i in range(20)]
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
    locked = problem(sign_in(client), 429)
    assert "boss" in locked["detail"] or "retry" in locked["detail"].lower()
    assert int(sign_in(client).headers["Retry-After"]) > 0
    assert client.get("/api/v1/me").status_code == 401


def test_the_session_cookie_is_secure_over_https(client, make_user):
    make_user("viewer", password=PASSWORD, name="boss")
    response = client.post("/login", data={"name": "boss", "password": PASSWORD}, base_url="https://localhost")
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_the_session_cookie_is_not_secure_over_plain_http(client, make_user):
    make_user("viewer", password=PASSWORD, name="boss")
    assert "Secure" not in sign_in(client).headers["Set-Cookie"]


def test_x_forwarded_proto_is_ignored_without_a_configured_proxy(client, make_user):
    make_user("viewer", password=PASSWORD, name="boss")
    response = client.post("/login", data={"name": "boss", "password": PASSWORD},
                           headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
    assert "Secure" not in response.headers["Set-Cookie"]


@pytest.fixture
def proxied_app(db_url):
    """The app as configured behind one reverse proxy (GRIDGOV_PROXY_COUNT=1)."""
    from api import create_app
    from api import db as api_db

    application = create_app({"TESTING": True, "DATABASE_URL": db_url, "SECRET_KEY": "test-secret",
                              "PROXY_COUNT": 1})
    yield application
    api_db.dispose(application)


def test_behind_a_configured_proxy_the_cookie_is_secure_and_the_address_is_the_clients(proxied_app, make_user,
                                                                                        session):
    from sqlalchemy import select

    from gis.core.models import AuditEntry

    make_user("viewer", password=PASSWORD, name="boss")
    response = proxied_app.test_client().post(
        "/login", data={"name": "boss", "password": PASSWORD},
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
    assert response.status_code == 302 and "Secure" in response.headers["Set-Cookie"]
    assert session.scalar(select(AuditEntry.address).where(AuditEntry.action == "login")) == "203.0.113.9"
