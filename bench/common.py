"""Shared benchmark plumbing: the city-scale database and timing helpers."""
from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

from sqlalchemy import text

from api.cli.schema import migrate_to_head
from data.demo import load
from gis.core.db import make_engine, normalise_url
from gis.core.pgcluster import Cluster

BENCH_DB = "gridgov_bench"


def bench_database_url(scale: str | None = "city", seed: int = 1, *, name: str = BENCH_DB,
                       env: str = "BENCH_DATABASE_URL") -> str:
    """A benchmark database: the URL in `env` if set, else `name` in the embedded cluster.

    It is created and migrated on first use, and loaded with the `scale` data set when it has no
    grids yet (scale None: left empty for a benchmark that builds its own); later runs reuse it.
    """
    given = os.environ.get(env)
    if given:
        return normalise_url(given)
    cluster = Cluster()
    cluster.up()
    cluster.ensure_database(name)
    url = cluster.url(name)
    migrate_to_head(url)
    if scale is None:
        return url
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            loaded = conn.execute(text("SELECT count(*) FROM grids")).scalar_one()
        if not loaded:
            print(f"loading the {scale} data set into {name} (once)…", flush=True)
            load(engine, scale=scale, seed=seed, progress=True)
    finally:
        engine.dispose()
    return url


def timed(fn: Callable[[], object], repeat: int = 5, warmup: int = 1) -> list[float]:
    """Wall-clock seconds of `repeat` calls after `warmup` unmeasured ones."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0–100) by linear interpolation."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def report(name: str, ours: list[float], floor: list[float], target: float | None = None) -> float:
    """Print median times and our/floor ratio (both measured in this run); returns the ratio."""
    a, b = statistics.median(ours), statistics.median(floor)
    ratio = a / b if b else float("inf")
    verdict = "" if target is None else ("  ok" if ratio <= target else f"  MISSES target {target:.2f}×")
    print(f"{name}: ours {a * 1000:.1f} ms, floor {b * 1000:.1f} ms, ratio {ratio:.2f}×{verdict}", flush=True)
    return ratio
