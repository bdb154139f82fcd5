"""The command-center counters: open and overdue cases, and the last 30 days' closure ratios."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.cases.stats.summary import local_today
from gis.core import clock


def refresh_counters(session: Session) -> None:
    """Recompute the command-center counters (the tick does this; readers never wait for it)."""
    session.execute(text("REFRESH MATERIALIZED VIEW CONCURRENTLY case_counters"))


def counters(session: Session, grid_codes: list[str] | None = None) -> dict[str, Any]:
    """The command-center counters as of the last tick: open and overdue cases, and the closure
    ratios of the cases registered in the last 30 days.

    For everyone, one row of the view the tick refreshes; for a worker's few grids, their open
    cases the tick flagged overdue and their summary rows (index on grid and day) — never a scan
    of all events per page view.
    """
    if grid_codes is None:
        row = session.execute(text("SELECT * FROM case_counters")).mappings().one()
        overdue, as_of = row["overdue"], row["refreshed_at"]
        sums = (row["due_30d"], row["postponed_30d"], row["closed_30d"], row["closed_on_time_30d"])
    else:
        ids = list(session.scalars(text("SELECT id FROM grids WHERE code = ANY(:c)"), {"c": list(grid_codes)}))
        overdue = session.execute(text(
            "SELECT count(*) FROM events WHERE grid_id = ANY(:ids) AND event_is_open(status) "
            "AND overdue_since IS NOT NULL"), {"ids": ids}).scalar_one()
        today = local_today(session)
        sums = session.execute(text("""
            SELECT coalesce(sum(due), 0), coalesce(sum(postponed), 0), coalesce(sum(closed), 0),
                   coalesce(sum(closed_on_time), 0)
            FROM case_stats_daily WHERE grid_id = ANY(:ids) AND day > :d0 AND day <= :d1
        """), {"ids": ids, "d0": today - dt.timedelta(days=30), "d1": today}).one()
        as_of = session.execute(text("SELECT refreshed_at FROM case_counters")).scalar_one()
        row = None
    due, postponed, closed, on_time = (int(v) for v in sums)
    assessed = due - postponed
    return {"open": row["open"] if row is not None else None, "overdue": overdue,
            "closure_ratio": round(closed / assessed, 6) if assessed else None,
            "on_time_closure_ratio": round(on_time / assessed, 6) if assessed else None,
            "period_days": 30, "as_of": clock.iso(as_of, clock.zone_of(session))}
