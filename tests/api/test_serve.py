"""`gridgov serve`, the production server: answers, spreads connections over workers, owns its port."""
from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from gis.core.pgcluster import free_port
from tests.conftest import auth
from tests.paths import ROOT
from webmap import catalog


def _serve(url: str, port: int, *options: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--workers", "2", "--port", str(port), *options],
                            env=dict(os.environ, DATABASE_URL=url), cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _started(proc: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            ready = conn.getresponse().status == 200
            conn.close()
            if ready:
                break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"gridgov serve did not start: {proc.stderr.read()[-2000:]}")
        time.sleep(0.2)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def server(db_url):
    """`gridgov serve --workers 2 --no-tick` on this test's database: (process, port)."""
    port = free_port()
    proc = _serve(db_url, port, "--no-tick")
    _started(proc, port)
    yield proc, port
    _stop(proc)


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError):
        return ""  # ended (and reaped) since the list of children was read


def _workers(pid: int) -> list[int]:
    return [child for child in _children(pid) if " serve " in _cmdline(child)]


def _alive(pid: int) -> bool:
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _inodes(port: int, state: str) -> set[str]:
    """Inodes of the sockets on local `port` in TCP `state` (01 established, 0A listening)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == state:
            found.add(fields[9])
    return found


def test_serve_answers_an_authenticated_request(server, make_user):
    _, port = server
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/api/v1/me", headers=auth(make_user("viewer", name="served")))
    response = conn.getresponse()
    assert response.status == 200 and b'"served"' in response.read()


def test_each_worker_listens_on_its_own_socket(server):
    # SO_REUSEPORT: the kernel, not an accept race, picks the worker for a new connection.
    proc, port = server
    listening = _inodes(port, "0A")
    owners = [pid for pid in _workers(proc.pid) if _socket_inodes(pid) & listening]
    assert len(listening) == 2 and len(owners) == 2
    assert not _socket_inodes(proc.pid) & listening  # the arbiter holds none


def test_serve_spreads_connections_over_its_workers(server):
    # On one shared socket, connections opened one after another mostly went to whichever
    # worker was awake (four out of four to one worker in half the trials).
    proc, port = server
    conns = []
    for _ in range(16):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/healthz")
        conn.getresponse().read()
        conns.append(conn)
    established = _inodes(port, "01")
    per_worker = Counter({pid: len(_socket_inodes(pid) & established) for pid in _workers(proc.pid)})
    for conn in conns:
        conn.close()
    assert len(per_worker) == 2 and sum(per_worker.values()) >= 16  # ours, and any not yet closed
    # A fair split of 16 is 8-8; 15-1 or worse has a chance of 17 in 65,536 when hashed evenly.
    assert min(per_worker.values()) >= 2, per_worker


def test_a_second_server_on_the_same_port_is_refused(server, db_url):
    _, port = server
    second = _serve(db_url, port)
    try:
        _, err = second.communicate(timeout=60)
    finally:
        if second.poll() is None:
            second.kill()
    assert second.returncode != 0 and catalog.t("cli.serve.in_use", host="127.0.0.1", port=port) in err
    assert catalog.t("cli.serve.serving", port=port) not in err  # it never claims an address it could not take


def test_serve_runs_the_workflow_ticker_and_stops_it(db_url):
    # Cases fall due by the clock: a production server that never ticked would never flag one.
    port = free_port()
    proc = _serve(db_url, port)
    try:
        _started(proc, port)
        tickers = [c for c in _children(proc.pid) if " workflow tick " in _cmdline(c)]
        assert len(tickers) == 1 and f"--parent-pid {proc.pid}" in _cmdline(tickers[0])
        # A worker that ends (gunicorn restarts it) runs the exit handlers it was forked with:
        # the ticker must survive that.
        old = _workers(proc.pid)[0]
        os.kill(old, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while (old in _workers(proc.pid) or len(_workers(proc.pid)) < 2) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert old not in _workers(proc.pid) and len(_workers(proc.pid)) == 2
        assert _alive(tickers[0])
    finally:
        _stop(proc)
    deadline = time.monotonic() + 10
    while _alive(tickers[0]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(tickers[0])


def test_no_tick_serves_without_a_ticker(server):
    proc, _ = server
    assert len(_workers(proc.pid)) == len(_children(proc.pid)) == 2


def test_the_access_log_shows_an_api_key_only_as_redacted(db_url, make_user):
    token = make_user("viewer")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--workers", "1", "--port", str(port),
                             "--no-tick"], env=dict(os.environ, DATABASE_URL=db_url), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        _started(proc, port)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", f"/open311/v2/requests.json?api_key={token}&status=open",
                     headers={"Referer": f"http://127.0.0.1:{port}/x?token={token}"})
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        _stop(proc)
    log = proc.stdout.read()
    assert "/open311/v2/requests.json?api_key=[redacted]&status=open" in log
    assert token not in log
