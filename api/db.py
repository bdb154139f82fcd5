"""One database session per request, opened on first use and closed at teardown."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app, g
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from gis.core.db import make_engine, session_factory
from gis.core.errors import DatabaseUnavailable

EXT = "gridgov"


def init_app(app: Flask, url: str | None, pool_timeout_s: float = 10.0) -> None:
    """Attach an engine (created lazily by SQLAlchemy: no connection is made here)."""
    # Pools as large as the requests a process serves at once: a connection beyond pool_size is
    # opened for one request and closed after it (a new PostgreSQL backend, and locate's plan made
    # again), which cut locate's throughput by a quarter when the read pool kept only 2.
    # A request that cannot get a connection within pool_timeout_s answers 503 with Retry-After
    # (api/errors.py) rather than queueing for SQLAlchemy's default 30 s.
    engine = make_engine(url, pool_size=8, max_overflow=12, pool_pre_ping=False,
                         pool_timeout=pool_timeout_s) if url else None
    reader = None
    if url:
        # The hottest read (locate) is one prepared statement whose planning costs several
        # times its run and whose generic plan is as good as a custom one. Its own pool runs in
        # autocommit (no BEGIN/COMMIT round trips around one consistent snapshot) with generic
        # plans forced, so a request is exactly one round trip. Requests use a Core connection:
        # an ORM session around one statement cost 25 µs of CPU per request, more than the
        # statement's own client side.
        # Nothing to reset when a connection comes back: autocommit leaves no transaction open.
        reader = make_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=False, pool_reset_on_return=None,
                             pool_timeout=pool_timeout_s,
                             isolation_level="AUTOCOMMIT", execution_options={"generic_plans": True},
                             connect_args={"connect_timeout": 3,
                                           "options": "-c jit=off -c plan_cache_mode=force_generic_plan"})
    app.extensions[EXT] = {"engine": engine, "sessions": session_factory(engine) if engine else None,
                           "reader": reader}

    @app.teardown_appcontext
    def _close(exc: BaseException | None) -> None:
        for key in ("db_session", "db_reader"):
            session = g.pop(key, None)
            if session is not None:
                if exc is not None:
                    session.rollback()
                session.close()


def engines(app: Flask) -> list[Engine]:
    """The app's connection pools: the main engine and locate's read pool (none without a database)."""
    return [app.extensions[EXT][key] for key in ("engine", "reader") if app.extensions[EXT][key] is not None]


def dispose(app: Flask) -> None:
    """Close every pooled connection of the app (tests, before dropping their database)."""
    for pool in engines(app):
        pool.dispose()


def engine() -> Engine:
    """The app's engine, or DatabaseUnavailable when no database is configured."""
    ext = current_app.extensions[EXT]
    if ext["engine"] is None:
        raise DatabaseUnavailable("No database configured",
                                  "Set DATABASE_URL, or run `gridgov db up` for the embedded PostGIS.")
    return ext["engine"]


def session() -> Session:
    """This request's session; routes commit it themselves when they write."""
    if "db_session" not in g:
        engine()
        g.db_session = current_app.extensions[EXT]["sessions"]()
    return g.db_session


def end_read(session: Session) -> None:
    """End a read-only transaction with COMMIT, not ROLLBACK: psycopg forgets every prepared
    statement of the connection on ROLLBACK (what closing an open session does), and locate's
    prepared plan is worth keeping — planning it costs several times what running it does."""
    session.commit()


def reader() -> Connection:
    """An autocommit connection for a route whose answer is one read-only statement."""
    if "db_reader" not in g:
        engine()
        g.db_reader = current_app.extensions[EXT]["reader"].connect()
    return g.db_reader


@contextmanager
def separate() -> Iterator[Session]:
    """A session of its own, committed at the end of the block: for what must stay when the request fails."""
    engine()
    with current_app.extensions[EXT]["sessions"]() as own:
        yield own
        own.commit()
