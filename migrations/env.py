"""Alembic environment: migrates DATABASE_URL, the embedded cluster, or a connection handed in."""
from alembic import context
from geoalchemy2 import alembic_helpers

from gis.core.db import make_engine, resolve_database_url
from gis.core.models import Base

config = context.config
target_metadata = Base.metadata


def _include_object(obj, name, type_, reflected, compare_to):
    # PostGIS owns spatial_ref_sys and its topology/tiger schemas; they are not ours to diff.
    if type_ == "table" and name in {"spatial_ref_sys"}:
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)


def run_migrations_online() -> None:
    """Run migrations on a connection (given by the caller, or made from the configured URL)."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or resolve_database_url()
    engine = make_engine(url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=_include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("gridgov migrations run online only (they need PostGIS functions).")
run_migrations_online()
