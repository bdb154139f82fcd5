"""Coverage of a whole district (gis.cadres.coverage.coverage_of) against a bare ST_Union + ST_Area floor.

Targets: the demo district under 300 ms, the city (10k grids, 1,500 cadres) under 1.5 s. The
floor is the least any answer to "how much is covered" costs: dissolve the same contracts'
geometries (the district's contracted grids and the drawn polygons over them, in force today)
and take the geodesic area, measured in the same run. coverage_of does much more (buildings,
households, events, shared and uncovered grids, per-cadre load) in one statement.
"""
from __future__ import annotations

import statistics

from sqlalchemy import text

from bench.common import bench_database_url, report, timed
from gis.cadres.coverage import coverage_of
from gis.core.db import make_engine, session_factory
from gis.spatial.areas import area_by_code, communities_of

TARGET_S = {"demo": 0.3, "city": 1.5}

FLOOR_SQL = text("""
SELECT ST_Area(ST_Union(geom)::geography) FROM (
    SELECT g.geom FROM contracts k JOIN grids g ON g.code = k.grid_code AND g.valid_to IS NULL
    WHERE k.valid_from <= CURRENT_DATE AND (k.valid_to IS NULL OR k.valid_to > CURRENT_DATE)
      AND g.community_id = ANY(CAST(:communities AS integer[]))
    UNION ALL
    SELECT k.geom FROM contracts k
    WHERE k.geom IS NOT NULL AND k.valid_from <= CURRENT_DATE AND (k.valid_to IS NULL OR k.valid_to > CURRENT_DATE)
      AND EXISTS (SELECT 1 FROM grids g WHERE g.valid_to IS NULL AND ST_Intersects(g.geom, k.geom)
                  AND g.community_id = ANY(CAST(:communities AS integer[])))
) x
""")


def demo_database_url(seed: int = 1) -> str:
    """A database holding the `demo` district (BENCH_DEMO_DATABASE_URL, or `gridgov_bench_demo`)."""
    return bench_database_url("demo", seed, name="gridgov_bench_demo", env="BENCH_DEMO_DATABASE_URL")


def run(scale: str, url: str) -> None:
    """Time coverage_of over each district of the database against the floor, and check the target."""
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            session.execute(text("ANALYZE"))
            for code in session.scalars(text("SELECT code FROM admin_areas WHERE level = 'district' ORDER BY code")):
                communities = communities_of(session, area_by_code(session, code))
                result = coverage_of(session, code)
                ours = timed(lambda code=code: coverage_of(session, code), repeat=5)
                floor = timed(lambda c=communities: session.execute(FLOOR_SQL, {"communities": c}).scalar(),
                              repeat=5)
                session.rollback()
                print(f"{scale} district {code}: {result.grids} grids, {len(result.cadres)} cadres holding, "
                      f"{result.buildings.total} buildings; coverage {result.coverage_ratio or 0:.1%}, "
                      f"{len(result.uncovered_grids)} uncovered, {len(result.shared_grids)} shared")
                report(f"coverage_of({code}) vs ST_Union+ST_Area", ours, floor)
                median = statistics.median(ours)
                verdict = "ok" if median < TARGET_S[scale] else "MISSES target"
                print(f"  median {median * 1000:.0f} ms, target < {TARGET_S[scale] * 1000:.0f} ms: {verdict}",
                      flush=True)
    finally:
        engine.dispose()


def main() -> None:
    """Whole demo district, then the city-scale data set."""
    run("demo", demo_database_url())
    run("city", bench_database_url("city"))


if __name__ == "__main__":
    main()
