"""The live map: server-sent events fed by PostgreSQL LISTEN/NOTIFY, and the per-process hub.

One hub per server process listens to the database (gis/core/notify.py). `gridgov_layers` bumps the
tile cache's generations; `gridgov_events` loads the new or changed events once, through the
events layer of the registry (so the stream exposes exactly what the layer exposes), and hands
them to every open stream whose caller may see them (a worker: only their grids).
"""
from __future__ import annotations

import json
import logging
import queue
import threading
import weakref

from flask import Blueprint, Response, current_app, request
from sqlalchemy import text

from api import db
from api.auth import current_user, requires, scoped_grids
from gis.core.db import session_factory
from gis.core.errors import AtCapacity, DatabaseUnavailable
from gis.core.notify import CLOCK_CHANGED, EVENTS_CHANNEL, LAYERS_CHANNEL, Listener
from layers.cache import Generations, Memo, TileCache
from layers.geojson import fetch, feature_texts
from layers.query import LayerQuery
from layers.registry import get_layer

log = logging.getLogger(__name__)
bp = Blueprint("stream", __name__, url_prefix="/api/v1")

HEARTBEAT_S = 15.0
REPLAY_MAX = 200


class Subscriber:
    """One open stream: a bounded queue and the grid codes its caller is limited to."""

    def __init__(self, scope: list[str] | None):
        self.scope = None if scope is None else set(scope)
        self.queue: queue.Queue = queue.Queue(maxsize=500)

    def offer(self, item: tuple) -> None:
        """Queue an item; a stream too slow to keep up is told to reload instead."""
        try:
            self.queue.put_nowait(item)
        except queue.Full:
            with self.queue.mutex:
                self.queue.queue.clear()
            self.queue.put_nowait(("reload", None, {"reason": "too many changes"}))


class Hub:
    """Per-process: the listener, the tile cache with its generations, and the open streams."""

    def __init__(self, url: str, engine, cache_bytes: int, pools: tuple = ()):
        self.pools = pools  # the process's engines, dropped when the database goes away
        self.generations = Generations()
        self.tiles = TileCache(cache_bytes)
        self.memo = Memo(self.generations)
        self._sessions = session_factory(engine)
        self._subscribers: set[Subscriber] = set()
        self._lock = threading.Lock()
        me = weakref.ref(self)
        # The listener thread refers to the hub weakly, so a discarded app's hub can be collected.
        self.listener = Listener(url, lambda ch, data: (h := me()) and h._on_notify(ch, data),
                                 lambda up: (h := me()) and h._on_connect(up))
        # When the app (and so this hub) is gone, its listener stops too.
        weakref.finalize(self, self.listener.stop)

    def _on_connect(self, up: bool) -> None:
        self.generations.live = up
        self.generations.bump_all()
        if up:
            self._broadcast(("reload", None, {"reason": "reconnected"}), None)
        else:
            # The database went away (a restart, a failover), and every connection this process
            # pools went with it. Forget them now, so the requests after it connect afresh instead
            # of each meeting a dead connection first and answering 503.
            for pool in self.pools:
                pool.dispose(close=False)

    def _on_notify(self, channel: str, data) -> None:
        if channel == LAYERS_CHANNEL and data == CLOCK_CHANGED:
            # The district's time zone changed: pooled connections run in the old one, and cached
            # tiles and answers carry times in it. New connections take the new zone (gis.core.clock).
            for pool in self.pools:
                pool.dispose(close=False)
            self.generations.bump_all()
        elif channel == LAYERS_CHANNEL:
            self.generations.bump(str(data))
        elif channel == EVENTS_CHANNEL and isinstance(data, dict):
            if data.get("reload") or not data.get("ids"):
                self._broadcast(("reload", None, {"reason": f"{data.get('count')} events changed"}), None)
                return
            spec = get_layer("events")
            with self._sessions() as session:
                rows = fetch(session, LayerQuery(spec), ids=data["ids"])
            code_at = 2 + list(spec.properties).index("grid_code")
            for row, feature in zip(rows, feature_texts(spec, rows)):
                self._broadcast((data.get("op", "insert"), row[0], feature), row[code_at])

    def _broadcast(self, item: tuple, grid_code: str | None) -> None:
        with self._lock:
            targets = list(self._subscribers)
        for sub in targets:
            if item[0] == "reload" or sub.scope is None or grid_code in sub.scope:
                sub.offer(item)

    def subscribe(self, scope: list[str] | None, limit: int) -> Subscriber | None:
        """A new stream's subscription, or None when `limit` streams are open in this process already."""
        sub = Subscriber(scope)
        with self._lock:
            if len(self._subscribers) >= limit:
                return None
            self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        """Forget a closed stream."""
        with self._lock:
            self._subscribers.discard(sub)


_hub_lock = threading.Lock()


def hub() -> Hub:
    """This process's hub for the current app (created, and its listener started, on first use)."""
    ext = current_app.extensions
    found = ext.get("gridgov.hub")
    if found is None:
        with _hub_lock:
            found = ext.get("gridgov.hub")
            if found is None:
                found = Hub(current_app.config["DATABASE_URL"], db.engine(),
                            int(current_app.config.get("TILE_CACHE_BYTES", 64 * 1024 * 1024)),
                            tuple(db.engines(current_app)))
                ext["gridgov.hub"] = found
    found.listener.start()
    return found


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
    ids = db.session().execute(text(f"SELECT t.id {since} ORDER BY t.id LIMIT {REPLAY_MAX + 1}"), params).scalars().all()
    if len(ids) > REPLAY_MAX:
        return [], db.session().execute(text(f"SELECT count(*) {since}"), params).scalar()
    rows = fetch(db.session(), q, ids=list(ids))
    return list(zip((r[0] for r in rows), feature_texts(spec, rows))), 0
