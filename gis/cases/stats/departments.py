"""The department league table (issue 25): 按期处置率, 返工率, 退单率 and mean handling time, ranked."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.cases.stats.summary import local_today
from gis.core import clock
from gis.core.errors import InvalidInput
from gis.core.settings import get_settings

# name: (numerator, denominator, higher_is_better). A department's cases are those dispatched to it (it owns
# them now) registered in the period; its returns (退单) are its return moves made in the period.
DEPARTMENT_RATIOS = {
    "on_time_handling_ratio": ("handled_on_time", "due", True),
    "rework_ratio": ("reworked", "dispatched", False),
    "return_ratio": ("returned", "received", False),
}
DEPARTMENT_RANKABLE = (*DEPARTMENT_RATIOS, "handling_hours_mean")

# One statement: per department, its cases of the period and its returns; `due` = handled, or past the deadline.
LEAGUE_SQL = text("""
WITH cases AS (
    SELECT e.owner_department_id AS department_id, count(*) AS dispatched,
           count(*) FILTER (WHERE e.handled_at IS NOT NULL OR e.deadline_at < :now) AS due,
           count(*) FILTER (WHERE e.handled_at IS NOT NULL AND e.handled_at <= e.deadline_at) AS handled_on_time,
           count(*) FILTER (WHERE e.rework_count > 0) AS reworked,
           avg(e.handling_work_hours) AS handling_hours_mean
      FROM events e
     WHERE e.owner_department_id IS NOT NULL AND e.dispatched_at IS NOT NULL
       AND (e.registered_at AT TIME ZONE :tz)::date BETWEEN :first AND :last
     GROUP BY 1),
returns AS (
    SELECT m.department_id, count(*) AS returned FROM event_moves m
     WHERE m.move = 'return' AND m.department_id IS NOT NULL AND (m.at AT TIME ZONE :tz)::date BETWEEN :first AND :last
     GROUP BY 1)
SELECT d.id, d.code, d.name, d.level, coalesce(c.dispatched, 0) AS dispatched, coalesce(c.due, 0) AS due,
       coalesce(c.handled_on_time, 0) AS handled_on_time, coalesce(c.reworked, 0) AS reworked,
       coalesce(r.returned, 0) AS returned, c.handling_hours_mean
  FROM departments d
  LEFT JOIN cases c ON c.department_id = d.id
  LEFT JOIN returns r ON r.department_id = d.id
 WHERE c.department_id IS NOT NULL OR r.department_id IS NOT NULL
 ORDER BY d.code
""")


def department_league(session: Session, *, date_from: dt.date | None = None, date_to: dt.date | None = None,
                      rank_by: str = "on_time_handling_ratio", min_count: int | None = None) -> dict[str, Any]:
    """Every department with cases or returns in the period (registration days, inclusive), its indicators,
    ranked by `rank_by`; one whose denominator is below the minimum count (the ranking setting) gets no rank."""
    if rank_by not in DEPARTMENT_RANKABLE:
        raise InvalidInput("Invalid rank_by", f"`rank_by` is one of: {', '.join(DEPARTMENT_RANKABLE)}.",
                           parameter="rank_by")
    today = local_today(session)
    date_to = date_to or today
    date_from = date_from or date_to.replace(day=1)
    if date_from > date_to:
        raise InvalidInput("Invalid period", "`from` must not be after `to`.", parameter="from")
    min_count = min_count if min_count is not None else int(get_settings(session)["ranking_min_count"])
    tz = clock.zone_of(session)
    rows = []
    for r in session.execute(LEAGUE_SQL, {"now": clock.now(session), "tz": tz.key, "first": date_from,
                                          "last": date_to}).mappings():
        row = dict(r) | {"received": r["dispatched"] + r["returned"]}
        for name, (num, den, _) in DEPARTMENT_RATIOS.items():
            row[name] = round(row[num] / row[den], 4) if row[den] else None
        mean = row["handling_hours_mean"]
        row["handling_hours_mean"] = round(float(mean), 1) if mean is not None else None
        rows.append(row)
    return {"from": date_from.isoformat(), "to": date_to.isoformat(), "rank_by": rank_by, "min_count": min_count,
            "rows": _rank(rows, rank_by, min_count)}


def _rank(rows: list[dict], rank_by: str, min_count: int) -> list[dict]:
    # As the indicators rank (gis.cases.stats.indicators): ties share a rank, small samples get none.
    higher, den = (DEPARTMENT_RATIOS[rank_by][2], DEPARTMENT_RATIOS[rank_by][1]) if rank_by in DEPARTMENT_RATIOS \
        else (False, "dispatched")
    eligible = [r for r in rows if r[den] >= max(min_count, 1) and r[rank_by] is not None]
    others = [r for r in rows if r not in eligible]
    eligible.sort(key=lambda r: (-r[rank_by] if higher else r[rank_by], r["code"]))
    previous, rank = None, 0
    for position, r in enumerate(eligible, start=1):
        if r[rank_by] != previous:
            rank, previous = position, r[rank_by]
        r["rank"] = rank
    for r in others:
        r["rank"] = None
    return eligible + others
