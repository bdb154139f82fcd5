"""Test fixtures: a throwaway PostGIS cluster, a migrated template, and a fresh database per test."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import psycopg
import pytest
from sqlalchemy.engine import make_url

from api import db as api_db
from gis.core.db import make_engine, normalise_url, session_factory
from gis.core.pgcluster import Cluster

# Tests never skip for want of PostGIS: if the cluster cannot be had, every test using it errors.


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_admin_url():
    """A superuser URL on a server for tests: TEST_DATABASE_URL, or our own throwaway cluster."""
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        yield normalise_url(given)
        return
    root = Path(tempfile.mkdtemp(prefix="gridgov-test-"))
    os.chmod(root, 0o755)  # as root, the server runs as `postgres` and must reach its folder
    # The suite's server runs at UTC, as many existing PostGIS servers do: every test then shows that
    # gridgov keeps the district's clock (Asia/Shanghai) whatever the database's own zone is.
    cluster = Cluster(root, fast=True, timezone="UTC")
    try:
        cluster.init()
        cluster.start()
        yield cluster.url("postgres")
    finally:
        try:
            cluster.destroy()
        finally:
            shutil.rmtree(root, ignore_errors=True)


def _admin(url: str) -> psycopg.Connection:
    return psycopg.connect(_libpq(url), autocommit=True)


def create_database(admin_url: str, name: str, template: str | None = None) -> str:
    """Create a database (from a template, or empty with PostGIS) and return its URL."""
    with _admin(admin_url) as conn:
        if template:
            # FILE_COPY (PostgreSQL 15+) clones a small template faster than the WAL_LOG default.
            strategy = " STRATEGY FILE_COPY" if conn.info.server_version >= 150000 else ""
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"{strategy}')
        else:
            conn.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(admin_url, name)
    if not template:
        with _admin(url) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    return url


def drop_database(admin_url: str, name: str) -> None:
    """Drop a database, ending any connection still open to it."""
    with _admin(admin_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def template_db(pg_admin_url):
    """A database migrated to head, cloned for every test."""
    from alembic import command
    from alembic.config import Config

    from gis.core.pgcluster import project_root

    name = f"gridgov_template_{uuid.uuid4().hex[:8]}"
    url = create_database(pg_admin_url, name)
    cfg = Config(str(project_root() / "alembic.ini"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(cfg, "head")
    yield name
    drop_database(pg_admin_url, name)


class _DatabasePool:
    """Clones the template one test ahead, in a background thread, so a test rarely waits for it."""

    def __init__(self, admin_url: str, template: str):
        self.admin_url, self.template = admin_url, template
        self._executor = ThreadPoolExecutor(max_workers=1)
        self._next = self._executor.submit(self._clone)

    def _clone(self) -> tuple[str, str]:
        name = f"gridgov_t_{uuid.uuid4().hex[:12]}"
        return name, create_database(self.admin_url, name, template=self.template)

    def take(self) -> tuple[str, str]:
        ready = self._next.result()
        self._next = self._executor.submit(self._clone)
        return ready

    def release(self, name: str) -> None:
        self._executor.submit(drop_database, self.admin_url, name)

    def close(self) -> None:
        name, _ = self._next.result()
        drop_database(self.admin_url, name)
        self._executor.shutdown(wait=True)


@pytest.fixture(scope="session")
def database_pool(pg_admin_url, template_db):
    """Fresh databases cloned from the migrated template."""
    pool = _DatabasePool(pg_admin_url, template_db)
    yield pool
    pool.close()


@pytest.fixture
def db_url(database_pool):
    """A fresh database at the head schema, for this test only."""
    name, url = database_pool.take()
    yield url
    database_pool.release(name)


@pytest.fixture
def engine(db_url):
    """An engine on this test's database."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine):
    """A session on this test's database (commit freely: the database is thrown away)."""
    with session_factory(engine)() as s:
        yield s


def app_on(url: str, **config):
    """The Flask app on `url` (photos in a folder of its own); stops its listener and closes its pools at the end."""
    from api import create_app

    media = tempfile.mkdtemp(prefix="gridgov-media-")
    application = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "test-secret",
                              "MEDIA_DIR": media, **config})
    yield application
    hub = application.extensions.get("gridgov.hub")  # the LISTEN thread of api/hub.py, if started
    if hub is not None:
        hub.listener.stop()
    api_db.dispose(application)
    shutil.rmtree(media, ignore_errors=True)


@pytest.fixture
def app(db_url):
    """The Flask app on this test's database."""
    yield from app_on(db_url)


@pytest.fixture
def demo_app(demo_db_url):
    """The Flask app on this test's copy of the demo district."""
    yield from app_on(demo_db_url)


@pytest.fixture
def client(app):
    """A test client of the app."""
    return app.test_client()


@pytest.fixture
def make_user(session):
    """Create a user and return its bearer token: make_user('worker', grids=[...])."""
    from gis.core.users import create_user

    def _make(role: str, *, grids=(), password: str | None = None, name: str | None = None) -> str:
        _, token = create_user(session, name or f"{role}-{uuid.uuid4().hex[:6]}", role,
                               grids=grids, password=password)
        session.commit()
        return token

    return _make


def auth(token: str) -> dict[str, str]:
    """The Authorization header for a bearer token."""
    return {"Authorization": f"Bearer {token}"}


def live_hub(app):
    """The app's hub once its listener hears table changes (so its caches are on)."""
    from api.hub import hub

    with app.app_context():
        the_hub = hub()
        assert the_hub.listener.wait_listening(5)
    assert the_hub.generations.live
    return the_hub


def wait_for_change(client, url: str, before, timeout: float = 5.0):
    """GET `url` until its body differs from the response `before` (or `timeout` passes); the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        after = client.get(url)
        if after.data != before.data or time.monotonic() > deadline:
            return after
        time.sleep(0.05)


def problem(response, status: int) -> dict:
    """Assert an application/problem+json answer with this status, a title and a detail; its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.json
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def start_server(app, port: int = 0):
    """Serve `app` over real HTTP on a loopback port (0: a free one), threaded; (server, thread)."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


def stop_server(server, thread) -> None:
    """Stop a server of start_server and free its port."""
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def live_server(app):
    """The app served over real HTTP on a free loopback port (threaded), for browsers and clients."""
    server, thread = start_server(app)
    yield f"http://127.0.0.1:{server.server_port}"
    stop_server(server, thread)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (no browser download)."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    """A fresh browser page that records console errors and every request leaving 127.0.0.1."""
    context = browser.new_context()
    pg = context.new_page()
    pg.console_errors = []
    pg.outside_requests = []
    pg.on("console", lambda m: m.type == "error" and pg.console_errors.append(m.text))
    pg.on("pageerror", lambda e: pg.console_errors.append(str(e)))

    def _request(req):
        host = req.url.split("/")[2] if "://" in req.url else ""
        if req.url.startswith(("http://", "https://", "ws://", "wss://")) and not host.startswith("127.0.0.1"):
            pg.outside_requests.append(req.url)

    pg.on("request", _request)
    yield pg
    context.close()


# -- issue 3: the demo district, loaded once per session and cloned per test -----------------
@pytest.fixture(scope="session")
def demo_template(pg_admin_url, template_db):
    """A database holding the `demo` district, loaded once by `gridgov demo` (seed 1)."""
    import subprocess
    import sys

    name = f"gridgov_demo_{uuid.uuid4().hex[:8]}"
    url = create_database(pg_admin_url, name, template=template_db)
    env = dict(os.environ, DATABASE_URL=url)
    done = subprocess.run([sys.executable, "-m", "api.cli", "demo", "--scale", "demo", "--seed", "1"],
                          capture_output=True, text=True, env=env, timeout=300)
    if done.returncode != 0:
        drop_database(pg_admin_url, name)
        pytest.fail(f"gridgov demo failed:\n{done.stdout}\n{done.stderr}")
    yield name, done.stdout
    drop_database(pg_admin_url, name)


@pytest.fixture
def demo_db_url(pg_admin_url, demo_template):
    """A fresh copy of the demo district for this test only."""
    name = f"gridgov_d_{uuid.uuid4().hex[:12]}"
    url = create_database(pg_admin_url, name, template=demo_template[0])
    yield url
    drop_database(pg_admin_url, name)


@pytest.fixture
def demo_session(demo_db_url):
    """A session on a fresh copy of the demo district."""
    eng = make_engine(demo_db_url)
    with session_factory(eng)() as s:
        yield s
    eng.dispose()


# -- issue 18: an S3-compatible object store, moto's server as a real HTTP process --------------
@pytest.fixture(scope="session")
def s3_endpoint():
    """The URL of a moto_server started on a free loopback port for this session (stopped at its end)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto_server did not start on port {port} (exit code {server.poll()})")
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def s3_bucket(s3_endpoint):
    """A fresh bucket on the test S3 server; the app configuration that names it."""
    name = f"gridgov-{uuid.uuid4().hex[:10]}"
    config = {"MEDIA_S3_BUCKET": name, "MEDIA_S3_ENDPOINT_URL": s3_endpoint, "MEDIA_S3_ACCESS_KEY_ID": "test",
              "MEDIA_S3_SECRET_ACCESS_KEY": "test", "MEDIA_S3_REGION": "us-east-1"}
    boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id="test", aws_secret_access_key="test",
                 region_name="us-east-1").create_bucket(Bucket=name)
    return config
