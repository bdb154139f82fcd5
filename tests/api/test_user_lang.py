"""A user's own language: PATCH /api/v1/me and `gridgov user lang` set it, and it beats the browser's."""
from __future__ import annotations

from sqlalchemy import text

from gis.core.models import LANGS
from tests.api.test_cli import gridgov
from tests.conftest import auth, problem
from webmap import catalog


def test_the_models_languages_are_the_catalogs():
    assert LANGS == catalog.LANGS


def test_a_user_sets_their_language_and_problems_follow_it_over_accept_language(client, make_user, session):
    headers = auth(make_user("viewer", name="lang-reader")) | {"Accept-Language": "zh-CN"}
    assert client.get("/api/v1/me", headers=headers).json["lang"] is None
    answer = client.patch("/api/v1/me", headers=headers, json={"lang": "en"})
    assert answer.status_code == 200 and answer.json == {"name": "lang-reader", "lang": "en"}
    assert client.get("/api/v1/me", headers=headers).json["lang"] == "en"
    body = problem(client.get("/api/v1/events/999999", headers=headers), 403)
    assert body["title"] == catalog.t("problem.role_not_allowed", "en")
    row = session.execute(text("SELECT before, after FROM audit_log WHERE action = 'user.lang' AND entity_id = "
                               "'lang-reader'")).one()
    assert row.before == {"lang": None} and row.after == {"lang": "en"}
    assert client.patch("/api/v1/me", headers=headers, json={"lang": None}).json["lang"] is None
    body = problem(client.get("/api/v1/events/999999", headers=headers), 403)
    assert body["title"] == catalog.t("problem.role_not_allowed", "zh")


def test_a_language_we_do_not_speak_is_refused_in_the_callers_language(client, make_user):
    headers = auth(make_user("viewer")) | {"Accept-Language": "en"}
    for sent in ({"lang": "fr"}, {"lang": 1}, {"lang": ["en"]}):
        body = problem(client.patch("/api/v1/me", headers=headers, json=sent), 400)
        assert body["title"] == catalog.t("problem.invalid_param", "en", name="lang") and body["parameter"] == "lang"
    body = problem(client.patch("/api/v1/me", headers=headers, json={}), 400)
    assert body["title"] == catalog.t("problem.missing_param", "en", name="lang")


def test_a_page_session_needs_its_csrf_token_to_change_the_language(client, make_user):
    make_user("viewer", password="correct horse", name="lang-page")
    assert client.post("/login", data={"name": "lang-page", "password": "correct horse"}).status_code == 302
    problem(client.patch("/api/v1/me", json={"lang": "en"}), 403)
    assert client.get("/api/v1/me").json["lang"] is None


def test_gridgov_user_lang_sets_and_clears_the_choice(db_url, session):
    assert gridgov(db_url, "user", "add", "lang-cli", "--role", "viewer").returncode == 0
    done = gridgov(db_url, "user", "lang", "lang-cli", "en")
    assert done.returncode == 0, done.stderr
    assert session.scalar(text("SELECT lang FROM users WHERE name = 'lang-cli'")) == "en"
    assert gridgov(db_url, "user", "lang", "lang-cli", "browser").returncode == 0
    assert session.scalar(text("SELECT lang FROM users WHERE name = 'lang-cli'")) is None
    assert gridgov(db_url, "user", "lang", "lang-cli", "fr").returncode == 2  # click refuses the choice


def test_the_workflows_move_and_status_labels_are_the_catalogs_in_the_callers_language(client, make_user):
    headers = auth(make_user("commander"))
    zh = client.get("/api/v1/workflow", headers=headers).json
    assert zh["moves"]["register"] == catalog.t("move.register")
    assert zh["statuses"]["in_progress"] == catalog.t("status.in_progress")
    en = client.get("/api/v1/workflow", headers=headers | {"Accept-Language": "en"}).json
    assert en["statuses"]["in_progress"] == catalog.t("status.in_progress", "en")


def test_gridgov_speaks_gridgov_lang_chinese_by_default(db_url):
    assert gridgov(db_url, "user", "add", "lang-cli-2", "--role", "viewer").returncode == 0
    zh = gridgov(db_url, "user", "disable", "lang-cli-2")
    assert zh.stdout.strip() == catalog.t("cli.user.disabled", name="lang-cli-2")
    en = gridgov(db_url, "user", "enable", "lang-cli-2", lang="en")
    assert en.stdout.strip() == catalog.t("cli.user.enabled", "en", name="lang-cli-2")
    missing = gridgov(db_url, "user", "disable", "nobody-here", lang="en")
    assert missing.returncode == 1
    assert missing.stderr.splitlines()[0] == catalog.t("cli.error", "en", title=catalog.t("problem.no_such_user", "en"))
    missing = gridgov(db_url, "user", "disable", "nobody-here")
    assert missing.stderr.splitlines()[0] == catalog.t("cli.error", title=catalog.t("problem.no_such_user"))
