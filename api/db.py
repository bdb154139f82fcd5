"""One database session per request, opened on first use and closed at teardown."""
from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from gis.db import make_engine, session_factory
from gis.errors import DatabaseUnavailable

EXT = "gridgov"


def init_app(app: Flask, url: str | None) -> None:
    """Attach an engine (created lazily by SQLAlchemy: no connection is made here)."""
    engine = make_engine(url, pool_size=5, max_overflow=10, pool_pre_ping=False) if url else None
    app.extensions[EXT] = {"engine": engine, "sessions": session_factory(engine) if engine else None}

    @app.teardown_appcontext
    def _close(exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()


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
