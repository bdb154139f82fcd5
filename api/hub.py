"""The per-process hub: the database listener, the tile cache with its generations, the memo, the open streams.

One hub per server process listens to the database (gis/core/notify.py). `gridgov_layers` bumps the
tile cache's generations (and so the memo's); `gridgov_events` loads the new or changed events once,
through the events layer of the registry (so the stream exposes exactly what the layer exposes),
and hands them to every open stream whose caller may see them (a worker: only their grids).
api/auth.py caches principals in the memo, api/layers.py and api/ogc.py tiles and counts, and
api/stream.py subscribes the live maps: all of them use this module, which uses none of them.
"""
from __future__ import annotations

import queue
import threading
import weakref

from flask import Flask, current_app

from api import db
from gis.core.db import session_factory
from gis.core.notify import CLOCK_CHANGED, EVENTS_CHANNEL, LAYERS_CHANNEL, Listener
from layers.cache import Generations, Memo, TileCache
from layers.geojson import feature_texts, fetch
from layers.query import LayerQuery
from layers.registry import get_layer

EXT = "gridgov.hub"


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
    found = ext.get(EXT)
    if found is None:
        with _hub_lock:
            found = ext.get(EXT)
            if found is None:
                found = Hub(current_app.config["DATABASE_URL"], db.engine(),
                            int(current_app.config.get("TILE_CACHE_BYTES", 64 * 1024 * 1024)),
                            tuple(db.engines(current_app)))
                ext[EXT] = found
    found.listener.start()
    return found


def started_hub(app: Flask) -> Hub | None:
    """The app's hub if a request through Flask has made it already, else None (never makes one)."""
    return app.extensions.get(EXT)
