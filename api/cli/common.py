"""What the `gridgov` commands share: the database they work on, and sessions on it."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from gis.core.db import make_engine, resolve_database_url, session_factory
from gis.core.errors import SetupRequired


def embedded() -> bool:
    """Whether the commands use the embedded PostGIS in var/pg (neither DATABASE_URL nor GRIDGOV_DATABASE_URL set)."""
    return not (os.environ.get("DATABASE_URL") or os.environ.get("GRIDGOV_DATABASE_URL"))


def engine() -> Engine:
    """An engine on the database in use: DATABASE_URL, or the embedded cluster."""
    return make_engine(resolve_database_url())


@contextmanager
def new_session() -> Iterator[Session]:
    """A session on an engine of its own, disposed of afterwards."""
    bind = engine()
    try:
        with session_factory(bind)() as opened:
            yield opened
    finally:
        bind.dispose()


def workflow_session(bind: Engine | None = None) -> Session:
    """A session (on `bind`, or a new engine) on a database that has the workflow schema; SetupRequired if not."""
    opened = session_factory(bind or engine())()
    if opened.execute(text("SELECT to_regclass('workflow_settings')")).scalar() is None:
        opened.close()
        raise SetupRequired("The database has no workflow schema", "Run `gridgov db migrate` first.")
    return opened
