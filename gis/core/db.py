"""Engine and session factory; which database to use; the PostGIS version check."""
from __future__ import annotations

import os
from collections.abc import Mapping

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from gis.core.clock import apply_district_zone
from gis.core.errors import DatabaseUnavailable, SetupRequired
from gis.core.pgcluster import Cluster

MIN_POSTGIS = (3, 3)


def normalise_url(url: str) -> str:
    """Make a libpq-style URL use the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def libpq_url(url: str) -> str:
    """The same URL in libpq's form (postgresql://…), as psql, pg_dump and psycopg.connect take it."""
    return "postgresql://" + url[len("postgresql+psycopg://"):] if url.startswith("postgresql+psycopg://") else url


def resolve_database_url(env: Mapping[str, str] | None = None) -> str:
    """DATABASE_URL when set, else the embedded cluster under var/pg."""
    env = os.environ if env is None else env
    url = env.get("DATABASE_URL") or env.get("GRIDGOV_DATABASE_URL")
    if url:
        return normalise_url(url)
    return Cluster().url()


def make_engine(url: str, **kwargs) -> Engine:
    """An engine with short connect timeouts (a dead database answers quickly), JIT off, and every
    connection in the district's time zone (gis.core.clock)."""
    # PostgreSQL's JIT judges PostGIS statements by their large cost estimates and spends
    # 10 ms (a tile) to seconds (coverage, bulk assignment) compiling expressions it cannot
    # speed up: the time is inside PostGIS functions. Measured on every hot path; off for all.
    options = {"pool_pre_ping": True, "connect_args": {"connect_timeout": 3, "options": "-c jit=off"}}
    options.update(kwargs)
    engine = create_engine(normalise_url(url), **options)
    event.listen(engine, "connect", lambda dbapi_connection, _record: apply_district_zone(dbapi_connection))
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def postgis_version(engine: Engine) -> str:
    """The PostGIS library version of the database, e.g. '3.3.2'."""
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT postgis_lib_version()")).scalar_one()
    except DBAPIError as exc:
        if "postgis_lib_version" in str(exc):
            raise SetupRequired(
                "PostGIS is not enabled in this database",
                "Run `CREATE EXTENSION postgis;` in it (needs the postgresql-NN-postgis-3 package), "
                "then `gridgov db migrate`.",
            ) from exc
        raise DatabaseUnavailable("Cannot reach the database", _first_line(exc)) from exc


def check_postgis(engine: Engine) -> str:
    """Fail with a clear message unless the database has PostGIS >= 3.3."""
    version = postgis_version(engine)
    parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    if parts < MIN_POSTGIS:
        raise SetupRequired(
            f"PostGIS {version} is too old",
            f"gridgov needs PostGIS >= {MIN_POSTGIS[0]}.{MIN_POSTGIS[1]}; upgrade the extension "
            "or point DATABASE_URL at a newer server.",
        )
    return version


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", exc)
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
