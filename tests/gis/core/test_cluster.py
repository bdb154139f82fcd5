"""The embedded PostGIS: up, down, restart with data kept, and recovery from a stale pid file."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from gis.core.pgcluster import Cluster
from tests.api.test_cli import pieces


@pytest.fixture(scope="module")
def var_root():
    root = Path(tempfile.mkdtemp(prefix="gridgov-var-"))
    os.chmod(root, 0o755)
    yield root
    Cluster(root).destroy()
    shutil.rmtree(root, ignore_errors=True)


def _connect(cluster: Cluster) -> psycopg.Connection:
    return psycopg.connect(cluster.url().replace("+psycopg", ""), autocommit=True)


def _gridgov(var_root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GRIDGOV_DATABASE_URL", "GRIDGOV_LANG")}
    env["GRIDGOV_VAR"] = str(var_root)
    return subprocess.run([sys.executable, "-m", "api.cli", *args], capture_output=True, text=True,
                          env=env, timeout=180)


def test_up_creates_cluster_with_postgis_on_loopback(var_root):
    result = _gridgov(var_root, "db", "up")
    assert result.returncode == 0, result.stderr
    cluster = Cluster(var_root)
    status = cluster.status()
    assert status.initialised and status.running
    assert (var_root / "pg" / "data" / "PG_VERSION").exists()
    with _connect(cluster) as conn:
        assert conn.execute("SELECT postgis_lib_version()").fetchone()[0] >= "3.3"
        assert conn.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"
        assert conn.execute("SHOW server_encoding").fetchone()[0] == "UTF8"
        sockdir = conn.execute("SHOW unix_socket_directories").fetchone()[0]
    assert sockdir.startswith(str(var_root))


def test_status_and_url_commands(var_root):
    _gridgov(var_root, "db", "up")
    status = _gridgov(var_root, "db", "status")
    assert status.returncode == 0 and pieces("cli.db.running", pid=None, port=None)[0] in status.stdout
    url = _gridgov(var_root, "db", "url").stdout.strip()
    assert url == Cluster(var_root).url().replace("postgresql+psycopg://", "postgresql://")
    assert _gridgov(var_root, "db", "url", "--sqlalchemy").stdout.strip() == Cluster(var_root).url()
    # What `db url` prints is what psql takes.
    psql = subprocess.run(["psql", url, "-XAtc", "SELECT current_database()"], capture_output=True, text=True,
                          timeout=60)
    assert psql.returncode == 0 and psql.stdout.strip() == "gridgov", psql.stderr


def test_data_survives_down_and_up(var_root):
    cluster = Cluster(var_root)
    cluster.up()
    with _connect(cluster) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS keepme (x int)")
        conn.execute("INSERT INTO keepme VALUES (42)")
    assert _gridgov(var_root, "db", "down").returncode == 0
    assert not cluster.status().running
    assert _gridgov(var_root, "db", "status").returncode == 3
    assert _gridgov(var_root, "db", "up").returncode == 0
    with _connect(cluster) as conn:
        assert conn.execute("SELECT sum(x) FROM keepme").fetchone()[0] >= 42


def test_up_after_crash_with_stale_pid_file(var_root):
    cluster = Cluster(var_root)
    cluster.up()
    pid = cluster.status().pid
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    # The crash leaves postmaster.pid behind; make its pid belong to a live, unrelated process
    # (pid reuse), which PostgreSQL alone would take for a running server.
    squatter = subprocess.Popen(["sleep", "60"])
    try:
        pidfile = cluster.datadir / "postmaster.pid"
        lines = pidfile.read_text().splitlines()
        lines[0] = str(squatter.pid)
        pidfile.write_text("\n".join(lines) + "\n")
        result = _gridgov(var_root, "db", "up")
        assert result.returncode == 0, result.stderr
        assert cluster.status().running
        with _connect(cluster) as conn:
            assert conn.execute("SELECT 1").fetchone()[0] == 1
    finally:
        squatter.kill()


def test_up_moves_to_a_free_port_when_ours_is_taken(var_root):
    import socket

    cluster = Cluster(var_root)
    cluster.up()
    cluster.down()
    taken = cluster.port
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", taken))
        s.listen()
        cluster.up()
        assert cluster.port != taken
    with _connect(cluster) as conn:
        assert conn.execute("SELECT 1").fetchone()[0] == 1


def test_down_is_idempotent(var_root):
    cluster = Cluster(var_root)
    cluster.down()
    cluster.down()
    assert not cluster.status().running
