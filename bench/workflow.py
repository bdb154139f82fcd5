"""The assessment read paths and a workflow move at city scale, against bare-SQL floors measured in the same run.

Builds its own database `gridgov_bench_workflow` (10,000 grids of 100 m in a 10 km square, and
BENCH_WORKFLOW_EVENTS cases over 90 days, default 300,000, with registered / dispatched / closed /
postponed / reworked mixes) once, in the embedded cluster or BENCH_WORKFLOW_DATABASE_URL.
"""
from __future__ import annotations

import datetime as dt
import os
import random
import time

from sqlalchemy import select, text

from bench.common import bench_database_url, report, timed
from gis.cases import stats, workflow
from gis.core.db import make_engine, session_factory
from gis.core.models import User
from gis.core.users import create_user

DB = "gridgov_bench_workflow"
SIDE = 100  # grids per side: 100 × 100 = 10,000


def database_url() -> str:
    """The benchmark database, created and migrated on first use (its cases are built below)."""
    return bench_database_url(None, name=DB, env="BENCH_WORKFLOW_DATABASE_URL")


AREAS = (
    """
            INSERT INTO admin_areas (level, code, name, geom)
            VALUES ('district', '310199', '基准区',
                    ST_Multi(ST_MakeEnvelope(:x0, :y0, :x0 + 100 * :dx, :y0 + 100 * :dy, 4326)))
    """,
    """
            INSERT INTO admin_areas (level, code, name, parent_id, geom)
            SELECT 'street', '310199' || lpad(s::text, 3, '0'), '街道' || s,
                   (SELECT id FROM admin_areas WHERE code = '310199'),
                   ST_Multi(ST_MakeEnvelope(:x0, :y0 + (s - 1) * 10 * :dy, :x0 + 100 * :dx, :y0 + s * 10 * :dy, 4326))
            FROM generate_series(1, 10) s
    """,
    """
            INSERT INTO admin_areas (level, code, name, parent_id, geom)
            SELECT 'community', st.code || lpad(c::text, 3, '0'), st.name || '社区' || c, st.id,
                   ST_Multi(ST_MakeEnvelope(:x0 + (c - 1) * 10 * :dx, ST_YMin(st.geom),
                                            :x0 + c * 10 * :dx, ST_YMax(st.geom), 4326))
            FROM admin_areas st, generate_series(1, 10) c WHERE st.level = 'street'
    """,
    """
            INSERT INTO grids (code, name, community_id, geom)
            SELECT com.code || lpad((gy * 10 + gx + 1)::text, 3, '0'), '网格' || (gy * 10 + gx + 1), com.id,
                   ST_Multi(ST_MakeEnvelope(ST_XMin(com.geom) + gx * :dx, ST_YMin(com.geom) + gy * :dy,
                                            ST_XMin(com.geom) + (gx + 1) * :dx, ST_YMin(com.geom) + (gy + 1) * :dy,
                                            4326))
            FROM admin_areas com, generate_series(0, 9) gx, generate_series(0, 9) gy WHERE com.level = 'community'
    """,
)


def load(engine, events: int) -> None:
    """10,000 square grids in 100 communities and 10 streets, and `events` cases with workflow facts."""
    started = time.perf_counter()
    # Metres to degrees near 31°N (good enough for synthetic squares).
    params = {"dx": 100 / 95_400.0, "dy": 100 / 110_900.0, "x0": 121.3, "y0": 31.1, "n": events}
    with engine.begin() as conn:
        for statement in AREAS:
            conn.execute(text(statement), params)
        conn.execute(text("""
            WITH cat AS (SELECT array_agg(code ORDER BY code) AS codes FROM categories WHERE kind = 'event'),
            g AS (SELECT array_agg(id ORDER BY id) AS ids FROM grids),
            raw AS (
                SELECT i, g.ids[1 + (hashint4(i) & 2147483647) % array_length(g.ids, 1)] AS grid_id,
                       cat.codes[1 + (hashint4(i + 7) & 2147483647) % array_length(cat.codes, 1)] AS category,
                       now() - interval '90 days' * random() AS reported_at,
                       random() AS r1, random() AS r2, random() AS r3
                FROM generate_series(1, :n) i, cat, g),
            facts AS (
                SELECT raw.*, gr.community_id, com.parent_id AS street_id, st.parent_id AS district_id,
                       ST_PointOnSurface(gr.geom) AS geom, c.time_limit_hours,
                       raw.reported_at + interval '1 hour' * c.time_limit_hours * 3 AS deadline
                FROM raw JOIN grids gr ON gr.id = raw.grid_id JOIN admin_areas com ON com.id = gr.community_id
                JOIN admin_areas st ON st.id = com.parent_id JOIN categories c ON c.code = raw.category)
            INSERT INTO events (geom, category, title, status, occurred_at, reported_at, grid_id, community_id,
                                street_id, district_id, assign_status, level, registered_at, dispatched_at, closed_at,
                                first_deadline_at, deadline_at, postponed_count, rework_count, handling_work_hours,
                                updated_at)
            SELECT geom, category, '基准事件 ' || i,
                   CASE WHEN r1 < 0.05 THEN 'reported' WHEN r1 < 0.08 THEN 'rejected'
                        WHEN r1 < 0.75 AND reported_at + interval '1 hour' * time_limit_hours * 4 * r2 < now()
                             THEN 'closed'
                        WHEN r1 < 0.85 THEN 'dispatched' ELSE 'in_progress' END,
                   reported_at, reported_at, grid_id, community_id, street_id, district_id, 'inside', 'grid',
                   CASE WHEN r1 >= 0.05 THEN reported_at + interval '10 minutes' END,
                   CASE WHEN r1 >= 0.08 THEN reported_at + interval '30 minutes' END,
                   CASE WHEN r1 >= 0.08 AND r1 < 0.75
                             AND reported_at + interval '1 hour' * time_limit_hours * 4 * r2 < now()
                        THEN reported_at + interval '1 hour' * time_limit_hours * 4 * r2 END,
                   deadline, CASE WHEN r3 < 0.05 THEN deadline + interval '2 days' ELSE deadline END,
                   CASE WHEN r3 < 0.05 THEN 1 ELSE 0 END, CASE WHEN r3 > 0.92 THEN 1 ELSE 0 END,
                   time_limit_hours * 1.3 * r2, now()
            FROM facts
        """), params)
        conn.execute(text("UPDATE events SET handling_work_hours = NULL WHERE status <> 'closed'"))
    print(f"  loaded 10,000 grids and {events:,} cases in {time.perf_counter() - started:.0f} s", flush=True)
    started = time.perf_counter()
    with session_factory(engine)() as session:
        keys = stats.rebuild(session)
        stats.refresh_counters(session)
        session.commit()
    print(f"  summary rebuilt: {keys:,} rows in {time.perf_counter() - started:.0f} s", flush=True)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))


# The same figures straight from the events table (what the summary saves), urgent split included.
DIRECT = """
    WITH e AS (
        SELECT ev.grid_id, c.urgent, (ev.status = 'closed') AS closed_, ev.closed_at, ev.deadline_at,
               (ev.status = 'closed' OR ev.first_deadline_at <= now()) AS due_, ev.postponed_count > 0 AS postponed_,
               ev.dispatched_at IS NOT NULL AS dispatched_, ev.rework_count > 0 AS reworked_,
               ev.handling_work_hours AS x
        FROM events ev JOIN categories c ON c.code = ev.category
        WHERE ev.registered_at >= :t0 AND ev.registered_at < :t1 AND ev.status NOT IN ('rejected', 'merged'))
    SELECT grid_id, count(*), count(*) FILTER (WHERE due_), count(*) FILTER (WHERE due_ AND postponed_),
           count(*) FILTER (WHERE due_ AND closed_ AND NOT postponed_),
           count(*) FILTER (WHERE due_ AND closed_ AND NOT postponed_ AND closed_at <= deadline_at),
           count(*) FILTER (WHERE dispatched_), count(*) FILTER (WHERE reworked_), count(*) FILTER (WHERE closed_),
           count(*) FILTER (WHERE due_ AND urgent), count(*) FILTER (WHERE due_ AND postponed_ AND urgent),
           count(*) FILTER (WHERE due_ AND closed_ AND NOT postponed_ AND urgent),
           count(*) FILTER (WHERE due_ AND closed_ AND NOT postponed_ AND closed_at <= deadline_at AND urgent),
           count(*) FILTER (WHERE dispatched_ AND urgent), count(*) FILTER (WHERE reworked_ AND urgent),
           avg(x), percentile_cont(0.9) WITHIN GROUP (ORDER BY x), avg(x) FILTER (WHERE urgent),
           percentile_cont(0.9) WITHIN GROUP (ORDER BY x) FILTER (WHERE urgent)
    FROM e GROUP BY grid_id
"""
# The floor: the same figures per grid from the summary in one raw statement, without labels,
# ranking or shaping (sums, urgent sums, mean and p90 of the hours, overall and urgent).
SUMMARY_FLOOR = """
    WITH s AS MATERIALIZED (SELECT * FROM case_stats_daily WHERE day >= :d0 AND day < :d1),
    c AS (SELECT grid_id, sum(registered), sum(due), sum(postponed), sum(closed), sum(closed_on_time),
                 sum(dispatched), sum(reworked), sum(closed_all), sum(due) FILTER (WHERE urgent),
                 sum(postponed) FILTER (WHERE urgent), sum(closed) FILTER (WHERE urgent),
                 sum(closed_on_time) FILTER (WHERE urgent), sum(dispatched) FILTER (WHERE urgent),
                 sum(reworked) FILTER (WHERE urgent) FROM s GROUP BY grid_id),
    h AS (SELECT grid_id, avg(x), percentile_cont(0.9) WITHIN GROUP (ORDER BY x), avg(x) FILTER (WHERE urgent),
                 percentile_cont(0.9) WITHIN GROUP (ORDER BY x) FILTER (WHERE urgent)
          FROM s CROSS JOIN LATERAL unnest(handling_hours) x GROUP BY grid_id)
    SELECT * FROM c LEFT JOIN h USING (grid_id)
"""
LIVE_COUNTERS = """
    SELECT (SELECT count(*) FROM events
                WHERE status IN ('reported', 'registered', 'dispatched', 'in_progress', 'handled')),
           (SELECT count(*) FROM events
                WHERE status IN ('reported', 'registered', 'dispatched', 'in_progress', 'handled')
                AND deadline_at < now()),
           (SELECT sum(due) FROM case_stats_daily WHERE day > current_date - 30)
"""


def main() -> None:
    """Print our time, the floor's, and the ratio for each read path and for one move."""
    events = int(os.environ.get("BENCH_WORKFLOW_EVENTS", "300000"))
    engine = make_engine(database_url())
    with engine.connect() as conn:
        if not conn.execute(text("SELECT count(*) FROM grids")).scalar_one():
            conn.close()
            print(f"loading the workflow benchmark data set into {DB} (once)…", flush=True)
            load(engine, events)
    Session = session_factory(engine)
    with Session() as session:
        n_events, n_rows = session.execute(text(
            "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM case_stats_daily)")).one()
        print(f"  {n_events:,} events, {n_rows:,} summary rows", flush=True)
        today = stats.local_today(session)
        d0 = today - dt.timedelta(days=29)
        t0 = dt.datetime.combine(d0, dt.time(), dt.timezone(dt.timedelta(hours=8)))
        t1 = t0 + dt.timedelta(days=30)
        query = stats.StatsQuery(group="grid", date_from=d0, date_to=today)
        ours = timed(lambda: stats.indicators(session, query), repeat=5)
        first = today.replace(day=1)
        last_month = (first - dt.timedelta(days=1)).replace(day=1)
        whole = stats.StatsQuery(group="grid", date_from=last_month, date_to=first - dt.timedelta(days=1))
        # The same number of days shifted by one, so no whole month: day rows only.
        days_only = stats.StatsQuery(group="grid", date_from=last_month + dt.timedelta(days=1), date_to=first)
        session.execute(text("SET LOCAL jit = off"))
        floor = timed(lambda: session.execute(text(SUMMARY_FLOOR),
                                              {"d0": d0, "d1": today + dt.timedelta(days=1)}).all())
        direct = timed(lambda: session.execute(text(DIRECT), {"t0": t0, "t1": t1}).all())
        report("stats per grid, 30 days (indicators() vs the same figures in raw SQL on the summary)", ours, floor)
        report("  for scale: the figures straight from events vs from the summary (raw SQL both)", direct, floor)
        report("stats per grid, last calendar month (month rows vs day rows, both indicators())",
               timed(lambda: stats.indicators(session, whole)), timed(lambda: stats.indicators(session, days_only)))
        query = stats.StatsQuery(group="street", date_from=d0, date_to=today)
        report("stats per street, 30 days", timed(lambda: stats.indicators(session, query)), floor)
        report("command-center counters (the tick's view vs counting live)",
               timed(lambda: stats.counters(session), repeat=20),
               timed(lambda: session.execute(text(LIVE_COUNTERS)).one(), repeat=5))
        report("  refreshing the counters view (once per tick)", timed(lambda: stats.refresh_counters(session)),
               timed(lambda: session.execute(text(LIVE_COUNTERS)).one(), repeat=5))
        session.rollback()

        user = session.scalar(text("SELECT id FROM users WHERE name = 'bench-commander'"))
        if user is None:
            create_user(session, "bench-commander", "commander")
            session.commit()
        boss = session.scalar(select(User).where(User.name == "bench-commander"))
        ids = [r[0] for r in session.execute(text(
            "SELECT id FROM events WHERE status = 'dispatched' ORDER BY id LIMIT 200"))]
        rng = random.Random(1)

        def move():
            workflow.apply_move(session, rng.choice(ids), boss, "note", note="基准备注")
            session.rollback()

        def bare():
            event_id = rng.choice(ids)
            session.execute(text("SELECT * FROM events WHERE id = :id FOR UPDATE"), {"id": event_id})
            session.execute(text("INSERT INTO event_moves (event_id, move, from_status, to_status, note) "
                                 "VALUES (:id, 'note', 'dispatched', 'dispatched', 'x')"), {"id": event_id})
            session.execute(text("UPDATE events SET updated_at = now() WHERE id = :id"), {"id": event_id})
            session.rollback()

        report("one workflow move incl. checks and summary refresh (vs bare lock + insert + update)",
               timed(move, repeat=30, warmup=3), timed(bare, repeat=30, warmup=3))
    engine.dispose()
