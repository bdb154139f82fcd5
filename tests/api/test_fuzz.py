"""No route answers 5xx to what a client can send: garbage in every query parameter, id and JSON field."""
from __future__ import annotations

import re

from sqlalchemy import text

from api import db as api_db
from gis.core.users import create_user

# Parameter names used anywhere in the API; a route ignores the ones it does not know.
QUERY_KEYS = ["bbox", "limit", "offset", "datetime", "at", "zoom", "f", "lon", "lat", "crs", "accuracy_m", "area",
              "cadre_type", "status", "category", "since", "until", "grid", "community", "cursor", "q", "period",
              "level", "min_count", "service_code", "start_date", "end_date", "page_size", "snap_m",
              "actor", "entity", "action"]
QUERY_VALUES = ["\x00", "x", "1e309"]
BODY_FIELDS = ["lon", "lat", "crs", "accuracy_m", "category", "title", "description", "occurred_at", "contact",
               "role", "grid_code", "cadre_code", "valid_from", "valid_to", "geometry", "to", "note", "reason",
               "deadline", "level", "target", "name", "grids", "password", "code", "community_code", "kind",
               "households", "line", "codes", "edits", "at", "service_code", "changes", "lang"]
BODY_VALUES = ["\x00", [], 2**70]


def _paths(app, ids: dict[str, str]):
    """Every route with its methods, path variables filled with real ids, garbage and out-of-range ids."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("static", "stream.event_stream"):
            continue
        methods = sorted(m for m in rule.methods if m in ("GET", "POST", "PUT", "PATCH", "DELETE"))
        variants = {rule.rule}
        if rule.arguments:
            real = rule.rule
            for name, value in ids.items():
                real = re.sub(rf"<[^>]*{name}>", value, real)
            variants = {real, re.sub(r"<[^>]+>", "x", rule.rule), re.sub(r"<[^>]+>", "99999999999999999999", rule.rule)}
        for path in variants:
            yield re.sub(r"<[^>]+>", "x", path), methods


def test_no_route_answers_5xx_to_garbage(demo_app):
    app = demo_app
    with app.app_context():
        session = api_db.session()
        _, token = create_user(session, "fuzz-admin", "admin")
        session.commit()
        ids = {"event_id": str(session.scalar(text("SELECT max(id) FROM events"))),
               "request_id": str(session.scalar(text("SELECT max(id) FROM events"))),
               "contract_id": str(session.scalar(text("SELECT min(id) FROM contracts"))),
               "code": session.scalar(text("SELECT min(code) FROM grids WHERE valid_to IS NULL"))}
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}", "If-Match": "*"}
    failures, sent = [], 0
    for path, methods in _paths(app, ids):
        for method in methods:
            if method == "GET":
                tries = [{"query_string": {k: v}} for k in QUERY_KEYS for v in QUERY_VALUES]
            else:
                tries = [{"data": body, "content_type": "application/json"} for body in ("[]", "{", "null")]
                if path != "/login":  # each login try hashes a password on purpose (130 ms)
                    tries += [{"json": {k: v}} for k in BODY_FIELDS for v in BODY_VALUES]
            for kwargs in tries:
                response = client.open(path, method=method, headers=headers, **kwargs)
                sent += 1
                if response.status_code >= 500 and response.status_code != 503:
                    failures.append((method, path, kwargs, response.status_code))
    assert sent > 3000
    assert failures == [], f"{len(failures)} of {sent} answered 5xx, e.g. {failures[:5]}"


# -- issue 17: bodies no parser should be trusted with ----------------------------------------
DEEP = b"[" * 100_000 + b"]" * 100_000
BAD_BODIES: list[tuple[bytes, str]] = [
    (DEEP, "application/json"),
    (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "application/json"),
    (DEEP, "application/geo+json"),
    (b'{"lon": 1e400, "lat": -1e400, "value": 1e400}', "application/json"),
    (b'{"lon": ' + b"9" * 5000 + b', "value": ' + b"9" * 5000 + b"}", "application/json"),
    (b'{"lon": NaN, "lat": Infinity, "value": -Infinity}', "application/json"),
    (b'{"value": 1, "value": 2, "move": "a", "move": "b"}', "application/json"),
    (b'"just a string"', "application/json"),
    (b"12345", "application/json"),
    (b'[{"type": "Feature"}]', "application/json"),
    (b"", "application/json"),
    (b"   ", "application/json"),
    (b'{"name": "\xff\xfe\xfd"}', "application/json"),
    (b"\xef\xbb\xbf{}", "application/json"),
    (b'{"value": "x"}', "text/plain"),
    (b"<xml/>", "application/xml"),
    (b"\x00\x01\x02", "application/octet-stream"),
    (b"a=1&b=%ff", "application/x-www-form-urlencoded"),
    # Issue 18: multipart as photo uploads send it, broken every way a client manages.
    (b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\nnot an image\r\n--x--\r\n',
     "multipart/form-data; boundary=x"),
    (b'--x\r\nContent-Disposition: form-data; name="media"; filename="a.jpg"\r\n\r\n\xff\xd8\xff\xe0',
     "multipart/form-data; boundary=x"),
    (b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n\x89PNG\r\n\x1a\n\r\n--x--\r\n',
     "multipart/form-data; boundary=x"),
    (b"--x\r\n\r\n--x--", "multipart/form-data; boundary=x"),
    (b"no boundary", "multipart/form-data"),
]
# A string (or a number) where an object or list is expected, for every field a route reads.
WRONG_TYPES = ["x", 1, {"type": "x"}, [[[]]], True]


def test_no_body_route_answers_5xx_to_bad_bodies(demo_app):
    app = demo_app
    with app.app_context():
        session = api_db.session()
        _, token = create_user(session, "fuzz-body-admin", "admin")
        session.commit()
        ids = {"event_id": str(session.scalar(text("SELECT max(id) FROM events"))),
               "contract_id": str(session.scalar(text("SELECT min(id) FROM contracts"))),
               "key": "timezone", "code": session.scalar(text("SELECT min(code) FROM grids WHERE valid_to IS NULL"))}
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}", "If-Match": "*"}
    routes = [(path, m) for path, methods in _paths(app, ids) for m in methods if m != "GET" and path != "/login"]
    failures, sent = [], 0
    for path, method in routes:
        tries = [{"data": data, "content_type": ctype} for data, ctype in BAD_BODIES]
        tries += [{"json": {k: v}} for k in BODY_FIELDS + ["value", "api_key"] for v in WRONG_TYPES]
        for kwargs in tries:
            response = client.open(path, method=method, headers=headers, **kwargs)
            sent += 1
            if response.status_code >= 500 and response.status_code != 503:
                failures.append((method, path, str(kwargs)[:80], response.status_code))
    assert len({path for path, _ in routes}) >= 12
    assert failures == [], f"{len(failures)} of {sent} answered 5xx, e.g. {failures[:5]}"
