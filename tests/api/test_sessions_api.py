"""Issue 17: revoking sessions from the API and the CLI, throttled tokens and api_keys, and the audit of sign-ins."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from gis.core import clock
from gis.core.models import AuditEntry, UserSession
from gis.core.sessions import hash_session_id
from gis.core.users import set_password
from tests.api.test_cli import gridgov
from tests.conftest import auth, problem
from webmap import catalog

PASSWORD = "correct horse"


def signed_in_client(app, make_user, name: str = "li", role: str = "viewer"):
    """A client signed in as a new user `name`."""
    make_user(role, password=PASSWORD, name=name)
    client = app.test_client()
    assert client.post("/login", data={"name": name, "password": PASSWORD}).status_code == 302
    return client


def test_an_admins_sign_out_everywhere_ends_the_users_sessions(app, make_user):
    admin = make_user("admin")
    first, second = signed_in_client(app, make_user), app.test_client()
    second.post("/login", data={"name": "li", "password": PASSWORD})
    answer = app.test_client().post("/api/v1/users/li/signout", headers=auth(admin))
    assert answer.status_code == 200 and answer.json == {"name": "li", "sessions_ended": 2}
    problem(first.get("/api/v1/me"), 401)
    problem(second.get("/api/v1/me"), 401)


def test_only_an_admin_may_sign_others_out(app, make_user):
    viewer = make_user("viewer")
    signed_in_client(app, make_user)
    problem(app.test_client().post("/api/v1/users/li/signout", headers=auth(viewer)), 403)


def test_a_new_password_ends_a_signed_in_session(app, make_user, session):
    client = signed_in_client(app, make_user)
    set_password(session, "li", "a new password")
    session.commit()
    problem(client.get("/api/v1/me"), 401)


def test_a_successful_sign_in_clears_the_accounts_failures(client, make_user):
    make_user("viewer", password=PASSWORD, name="li")
    for _ in range(4):
        client.post("/login", data={"name": "li", "password": "wrong"})
    assert client.post("/login", data={"name": "li", "password": PASSWORD}).status_code == 302
    statuses = [client.post("/login", data={"name": "li", "password": "wrong"}).status_code for _ in range(4)]
    assert statuses == [401] * 4


def test_bad_bearer_tokens_from_one_address_are_answered_429_and_good_tokens_still_work(client, make_user):
    good = make_user("viewer")
    statuses = [client.get("/api/v1/me", headers=auth(f"gg_guess{i}")).status_code for i in range(22)]
    assert statuses[:20] == [401] * 20 and statuses[20:] == [429, 429]
    locked = problem(client.get("/api/v1/me", headers=auth("gg_guess")), 429)
    assert "retry in" in locked["detail"]
    assert int(client.get("/api/v1/me", headers=auth("gg_x")).headers["Retry-After"]) > 0
    assert client.get("/api/v1/me", headers=auth(good)).status_code == 200


def test_bad_open311_api_keys_on_posted_requests_are_throttled(client):
    statuses = [client.post("/open311/v2/requests.json", data={"api_key": f"gg_guess{i}", "service_code": "x"})
                .status_code for i in range(21)]
    assert statuses[:20] == [401] * 20 and statuses[20] == 429


def test_sign_ins_failures_and_sign_outs_are_audited_with_the_address(client, make_user, session):
    make_user("viewer", password=PASSWORD, name="li")
    client.post("/login", data={"name": "li", "password": "wrong"})
    client.post("/login", data={"name": "li", "password": PASSWORD})
    with client.session_transaction() as s:
        csrf = s["csrf"]
    client.post("/logout", data={"csrf_token": csrf})
    rows = session.execute(select(AuditEntry.action, AuditEntry.entity_id, AuditEntry.actor, AuditEntry.address)
                           .where(AuditEntry.entity == "user", AuditEntry.action != "user.create")
                           .order_by(AuditEntry.id)).all()
    assert [tuple(r) for r in rows] == [("login_failed", "li", None, "127.0.0.1"), ("login", "li", "li", "127.0.0.1"),
                                        ("logout", "li", "li", "127.0.0.1")]


def test_the_cli_lists_and_lifts_locks_and_signs_users_out(db_url, app, make_user, session):
    client = signed_in_client(app, make_user)
    for _ in range(5):
        client.post("/login", data={"name": "li", "password": "wrong"})
    problem(client.post("/login", data={"name": "li", "password": PASSWORD}), 429)
    listed = gridgov(db_url, "user", "locks")
    assert listed.returncode == 0 and "user:li\t5\t" in listed.stdout, listed.stderr
    unlocked = gridgov(db_url, "user", "unlock", "li")
    assert unlocked.returncode == 0 and "user:li" in unlocked.stdout, unlocked.stderr
    assert gridgov(db_url, "user", "unlock", "li").returncode == 1  # nothing left to lift
    signed_out = gridgov(db_url, "user", "signout", "li")
    assert signed_out.returncode == 0 and catalog.t("cli.user.signed_out", n=1, name="li") in signed_out.stdout
    problem(client.get("/api/v1/me"), 401)
    actions = set(session.scalars(select(AuditEntry.action).where(AuditEntry.via == "cli")))
    assert actions == {"lock_lifted", "signout_everywhere"}
    assert client.post("/login", data={"name": "li", "password": PASSWORD}).status_code == 302


def test_a_page_session_unused_past_the_idle_timeout_is_signed_out_and_use_restarts_it(app, make_user, session):
    kept, dropped = signed_in_client(app, make_user), app.test_client()
    dropped.post("/login", data={"name": "li", "password": PASSWORD})
    now = clock.now(session)
    for client, idle in ((kept, timedelta(minutes=29)), (dropped, timedelta(minutes=31))):
        with client.session_transaction() as s:
            token_hash = hash_session_id(s["sid"])
        session.execute(update(UserSession).where(UserSession.token_hash == token_hash)
                        .values(last_seen_at=now - idle, created_at=now - idle))
    session.commit()
    assert kept.get("/api/v1/me").status_code == 200  # 29 minutes: alive, and now touched …
    seen = session.scalars(select(UserSession.last_seen_at).order_by(UserSession.last_seen_at.desc())).first()
    assert seen >= now
    problem(dropped.get("/api/v1/me"), 401)  # … 31 minutes: gone
