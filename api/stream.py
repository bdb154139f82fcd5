"""The live map: server-sent events fed by PostgreSQL LISTEN/NOTIFY through the per-process hub (api/hub.py).

A stream subscribes to the hub, which hands it every new or changed event its caller may see (a
worker: only their grids); a reconnecting map first gets what it missed, replayed from the events layer.
"""
from __future__ import annotations

import json
import queue

from flask import Blueprint, Response, current_app, request
from sqlalchemy import text

from api import db
from api.auth import current_user, requires, scoped_grids
from api.hub import hub
from gis.core.errors import AtCapacity, DatabaseUnavailable
from layers.geojson import feature_texts, fetch
from layers.query import LayerQuery
from layers.registry import get_layer

bp = Blueprint("stream", __name__, url_prefix="/api/v1")

HEARTBEAT_S = 15.0
REPLAY_MAX = 200


def _sse(event: str, data: str, event_id=None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {data}\n\n"


@bp.get("/stream/events")
@requires(*get_layer("events").roles)
def event_stream():
    """Server-sent events: `insert`/`update` with an events-layer Feature, `reload` after bulk changes.

    A reconnecting browser sends Last-Event-ID; events reported since then are replayed first.
    """
    user = current_user()
    scope = scoped_grids(user)
    the_hub = hub()
    if not the_hub.listener.wait_listening(5.0):
        raise DatabaseUnavailable("Live updates unavailable",
                                  "The server cannot listen to the database right now; reload in a moment.")
    # Each open stream holds one of the server's threads for as long as the map stays open, so
    # only MAX_STREAMS may be open per process and the other threads stay free for requests
    # (`gridgov serve` runs 64 threads a process and allows 48 streams). A page turned away
    # here polls instead and tries the stream again later (webmap/static/gridgov-map.js).
    sub = the_hub.subscribe(scope, int(current_app.config["MAX_STREAMS"]))
    if sub is None:
        raise AtCapacity("Too many live maps open",
                         "Every live-update slot of this server process is taken; the map refreshes "
                         "by polling and asks again later. An admin can raise GRIDGOV_MAX_STREAMS "
                         "together with the server's threads.")
    try:
        replay, missed = _replay(request.headers.get("Last-Event-ID"), scope)
    except BaseException:
        the_hub.unsubscribe(sub)
        raise

    def generate():
        try:
            yield "retry: 3000\n\n"
            if missed:  # too many to replay: the map reloads the layer, so none is left out
                yield _sse("reload", json.dumps({"reason": f"{missed} events missed", "missed": missed}))
            for event_id, feature in replay:
                yield _sse("insert", feature, event_id)
            while True:
                try:
                    op, event_id, payload = sub.queue.get(timeout=HEARTBEAT_S)
                except queue.Empty:
                    yield ": keep-alive\n\n"
                    continue
                if op == "reload":
                    yield _sse("reload", json.dumps(payload, ensure_ascii=False))
                else:
                    yield _sse(op, payload, event_id)
        finally:
            the_hub.unsubscribe(sub)

    # Not stream_with_context: the request's database session closes now, not when the stream
    # ends hours later, so open maps do not hold pooled connections.
    response = Response(generate(), mimetype="text/event-stream")
    # The slot is given back when the server closes the response, even one whose body never
    # started (a generator that never ran has no `finally` to run).
    response.call_on_close(lambda: the_hub.unsubscribe(sub))
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # let an nginx in front pass events at once
    return response


def _replay(last_id: str | None, scope: list[str] | None) -> tuple[list[tuple[int, str]], int]:
    """The events since `last_id`, or none and their count when over REPLAY_MAX (the map reloads instead)."""
    if not last_id or not last_id.isdigit():
        return [], 0
    spec = get_layer("events")
    q = LayerQuery(spec, scope=None if scope is None else tuple(scope))
    where, params = q.where()
    params = {**params, "last": int(last_id)}
    since = f"FROM {spec.source} AS t WHERE {where} AND t.id > :last"
    ids = db.session().execute(text(f"SELECT t.id {since} ORDER BY t.id LIMIT {REPLAY_MAX + 1}"),
                               params).scalars().all()
    if len(ids) > REPLAY_MAX:
        return [], db.session().execute(text(f"SELECT count(*) {since}"), params).scalar()
    rows = fetch(db.session(), q, ids=list(ids))
    return list(zip((r[0] for r in rows), feature_texts(spec, rows))), 0
