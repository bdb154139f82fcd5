"""`gridgov db …`: the embedded PostGIS (up, down, status, psql) or DATABASE_URL, and migrations."""
from __future__ import annotations

import os
import shutil
import sys

import click
from alembic import command

from api.cli.common import embedded, engine
from api.cli.schema import alembic_config, current_revision
from gis.core.db import check_postgis, libpq_url, resolve_database_url
from gis.core.pgcluster import Cluster
from webmap.catalog import say


def cluster_line(status) -> str:
    """The embedded cluster's state as the command line says it."""
    if not status.initialised:
        return say("cli.db.no_cluster", dir=status.datadir)
    state = say("cli.db.running", pid=status.pid, port=status.port) if status.running else say("cli.db.stopped_state")
    return say("cli.db.cluster", dir=status.datadir, state=state)


@click.group()
def db() -> None:
    """The database: the embedded PostGIS under var/pg, or DATABASE_URL when set."""


@db.command("up")
def db_up() -> None:
    """Start the embedded PostGIS (creating it on first use); with DATABASE_URL, check it."""
    if embedded():
        status = Cluster().up()
        click.echo(cluster_line(status))
    version = check_postgis(engine())
    click.echo(say("cli.db.ready", version=version))


@db.command("down")
def db_down() -> None:
    """Stop the embedded PostGIS cleanly."""
    if not embedded():
        raise click.ClickException(say("cli.db.not_ours"))
    Cluster().down()
    click.echo(say("cli.db.stopped"))


@db.command("status")
def db_status() -> None:
    """Say whether the database is up."""
    if embedded():
        status = Cluster().status()
        click.echo(cluster_line(status))
        if not status.running:
            sys.exit(3)
    else:
        click.echo(say("cli.db.external", version=check_postgis(engine())))


@db.command("url")
@click.option("--sqlalchemy", "driver_form", is_flag=True,
              help="SQLAlchemy's form with the driver (postgresql+psycopg://…) instead of libpq's.")
def db_url(driver_form: bool) -> None:
    """Print the database URL in use, in libpq's form for psql and pg_dump (--sqlalchemy: with the driver)."""
    url = resolve_database_url()
    click.echo(url if driver_form else libpq_url(url))


@db.command("psql", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def db_psql(args: tuple[str, ...]) -> None:
    """Open psql on the database (extra arguments go to psql)."""
    url = libpq_url(resolve_database_url())
    psql = shutil.which("psql")
    if not psql:
        raise click.ClickException(say("cli.db.no_psql"))
    os.execv(psql, [psql, url, *args])


@db.command("migrate")
@click.argument("revision", default="head")
def db_migrate(revision: str) -> None:
    """Bring the database to the head schema revision (or up to REVISION)."""
    check_postgis(engine())
    command.upgrade(alembic_config(resolve_database_url()), revision)
    click.echo(say("cli.db.schema_at", revision=current_revision() or "base"))


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Step the schema back to REVISION ('base' drops every gridgov table)."""
    command.downgrade(alembic_config(resolve_database_url()), revision)
    click.echo(say("cli.db.schema_at", revision=current_revision() or "base"))
