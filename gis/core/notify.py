"""PostgreSQL LISTEN/NOTIFY: one background connection per process that hears data changes.

The migration 0005 adds statement-level triggers: `gridgov_layers` carries the name of a table
that changed (for tile caches); `gridgov_events` carries {"op", "ids"} of inserted or updated
events, or {"op", "count", "reload": true} for bulk statements (for the live map). Because the
database sends them, every server process (every gunicorn worker) hears every change.
"""
from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable

import psycopg

log = logging.getLogger(__name__)

LAYERS_CHANNEL = "gridgov_layers"
EVENTS_CHANNEL = "gridgov_events"
CHANNELS = (LAYERS_CHANNEL, EVENTS_CHANNEL)
CLOCK_CHANGED = "district_clock"  # on LAYERS_CHANNEL: the district's time zone setting changed (migration 0009)


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


class Listener:
    """A daemon thread that LISTENs on `channels` and hands each notification to `on_notify`.

    `on_connect(True/False)` is called when listening starts or the connection is lost; callers
    use it to know whether they can trust what they cache. It reconnects with backoff, and gives
    up only when the database no longer exists (a dropped test database) or `stop()` is called.
    """

    def __init__(self, url: str, on_notify: Callable[[str, dict | str], None],
                 on_connect: Callable[[bool], None] = lambda up: None, channels: tuple[str, ...] = CHANNELS):
        self.url, self.channels = _libpq(url), channels
        self.on_notify, self.on_connect = on_notify, on_connect
        self.listening = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the thread once; later calls do nothing."""
        if self._thread is not None:  # every request asks: no lock once started
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="gridgov-listener", daemon=True)
                self._thread.start()

    def wait_listening(self, timeout: float = 5.0) -> bool:
        """Block until LISTEN is in place (True) or `timeout` passes (False)."""
        self.start()
        return self.listening.wait(timeout)

    def stop(self) -> None:
        """Ask the thread to end (it notices within a second)."""
        self._stop.set()

    def _run(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            connected = False
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=3) as conn:
                    for channel in self.channels:
                        conn.execute(f"LISTEN {channel}")
                    # Callbacks first: once `listening` is set, whatever on_connect turns on (the
                    # caches that follow table changes) is on.
                    connected = True
                    self.on_connect(True)
                    self.listening.set()
                    delay = 0.5
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            self._dispatch(note.channel, note.payload)
            except psycopg.OperationalError as exc:
                if "does not exist" in str(exc):
                    log.info("listener stops: %s", str(exc).strip().splitlines()[0])
                    return
                log.warning("listener lost the database (%s); retrying in %.1fs", str(exc).strip()[:120], delay)
            except Exception:  # never let the thread die silently: log and reconnect
                log.exception("listener failed; reconnecting")
            finally:
                self.listening.clear()
                if connected:
                    self.on_connect(False)
            self._stop.wait(delay)
            delay = min(delay * 2, 10.0)

    def _dispatch(self, channel: str, payload: str) -> None:
        try:
            data = json.loads(payload) if payload.startswith("{") else payload
        except ValueError:
            data = payload
        try:
            self.on_notify(channel, data)
        except Exception:
            log.exception("handling a %s notification failed", channel)

