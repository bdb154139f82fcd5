"""No route answers 5xx to what a client can send: garbage in every query parameter, id and JSON field."""
from __future__ import annotations

import re

from sqlalchemy import text

from api import db as api_db
from gis.core.users import create_user

# Parameter names used anywhere in the API; a route ignores the ones it does not know.
QUERY_KEYS = ["bbox", "limit", "offset", "datetime", "at", "zoom", "f", "lon", "lat", "crs", "accuracy_m", "area",
              "cadre_type", "status", "category", "since", "until", "grid", "community", "cursor", "q", "period",
              "level", "min_count", "service_code", "start_date", "end_date", "page_size", "snap_m"]
QUERY_VALUES = ["\x00", "x", "1e309"]
BODY_FIELDS = ["lon", "lat", "crs", "accuracy_m", "category", "title", "description", "occurred_at", "contact",
               "role", "grid_code", "cadre_code", "valid_from", "valid_to", "geometry", "to", "note", "reason",
               "deadline", "level", "target", "name", "grids", "password", "code", "community_code", "kind",
               "households", "line", "codes", "edits", "at", "service_code", "changes"]
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
