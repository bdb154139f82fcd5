"""Bodies a JSON parser chokes on are refused with a 400 problem before they are parsed, never a 5xx."""
from __future__ import annotations

from tests.conftest import auth, problem
from webmap import catalog


def _post(client, token, data: bytes, path: str = "/api/v1/grid-edits/validate", **kw):
    return client.post(path, data=data, content_type="application/json", headers=auth(token), **kw)


def test_json_nested_100000_deep_is_a_400_that_names_the_limit(client, make_user):
    token = make_user("planner")
    body = problem(_post(client, token, b"[" * 100_000 + b"]" * 100_000), 400)
    assert body["title"] == catalog.t("problem.json_nested_too_deep") and "64" in body["detail"]


def test_brackets_inside_strings_do_not_count_as_depth(client, make_user):
    token = make_user("planner")
    answer = _post(client, token, b'{"op": "' + b"[{" * 5000 + b'\\"]"}')
    assert answer.status_code < 500 and "嵌套" not in answer.get_data(as_text=True)


def test_the_depth_limit_is_a_setting_of_create_app(db_url, make_user):
    from api import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": db_url, "SECRET_KEY": "x", "MAX_JSON_DEPTH": 3})
    token = make_user("planner")
    body = problem(_post(app.test_client(), token, b'{"a": [[{"b": 1}]]}'), 400)
    assert "3" in body["detail"]


def test_invalid_utf8_is_a_400(client, make_user):
    body = problem(_post(client, make_user("planner"), b'{"op": "\xff\xfe"}'), 400)
    assert "UTF-8" in body["detail"]


def test_nan_and_infinity_literals_are_a_400(client, make_user):
    token = make_user("worker")
    for literal in (b"NaN", b"Infinity", b"-Infinity"):
        body = problem(_post(client, token, b'{"lat": 31, "lon": ' + literal + b'}', path="/api/v1/events"), 400)
        assert "NaN or Infinity" in body["detail"] and body["parameter"] == "lon"


def test_a_key_given_twice_is_a_400(client, make_user):
    body = problem(_post(client, make_user("admin"), b'{"value": 1, "value": 2}',
                         path="/api/v1/workflow/settings/ranking_min_count"), 400)
    assert "value" in body["detail"]


def test_a_body_over_the_size_limit_is_a_413_problem(client, make_user):
    body = problem(_post(client, make_user("planner"), b"[" + b"1," * 1_100_000 + b"1]"), 413)
    assert "bytes" in body["detail"]
