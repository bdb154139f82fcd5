"""The `gridgov` command: database, users, serving. Every command honours DATABASE_URL."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from api.listing import listed
from data import LAYER_NAMES
from gis.core.errors import GridgovError


class _Group(click.Group):
    """Turns domain errors into one clear line and exit status 1, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except GridgovError as exc:
            click.echo(f"error: {exc.title}", err=True)
            if exc.detail:
                click.echo(f"  {exc.detail}", err=True)
            for line in listed(exc.extra.get("errors", []), 50, lambda row: f"  - {row}", indent="  ",
                               omitted_before=exc.extra.get("errors_omitted", 0)):
                click.echo(line, err=True)
            sys.exit(1)


@click.group(cls=_Group)
def main() -> None:
    """gridgov — GIS server for grid management (网格化管理)."""


# -- database -------------------------------------------------------------------------------
def _embedded() -> bool:
    return not (os.environ.get("DATABASE_URL") or os.environ.get("GRIDGOV_DATABASE_URL"))


def _engine():
    from gis.core.db import make_engine, resolve_database_url

    return make_engine(resolve_database_url())


def _alembic_config(url: str | None = None):
    from alembic.config import Config

    from gis.core.pgcluster import project_root

    cfg = Config(str(project_root() / "alembic.ini"))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate_to_head(url: str) -> None:
    """Bring the database at `url` to the newest schema revision."""
    from alembic import command

    command.upgrade(_alembic_config(url), "head")


@main.group(cls=_Group)
def db() -> None:
    """The database: the embedded PostGIS under var/pg, or DATABASE_URL when set."""


@db.command("up")
def db_up() -> None:
    """Start the embedded PostGIS (creating it on first use); with DATABASE_URL, check it."""
    from gis.core.db import check_postgis

    if _embedded():
        from gis.core.pgcluster import Cluster

        status = Cluster().up()
        click.echo(status.describe())
    version = check_postgis(_engine())
    click.echo(f"PostGIS {version} ready")


@db.command("down")
def db_down() -> None:
    """Stop the embedded PostGIS cleanly."""
    if not _embedded():
        raise click.ClickException("DATABASE_URL is set: that server is not ours to stop.")
    from gis.core.pgcluster import Cluster

    Cluster().down()
    click.echo("embedded PostGIS stopped")


@db.command("status")
def db_status() -> None:
    """Say whether the database is up."""
    if _embedded():
        from gis.core.pgcluster import Cluster

        status = Cluster().status()
        click.echo(status.describe())
        if not status.running:
            sys.exit(3)
    else:
        from gis.core.db import check_postgis

        click.echo(f"DATABASE_URL: PostGIS {check_postgis(_engine())}")


@db.command("url")
@click.option("--sqlalchemy", "driver_form", is_flag=True,
              help="SQLAlchemy's form with the driver (postgresql+psycopg://…) instead of libpq's.")
def db_url(driver_form: bool) -> None:
    """Print the database URL in use, in libpq's form for psql and pg_dump (--sqlalchemy: with the driver)."""
    from gis.core.db import libpq_url, resolve_database_url

    url = resolve_database_url()
    click.echo(url if driver_form else libpq_url(url))


@db.command("psql", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def db_psql(args: tuple[str, ...]) -> None:
    """Open psql on the database (extra arguments go to psql)."""
    import shutil

    from gis.core.db import libpq_url, resolve_database_url

    url = libpq_url(resolve_database_url())
    psql = shutil.which("psql")
    if not psql:
        raise click.ClickException("psql not found: apt-get install -y postgresql-client")
    os.execv(psql, [psql, url, *args])


@db.command("migrate")
@click.argument("revision", default="head")
def db_migrate(revision: str) -> None:
    """Bring the database to the head schema revision (or up to REVISION)."""
    from alembic import command

    from gis.core.db import check_postgis, resolve_database_url

    check_postgis(_engine())
    command.upgrade(_alembic_config(resolve_database_url()), revision)
    click.echo(f"schema at {_current_revision() or 'base'}")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Step the schema back to REVISION ('base' drops every gridgov table)."""
    from alembic import command

    from gis.core.db import resolve_database_url

    command.downgrade(_alembic_config(resolve_database_url()), revision)
    click.echo(f"schema at {_current_revision() or 'base'}")


def _current_revision() -> str | None:
    from alembic.migration import MigrationContext

    with _engine().connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


# -- users ----------------------------------------------------------------------------------
@main.group(cls=_Group)
def user() -> None:
    """Users and their API tokens."""


@user.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["admin", "planner", "commander", "worker", "viewer"]))
@click.option("--grid", "grids", multiple=True, help="Grid code a worker is scoped to (repeatable).")
@click.option("--password", help="Also allow signing in to the pages with this password.")
def user_add(name: str, role: str, grids: tuple[str, ...], password: str | None) -> None:
    """Add a user; prints the API token once, alone on the last line."""
    from gis.core.db import session_factory
    from gis.core.users import create_user

    with session_factory(_engine())() as session:
        user_obj, token = create_user(session, name, role, grids=grids, password=password)
        session.commit()
    scope = f", grids {', '.join(grids)}" if grids else ""
    click.echo(f"user {user_obj.name} ({role}{scope}) created; its token is shown once:")
    click.echo(token)


@user.command("token")
@click.argument("name")
def user_token(name: str) -> None:
    """Issue a new token for a user (the old one stops working); prints it on the last line."""
    from gis.core.db import session_factory
    from gis.core.users import rotate_token

    with session_factory(_engine())() as session:
        token = rotate_token(session, name)
        session.commit()
    click.echo(f"new token for {name}:")
    click.echo(token)


@user.command("list")
def user_list() -> None:
    """List users and roles."""
    from sqlalchemy import select

    from gis.core.db import session_factory
    from gis.core.models import User
    from gis.core.users import user_grid_codes

    with session_factory(_engine())() as session:
        for u in session.scalars(select(User).order_by(User.name)):
            grids = user_grid_codes(session, u.id)
            click.echo(f"{u.name}\t{u.role}\t{'active' if u.active else 'disabled'}\t{' '.join(grids)}")


# -- serving --------------------------------------------------------------------------------
@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn worker processes")
@click.option("--tick/--no-tick", default=True, show_default=True,
              help="Run the workflow ticker beside the server (deadlines, overdue flags, statistics).")
def serve(host: str, port: int, workers: int, tick: bool) -> None:
    """Serve the API and pages with gunicorn (production server)."""
    from gis.core.db import check_postgis

    check_postgis(_engine())
    _run_gunicorn(host, port, workers, tick=tick, announce=True)


THREADS, REQUEST_THREADS = 64, 16


def _run_gunicorn(host: str, port: int, workers: int, *, tick: bool, announce: bool = False) -> None:
    import socket

    from gunicorn.app.base import BaseApplication

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise click.ClickException(f"{host}:{port} is in use; stop what runs there or use --port N.")
    if announce:
        # gunicorn's own "Listening at:" line stays empty: with SO_REUSEPORT its workers bind, not it.
        click.echo(f"gridgov serving http://{host}:{port}/ with {workers} workers, each on its own socket"
                   f"{'' if tick else ' (no workflow ticker)'}", err=True)
    if tick:
        # Cases fall due by the clock, not by requests: without a ticker no case would ever be
        # flagged overdue. Several servers on one database may each tick (a tick skips rows
        # another holds); `--no-tick` on all but one saves the duplicate work.
        from api.cli_workflow import start_ticker

        start_ticker()

    class _App(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", "gthread")
            # Each open live map holds a thread (server-sent events): plenty of threads, of which
            # REQUEST_THREADS are never given to streams (the app's MAX_STREAMS is the rest).
            self.cfg.set("threads", THREADS)
            self.cfg.set("timeout", 120)
            # Each worker listens on its own SO_REUSEPORT socket, so the kernel spreads new
            # connections over the workers. On one shared socket the worker that is awake wins
            # the accept race: with four clients connecting, all four landed on one worker in
            # half the trials, leaving the other worker (and core) idle.
            self.cfg.set("reuse_port", True)
            self.cfg.set("accesslog", "-")
            if "control_socket_disable" in self.cfg.settings:
                # One server per checkout; a per-user control socket would clash between them.
                self.cfg.set("control_socket_disable", True)

        def load(self):
            from api import create_app

            os.environ.setdefault("GRIDGOV_MAX_STREAMS", str(THREADS - REQUEST_THREADS))
            return create_app()

    _App().run()


@main.command("run")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
def run(port: int, workers: int) -> None:
    """Everything `make run` does: database up, migrate, demo data if empty, demo users, serve."""
    from gis.core.db import check_postgis, resolve_database_url, session_factory

    if _embedded():
        from gis.core.pgcluster import Cluster

        click.echo(Cluster().up().describe())
    url = resolve_database_url()
    engine = _engine()
    check_postgis(engine)
    migrate_to_head(url)
    click.echo(f"schema at {_current_revision()}")
    loaded = _load_demo_if_empty(engine)
    with session_factory(engine)() as session:
        password = _ensure_demo_users(session)
        session.commit()
    if loaded:
        from api.cli_workflow import demo_history

        demo_history(engine)  # issue #8: the fresh demo cases get their timelines
    click.echo("")
    click.echo(f"  gridgov 已启动 serving on http://127.0.0.1:{port}/map")
    click.echo(f"  登录 sign in at http://127.0.0.1:{port}/login as {_demo_sign_ins()}")
    click.echo(f"  演示密码 demo password: {password}   ({_demo_password_file()})")
    click.echo("")
    _run_gunicorn("127.0.0.1", port, workers, tick=True)  # issue #8: deadlines and counters keep moving


def _load_demo_if_empty(engine):
    from data.demo import load_demo_if_empty

    return load_demo_if_empty(engine, echo=click.echo)


def _demo_password_file() -> Path:
    from gis.core.pgcluster import var_dir

    return var_dir() / "demo-password"


def demo_users() -> list[tuple[str, str, str]]:
    """The demo sign-ins `gridgov run` makes, one of every role it creates: (name, role, display name)."""
    from data.demo_history import SUPERVISOR

    return [(role, role, f"demo {role}") for role in ("admin", "planner", "commander", "worker")] + [
        (SUPERVISOR[0], "commander", SUPERVISOR[1])]


def _demo_sign_ins() -> str:
    """'admin (admin), …, supervisor (commander, 督查员)' for the start-up lines."""
    return ", ".join(f"{name} ({role})" if role == name else f"{name} ({role}, {display})"
                     for name, role, display in demo_users())


def _ensure_demo_users(session) -> str:
    """Create the demo sign-ins once; one generated password for all, kept in var/ (0600)."""
    import secrets

    from sqlalchemy import select

    from gis.core.models import User
    from gis.core.users import create_user, set_password

    path = _demo_password_file()
    if path.exists():
        password = path.read_text().strip()
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        password = secrets.token_urlsafe(9)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(password + "\n")
    for name, role, display in demo_users():
        if session.scalar(select(User.id).where(User.name == name)) is None:
            create_user(session, name, role, password=password, display_name=display)
        else:
            set_password(session, name, password)  # also a supervisor the demo histories made without one
    from data.demo import attach_demo_worker

    attach_demo_worker(session, "worker")  # one community's grids, linked to its 网格员
    return password


# -- issue 4: event → grid assignment --------------------------------------------------------
@main.command("assign")
@click.option("--all", "scope", flag_value="all", default=True, help="Every event (the default).")
@click.option("--unassigned", "scope", flag_value="unassigned", help="Events without a grid yet.")
@click.option("--grid", "grid_code", metavar="CODE", help="Events of grid CODE and within snap distance of it.")
@click.option("--snap-m", type=float, default=30.0, show_default=True, envvar="GRIDGOV_SNAP_M",
              help="Snap points this close (metres) to the nearest grid.")
@click.option("--quiet", is_flag=True, help="No progress, only the summary.")
def assign(scope: str, grid_code: str | None, snap_m: float, quiet: bool) -> None:
    """(Re)assign events to grids set-wise in SQL, with progress and a summary by status."""
    import time

    from gis.spatial.assign import assign_events
    from gis.core.db import session_factory
    from gis.core.models import ASSIGN_STATUSES, AuditEntry

    if grid_code and scope == "unassigned":
        raise click.UsageError("Give one of --all, --unassigned, --grid CODE.")
    scope = grid_code or scope
    start = time.perf_counter()
    with session_factory(_engine())() as session:
        counts = assign_events(session, scope=scope, snap_m=snap_m, progress=not quiet)
        session.add(AuditEntry(action="assign", entity="events", entity_id=scope,
                               after=dict(counts, snap_m=snap_m)))
        session.commit()
    seconds = time.perf_counter() - start
    total = sum(counts[s] for s in ASSIGN_STATUSES)
    rate = f", {total / seconds:,.0f} events/s" if seconds > 0 and total else ""
    click.echo(f"{total} events in scope {scope!r} assigned in {seconds:.1f} s{rate}; {counts['changed']} changed")
    for status in ASSIGN_STATUSES:
        click.echo(f"  {status:<10} {counts[status]:>10}")
# -- issue 3: the demo district, import and export of layers ---------------------------------
def _require_schema(engine) -> None:
    from gis.core.errors import SetupRequired

    if _current_revision() is None:
        raise SetupRequired("The database has no gridgov schema", "Run `gridgov db migrate` first.")


@main.command("demo")
@click.option("--scale", type=click.Choice(["demo", "city"]), default="demo", show_default=True,
              help="demo: ~600 grids, 30k buildings, 20k events; city: the benchmark set (10k grids, 1M each)")
@click.option("--seed", type=int, default=1, show_default=True, help="same seed, same district")
def demo(scale: str, seed: int) -> None:
    """Load the demo district 幸福湾区 into an empty database."""
    from data.demo import load
    from gis.core.db import check_postgis

    engine = _engine()
    check_postgis(engine)
    _require_schema(engine)
    report = load(engine, scale=scale, seed=seed, progress=True)
    click.echo(report.summary())


@main.command("import")
@click.argument("layer", type=click.Choice(LAYER_NAMES))
@click.argument("file")
@click.option("--crs", help="CRS of the coordinates when the file names none (or a wrong one): "
                            "wgs84, cgcs2000, EPSG:n, gcj02 (AMap, Tencent), bd09 (Baidu)")
@click.option("--dry-run", is_flag=True, help="check everything and say what would change; write nothing")
def import_layer(layer: str, file: str, crs: str | None, dry_run: bool) -> None:
    """Import a layer FILE (GeoJSON, GeoPackage, Shapefile, zip, FlatGeobuf, CSV): all rows or none."""
    from data.io import import_file
    from gis.core.db import session_factory

    engine = _engine()
    _require_schema(engine)
    with session_factory(engine)() as session:
        report = import_file(session, layer, file, crs=crs, dry_run=dry_run, progress=True)
        if not dry_run:
            session.commit()
    click.echo(report.summary())


@main.command("export")
@click.argument("layer", type=click.Choice(LAYER_NAMES))
@click.argument("file")
def export_layer(layer: str, file: str) -> None:
    """Export a layer to FILE: .geojson, .gpkg, .shp, .zip (zipped Shapefile), .fgb or .csv."""
    from data.io import export_layer as export
    from gis.core.db import session_factory

    with session_factory(_engine())() as session:
        report = export(session, layer, file)
    click.echo(report.summary())


# -- contracts and coverage (issue 5): commands live in api/cli_contracts.py ---------------------
from api.cli_contracts import contract as _contract, coverage as _coverage  # noqa: E402

main.add_command(_contract)
main.add_command(_coverage)

# -- grid boundaries (issue 7): commands live in api/cli_grids.py ---------------------------------
from api.cli_grids import grids as _grids  # noqa: E402

main.add_command(_grids)

# -- issue #8: `gridgov workflow …`, `gridgov stats …` (commands live in api/cli_workflow.py) -----
from api.cli_workflow import stats_cmd as _stats, workflow as _workflow  # noqa: E402

main.add_command(_workflow)
main.add_command(_stats)

if __name__ == "__main__":
    main()
