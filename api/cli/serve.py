"""`gridgov serve` (the production server, gunicorn) and `gridgov run` (what `make run` does)."""
from __future__ import annotations

import os
import socket

import click
from gunicorn.app.base import BaseApplication

from api import create_app
from api.cli.common import embedded, engine
from api.cli.db import cluster_line
from api.cli.demo import demo_password_file, demo_sign_ins, ensure_demo_users
from api.cli.schema import current_revision, migrate_to_head
from api.cli.workflow import demo_history, start_ticker
from api.logs import RedactingLogger
from data.demo import load_demo_if_empty
from gis.core.db import check_postgis, resolve_database_url, session_factory
from gis.core.pgcluster import Cluster
from webmap.catalog import say

THREADS, REQUEST_THREADS = 64, 16


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn worker processes")
@click.option("--tick/--no-tick", default=True, show_default=True,
              help="Run the workflow ticker beside the server (deadlines, overdue flags, statistics).")
def serve(host: str, port: int, workers: int, tick: bool) -> None:
    """Serve the API and pages with gunicorn (production server)."""
    check_postgis(engine())
    run_gunicorn(host, port, workers, tick=tick, announce=True)


@click.command("run")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
def run(port: int, workers: int) -> None:
    """Everything `make run` does: database up, migrate, demo data if empty, demo users, serve."""
    if embedded():
        click.echo(cluster_line(Cluster().up()))
    url = resolve_database_url()
    bind = engine()
    check_postgis(bind)
    migrate_to_head(url)
    click.echo(say("cli.db.schema_at", revision=current_revision()))
    loaded = load_demo_if_empty(bind, echo=click.echo)
    with session_factory(bind)() as session:
        password = ensure_demo_users(session)
        session.commit()
    if loaded:
        demo_history(bind)  # issue #8: the fresh demo cases get their timelines
    click.echo("")
    click.echo("  " + say("cli.serve.serving", port=port))
    click.echo("  " + say("cli.serve.sign_in", port=port, users=demo_sign_ins()))
    click.echo("  " + say("cli.serve.password", password=password, file=demo_password_file()))
    click.echo("")
    run_gunicorn("127.0.0.1", port, workers, tick=True)  # issue #8: deadlines and counters keep moving


class _Server(BaseApplication):
    """gunicorn with gridgov's settings, serving create_app()."""

    def __init__(self, host: str, port: int, workers: int):
        self._address, self._workers = f"{host}:{port}", workers
        super().__init__()

    def load_config(self):
        """gthread workers, each on its own SO_REUSEPORT socket."""
        self.cfg.set("bind", self._address)
        self.cfg.set("workers", self._workers)
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
        self.cfg.set("logger_class", RedactingLogger)  # no api_key or token in the access log
        if "control_socket_disable" in self.cfg.settings:
            # One server per checkout; a per-user control socket would clash between them.
            self.cfg.set("control_socket_disable", True)

    def load(self):
        """The app, made in each worker."""
        os.environ.setdefault("GRIDGOV_MAX_STREAMS", str(THREADS - REQUEST_THREADS))
        return create_app()


def run_gunicorn(host: str, port: int, workers: int, *, tick: bool, announce: bool = False) -> None:
    """Serve on host:port with `workers` processes (and the workflow ticker beside them if `tick`)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise click.ClickException(say("cli.serve.in_use", host=host, port=port)) from None
    if announce:
        # gunicorn's own "Listening at:" line stays empty: with SO_REUSEPORT its workers bind, not it.
        click.echo(say("cli.serve.announce", host=host, port=port, workers=workers,
                       ticker="" if tick else say("cli.serve.no_ticker")), err=True)
    if tick:
        # Cases fall due by the clock, not by requests: without a ticker no case would ever be
        # flagged overdue. Several servers on one database may each tick (a tick skips rows
        # another holds); `--no-tick` on all but one saves the duplicate work.
        start_ticker()
    _Server(host, port, workers).run()
