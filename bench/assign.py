"""Assignment at city scale: bulk `gridgov assign --all` and GET /api/v1/locate, against bare floors.

Prints, measured in one run on the `city` data set (10k grids, 1M events):
- bulk: events/s of `gridgov assign --all` (a subprocess, as an operator runs it) and its ratio to
  the same statement run directly over psycopg; the planner-default covering join for context;
- locate: p50/p99 latency for one client and requests/s for several, over HTTP against
  `gridgov serve --workers 2`, and the same against a bare WSGI endpoint (2 gunicorn workers) that
  runs only the same prepared SQL, executed the same way (gis.spatial.assign.execute_locate; no Flask, no
  auth, no serialisation beyond json.dumps), and a plain Flask route around that bare query. The
  three servers run together and are measured in interleaved rounds (BENCH_LOCATE_ROUNDS), so load
  drifting on a shared machine hits all three.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import json
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from contextlib import contextmanager
from pathlib import Path

import psycopg
from flask import Flask, Response, request
from sqlalchemy import text

from api.cli.serve import THREADS
from bench.common import bench_database_url, percentile
from gis.core.db import make_engine, session_factory
from gis.core.pgcluster import free_port
from gis.core.users import create_user
from gis.spatial import assign
from gis.spatial.assign import bulk
from gis.spatial.assign.locate import _psycopg_sql

ROOT = Path(__file__).resolve().parent.parent
TARGET_BULK = 1.15
TARGET_P50_MS, TARGET_P99_MS, TARGET_THROUGHPUT = 2.0, 10.0, 0.8
SINGLE_REQUESTS = int(os.environ.get("BENCH_LOCATE_REQUESTS", "3000"))
CLIENTS = int(os.environ.get("BENCH_LOCATE_CLIENTS", "4"))
CONNECTIONS_PER_CLIENT = 4
LOAD_SECONDS = float(os.environ.get("BENCH_LOCATE_SECONDS", "4"))
ROUNDS = int(os.environ.get("BENCH_LOCATE_ROUNDS", "5"))


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


# -- bulk -------------------------------------------------------------------------------------
def _reset(url: str) -> None:
    """Forget every assignment, then vacuum, so each timed run writes every row from the same state."""
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        conn.execute("UPDATE events SET grid_id = NULL, assign_status = NULL, assign_distance_m = NULL,"
                     " building_id = NULL, community_id = NULL, street_id = NULL, district_id = NULL")
        conn.execute("VACUUM ANALYZE events")


def _bare_bulk(url: str) -> tuple[float, dict]:
    """The statement gridgov assign --all runs, sent directly over psycopg."""
    sql = _psycopg_sql(bulk._bulk_sql(None, bulk._src_by_grids("true", scoped=False, ticks=False), False))
    with psycopg.connect(_libpq(url)) as conn:
        conn.execute("SET LOCAL jit = off")
        start = time.perf_counter()
        rows = conn.execute(sql, {"snap_m": bulk.DEFAULT_SNAP_M}).fetchall()
        conn.commit()
        return time.perf_counter() - start, dict(rows)


def _cli_bulk(url: str) -> tuple[float, str]:
    env = dict(os.environ, DATABASE_URL=url)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "api.cli", "assign", "--all"], env=env, capture_output=True,
                          text=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"gridgov assign failed: {done.stderr}")
    return seconds, done.stdout


def _planner_default_covering(url: str) -> float:
    """For context: the covering join alone as the planner runs it by default (no decision, no write)."""
    with psycopg.connect(_libpq(url)) as conn:
        conn.execute("SET LOCAL jit = off")
        start = time.perf_counter()
        conn.execute("SELECT count(*) FROM (SELECT DISTINCT ON (e.id) e.id, g.id FROM events e JOIN grids g"
                     " ON ST_Covers(g.geom, e.geom) ORDER BY e.id, g.code) x").fetchone()
        return time.perf_counter() - start


def bench_bulk(url: str) -> None:
    """Time gridgov assign --all against its bare statement, each from unassigned events."""
    engine = make_engine(url)
    with engine.connect() as conn:
        events = conn.execute(text("SELECT count(*) FROM events")).scalar_one()
        grids = conn.execute(text("SELECT count(*) FROM grids")).scalar_one()
    engine.dispose()
    print(f"bulk: {grids} grids, {events} events; every run starts from unassigned events", flush=True)
    _reset(url)
    bare, bare_counts = _bare_bulk(url)
    print(f"  bare statement over psycopg: {bare:.1f} s ({events / bare:,.0f} events/s) {bare_counts}", flush=True)
    _reset(url)
    ours, out = _cli_bulk(url)
    print(f"  gridgov assign --all:        {ours:.1f} s ({events / ours:,.0f} events/s)", flush=True)
    print("    " + "\n    ".join(out.strip().splitlines()), flush=True)
    ratio = ours / bare
    verdict = "ok" if ratio <= TARGET_BULK else f"MISSES target {TARGET_BULK:.2f}×"
    print(f"bulk ratio (gridgov assign / bare statement): {ratio:.2f}×  {verdict}", flush=True)
    floor = _planner_default_covering(url)
    print(f"  context: the planner's default covering join alone (select, no decision, no write): {floor:.1f} s",
          flush=True)


# -- locate over HTTP -------------------------------------------------------------------------
_local = threading.local()


def bare_app(environ, start_response):
    """WSGI app that runs only locate's prepared SQL and json.dumps the row (the floor)."""
    conn = getattr(_local, "conn", None)
    if conn is None:
        # The same statement, prepared once per connection, run with a generic plan and executed
        # the way locate_point runs it on the API's read pool (gis.spatial.assign.execute_locate).
        conn = _local.conn = psycopg.connect(_libpq(os.environ["BENCH_BARE_URL"]), autocommit=True,
                                             options="-c jit=off -c plan_cache_mode=force_generic_plan")
        assign.prepare_locate(conn)
    query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
    params = {"lon": float(query["lon"][0]), "lat": float(query["lat"][0]), "accuracy_m": None,
              "at": dt.datetime.now(dt.UTC), "snap_m": assign.DEFAULT_SNAP_M}
    row = assign.execute_locate(conn, params)
    body = json.dumps(row._asdict(), ensure_ascii=False, default=str).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _flask_floor():
    """The same bare query behind a plain Flask route: how much of the gap is the framework."""
    app = Flask("bench-floor")

    @app.get("/")
    def floor():
        captured = {}

        def start(status, headers):
            captured["status"] = status

        body = b"".join(bare_app({"QUERY_STRING": request.query_string.decode()}, start))
        return Response(body, mimetype="application/json")

    return app


@contextmanager
def _server(args: list[str], env: dict, port: int, ready_path: str):
    proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", ready_path)
                c.getresponse().read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start: {proc.stderr.read().decode()[-2000:]}") from None
                time.sleep(0.2)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _paths(points: list[tuple[float, float]], prefix: str) -> list[str]:
    return [f"{prefix}?lon={lon:.7f}&lat={lat:.7f}" for lon, lat in points]


def _sequential(port: int, paths: list[str], headers: dict) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    out = []
    for path in paths:
        start = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        out.append(time.perf_counter() - start)
        if response.status != 200:
            raise RuntimeError(f"{path}: HTTP {response.status}")
    conn.close()
    return out


def _client_ready(*_) -> None:
    """A load client's start-up (its import of this module is the point)."""


def _load_worker(args) -> int:
    port, paths, headers, start_at, stop_at = args
    # Several keep-alive connections per client, used in turn (still one request in flight):
    # the kernel hashes each connection to one of the two workers, and four connections split
    # 4-0 or 3-1 in most rounds, leaving a core idle in some rounds and not others. Sixteen
    # split close to even, as the many phones of a real deployment do.
    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(CONNECTIONS_PER_CLIENT)]
    for conn in conns:
        conn.request("GET", paths[-1], headers=headers)  # connect before the window opens
        conn.getresponse().read()
    time.sleep(max(0.0, start_at - time.monotonic()))
    n = 0
    while time.monotonic() < stop_at:
        conn = conns[n % len(conns)]
        conn.request("GET", paths[n % len(paths)], headers=headers)
        conn.getresponse().read()
        n += 1
    for conn in conns:
        conn.close()
    return n


def _throughput(pool, port: int, paths: list[str], headers: dict) -> float:
    # Every client counts requests in the same window (CLOCK_MONOTONIC is shared by processes),
    # opened once all of them are connected; the clients are started once for the whole bench,
    # so no client is still importing (and taking a core) while another measures.
    chunks = [paths[i::CLIENTS] for i in range(CLIENTS)]
    start_at = time.monotonic() + 0.5
    counts = pool.map(_load_worker, [(port, c, headers, start_at, start_at + LOAD_SECONDS) for c in chunks])
    return sum(counts) / LOAD_SECONDS


def bench_locate(url: str) -> None:
    """p50/p99 for one client and req/s for several, ours against the bare endpoint."""
    engine = make_engine(url)
    with session_factory(engine)() as session:
        _, token = create_user(session, f"bench-{os.getpid()}-{int(time.time())}", "viewer")
        session.commit()
        # Where reports really come from: a random sample of the city's events.
        points = [tuple(r) for r in session.execute(text(
            "SELECT ST_X(geom), ST_Y(geom) FROM events TABLESAMPLE SYSTEM (1) REPEATABLE (7) LIMIT 4000"))]
    engine.dispose()
    random.Random(7).shuffle(points)
    ours_port, bare_port, flask_port = free_port(), free_port(), free_port()
    env = dict(os.environ, DATABASE_URL=url, BENCH_BARE_URL=url)
    ours_cmd = [sys.executable, "-m", "api.cli", "serve", "--workers", "2", "--no-tick", "--port", str(ours_port)]
    # The floors run under the same server settings as `gridgov serve` (gthread, its threads,
    # access log on), so the comparison is of the endpoint's code alone.
    server = [sys.executable, "-m", "gunicorn", "--workers", "2", "--worker-class", "gthread",
              "--threads", str(THREADS), "--access-logfile", "-", "--reuse-port"]
    bare_cmd = [*server, "--bind", f"127.0.0.1:{bare_port}", "bench.assign:bare_app"]
    flask_cmd = [*server, "--bind", f"127.0.0.1:{flask_port}", "bench.assign:_flask_floor()"]
    auth = {"Authorization": f"Bearer {token}"}
    servers = (("gridgov", ours_cmd, ours_port, "/api/v1/locate", auth, "/healthz"),
               ("bare", bare_cmd, bare_port, "/", {}, "/?lon=118&lat=24"),
               ("flask", flask_cmd, flask_port, "/", {}, "/?lon=118&lat=24"))
    latencies: dict[str, list[float]] = {name: [] for name, *_ in servers}
    rates: dict[str, list[float]] = {name: [] for name, *_ in servers}
    # All three servers run at once and are measured in turn, round after round: on a shared
    # machine the load drifts over a minute, and interleaving spreads the drift over all three.
    with contextlib.ExitStack() as stack:
        # The load clients, started (and this module imported in each) before any measuring.
        pool = stack.enter_context(multiprocessing.get_context("spawn").Pool(CLIENTS, initializer=_client_ready))
        pool.map(_client_ready, range(CLIENTS))
        for _name, cmd, port, prefix, headers, ready in servers:
            stack.enter_context(_server(cmd, env, port, ready))
            _sequential(port, _paths(points, prefix)[:300], headers)  # warm up: connections, plans, caches
        for round_ in range(ROUNDS):
            # Each round starts with a different server, so none always meets a cold cache first.
            for name, _cmd, port, prefix, headers, _ready in servers[round_ % 3:] + servers[:round_ % 3]:
                paths = _paths(points, prefix)
                random.Random(len(latencies[name])).shuffle(paths)
                latencies[name] += _sequential(port, (paths * 2)[:SINGLE_REQUESTS // ROUNDS], headers)
                rates[name].append(_throughput(pool, port, paths, headers))
    results = {}
    for name, *_ in servers:
        rate = statistics.median(rates[name])
        results[name] = (percentile(latencies[name], 50) * 1000, percentile(latencies[name], 99) * 1000, rate)
        print(f"locate {name:>8}: one client p50 {results[name][0]:.2f} ms, p99 {results[name][1]:.2f} ms; "
              f"{CLIENTS} clients {rate:,.0f} req/s (median of {ROUNDS} rounds: "
              f"{', '.join(f'{r:,.0f}' for r in rates[name])})", flush=True)
    p50, p99, rate = results["gridgov"]
    ratio = rate / results["bare"][2]
    # Rounds differ by more than the servers do on a shared machine; each round's own ratio
    # compares the two measured seconds apart.
    paired = [ours / bare for ours, bare in zip(rates["gridgov"], rates["bare"])]
    print(f"  per-round throughput gridgov/bare: {', '.join(f'{r:.2f}' for r in paired)} "
          f"(median {statistics.median(paired):.2f})", flush=True)
    print(f"locate p50 {p50:.2f} ms (target ≤ {TARGET_P50_MS} ms: {'ok' if p50 <= TARGET_P50_MS else 'MISSES'}), "
          f"p99 {p99:.2f} ms (target ≤ {TARGET_P99_MS} ms: {'ok' if p99 <= TARGET_P99_MS else 'MISSES'}), "
          f"throughput {ratio:.2f}× bare (target ≥ {TARGET_THROUGHPUT}×: "
          f"{'ok' if ratio >= TARGET_THROUGHPUT else 'MISSES'})", flush=True)
    print(f"  context: the same query behind a plain Flask route reaches "
          f"{results['flask'][2] / results['bare'][2]:.2f}× "
          f"bare, and gridgov {rate / results['flask'][2]:.2f}× that (its locate answers a cached bearer token's "
          "GET without Flask's request machinery: api/locate.py)", flush=True)


def main() -> None:
    """Run the bulk and the locate benchmarks on the city data set."""
    url = bench_database_url("city")
    only = os.environ.get("BENCH_ASSIGN_ONLY")
    if only != "locate":
        bench_bulk(url)
    if only != "bulk":
        bench_locate(url)


if __name__ == "__main__":
    main()
