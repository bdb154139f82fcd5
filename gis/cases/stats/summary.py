"""The precomputed summary the indicators read: one row per registration day and place, kept current
as cases move (dirty keys recomputed), and rebuilt whole on demand."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import Boolean, Date, Integer

from gis.core import clock

# Definitions (the cohort is the cases *registered* in the period; rejected reports and reports
# merged into another case are not cases). Everything is "as of" the moment the summary row was
# refreshed — on every workflow move, and by the tick for cases that fell due in between.
#   due (应结案)         closed by then, or its original deadline (before any postponement) has passed
#   postponed (延期)     due and postponed at least once
#   closed (结案)        due, not postponed, and closed
#   closed on time       closed, at or before its deadline
#   dispatched (派遣)    dispatched at least once;   reworked (返工): sent back at least once
#   结案率   closure_ratio          = closed / (due − postponed)
#   按期结案率 on_time_closure_ratio = closed on time / (due − postponed)
#   返工率   rework_ratio           = reworked / dispatched
#   延期率   postponement_ratio     = postponed / due
#   handling time: working hours from report to close, over every closed case of the cohort
#   (postponed or not); mean, and p90 by linear interpolation (percentile_cont).
# Postponed cases leave the closure ratios' denominator — they are judged by 延期率 — so closed
# never exceeds due − postponed and every ratio lies in [0, 1]. A ratio with a zero denominator is null.

KEY = ("day", "district_id", "street_id", "community_id", "grid_id", "urgent")
KEY_LIST = ", ".join(KEY)
REST = ", ".join(KEY[1:])  # the key without its date: the month rows share it
COUNTS = ("registered", "due", "postponed", "closed", "closed_on_time", "dispatched", "reworked", "closed_all")


def _key_expr(alias: str) -> str:
    return (f"({alias}.registered_at AT TIME ZONE :tz)::date, coalesce({alias}.district_id, 0), "
            f"coalesce({alias}.street_id, 0), coalesce({alias}.community_id, 0), coalesce({alias}.grid_id, 0), "
            "coalesce(c.urgent, false)")


def local_today(session: Session) -> dt.date:
    """Today in the district's zone (the summary's days are local days)."""
    return clock.today(session)


def _timezone(session: Session) -> str:
    """The district's zone name, for SQL that turns instants into local days."""
    return clock.zone_of(session).key


def mark_due_dirty(session: Session, *, since: dt.datetime | None, until: dt.datetime, timezone: str) -> int:
    """Mark dirty the summary keys of cases whose original deadline passed in (since, until]."""
    window = "e.first_deadline_at <= :until" + (" AND e.first_deadline_at > :since" if since else "")
    return session.execute(text(f"""
        INSERT INTO case_stats_dirty ({KEY_LIST})
        SELECT DISTINCT {_key_expr('e')} FROM events e LEFT JOIN categories c ON c.code = e.category
        WHERE {window} AND e.registered_at IS NOT NULL ORDER BY 1, 2, 3, 4, 5, 6
        ON CONFLICT DO NOTHING
    """), {"since": since, "until": until, "tz": timezone}).rowcount


def refresh_dirty(session: Session, *, now: dt.datetime | None = None) -> int:
    """Recompute the summary rows marked dirty (by the events trigger or the tick); returns how many.

    Two transactions refreshing the same key are serialised by the summary row's lock, taken in
    its own statement before the counting one, so the second counts the first's committed moves.
    Keys another transaction is already refreshing are skipped: it will finish them.
    """
    now = now or clock.now(session)
    keys = session.execute(text(f"""
        WITH taken AS (
            DELETE FROM case_stats_dirty
            WHERE ({KEY_LIST}) IN (SELECT {KEY_LIST} FROM case_stats_dirty ORDER BY {KEY_LIST}
                                   FOR UPDATE SKIP LOCKED)
            RETURNING {KEY_LIST})
        INSERT INTO case_stats_daily ({KEY_LIST}, refreshed_at)
        SELECT {KEY_LIST}, :now FROM taken ORDER BY {KEY_LIST}
        ON CONFLICT ({KEY_LIST}) DO UPDATE SET refreshed_at = EXCLUDED.refreshed_at
        RETURNING {KEY_LIST}
    """), {"now": now}).all()
    if not keys:
        return 0
    _recompute(session, keys, now)
    return len(keys)


_CASES = """
    SELECT k.*, ev.status, ev.closed_at, ev.first_deadline_at, ev.deadline_at, ev.postponed_count,
           ev.rework_count, ev.dispatched_at, ev.handling_work_hours
    FROM {k} JOIN events ev ON ev.registered_at >= (k.day::timestamp AT TIME ZONE :tz)
        AND ev.registered_at < ((k.day + 1)::timestamp AT TIME ZONE :tz)
        AND {grid_match}
        AND coalesce(ev.community_id, 0) = k.community_id AND coalesce(ev.street_id, 0) = k.street_id
        AND coalesce(ev.district_id, 0) = k.district_id
    JOIN categories c ON c.code = ev.category AND c.urgent = k.urgent
    WHERE ev.status NOT IN ('rejected', 'merged')
"""


BATCH = 5000  # keys per recompute statement: bounded work and memory, even for a full rebuild
_K = f"unnest(:day, :district_id, :street_id, :community_id, :grid_id, :urgent) AS k({KEY_LIST})"
_S_IS_K = " AND ".join(f"s.{c} = k.{c}" for c in KEY)


def _key_params(statement: str):
    return text(statement).bindparams(bindparam("day", type_=ARRAY(Date)), bindparam("urgent", type_=ARRAY(Boolean)),
                                      *(bindparam(c, type_=ARRAY(Integer)) for c in KEY[1:5]))


def _recompute(session: Session, keys: list, now: dt.datetime) -> None:
    tz = _timezone(session)
    for start in range(0, len(keys), BATCH):
        batch = keys[start:start + BATCH]
        params = {name: list(values) for name, values in zip(KEY, zip(*batch))}
        # Each statement is a loop over the keys with primary-key lookups: zero the day rows, add what
        # the cases of each key count now, drop rows left with no case; then the same for the months.
        session.execute(_key_params(f"""
            UPDATE case_stats_daily s SET {', '.join(f'{c} = 0' for c in COUNTS)}, handling_hours = '{{}}',
                refreshed_at = :now
            FROM {_K} WHERE {_S_IS_K}
        """), {**params, "now": now})
        session.execute(_key_params(_COUNT_CASES), {**params, "now": now, "tz": tz})
        session.execute(_key_params(f"DELETE FROM case_stats_daily s USING {_K} WHERE s.registered = 0 AND {_S_IS_K}"),
                        params)
        # The months of these days: lock their rows (in key order, after the day rows), then sum the days.
        session.execute(_key_params(f"""
            INSERT INTO case_stats_monthly (month, {REST}, refreshed_at) {_MONTHS}
            ON CONFLICT (month, {REST}) DO UPDATE SET refreshed_at = EXCLUDED.refreshed_at
        """), {**params, "now": now})
        session.execute(_key_params(_SUM_MONTHS), {**params, "now": now})
        session.execute(_key_params(_DROP_EMPTY_MONTHS), {**params, "now": now})


_MONTHS = (f"SELECT DISTINCT date_trunc('month', k.day)::date, {', '.join('k.' + c for c in KEY[1:])}, "
           f"CAST(:now AS timestamptz) FROM {_K} ORDER BY 1, 2, 3, 4, 5, 6")
_D_IN_MONTH = ("d.day >= s.month AND d.day < (s.month + interval '1 month')::date AND "
               + " AND ".join(f"d.{c} = s.{c}" for c in KEY[1:]))
_SUM_MONTHS = f"""
    UPDATE case_stats_monthly s SET ({', '.join(COUNTS)}) = (
            SELECT {', '.join(f'coalesce(sum(d.{c}), 0)' for c in COUNTS)} FROM case_stats_daily d WHERE {_D_IN_MONTH}),
        handling_hours = coalesce((SELECT array_agg(x ORDER BY x) FROM case_stats_daily d, unnest(d.handling_hours) x
                                   WHERE {_D_IN_MONTH}), '{{}}'),
        refreshed_at = :now
    FROM ({_MONTHS}) AS m(month, {REST}, at)
    WHERE s.month = m.month AND {' AND '.join(f's.{c} = m.{c}' for c in KEY[1:])}
"""
_DROP_EMPTY_MONTHS = f"""
    DELETE FROM case_stats_monthly s USING ({_MONTHS}) AS m(month, {REST}, at)
    WHERE s.registered = 0 AND s.month = m.month AND {' AND '.join(f's.{c} = m.{c}' for c in KEY[1:])}
"""


# Two joins rather than coalesce(grid_id, 0) = k.grid_id, so the (grid_id, registered_at) index serves both.
_COUNT_CASES = f"""
    WITH e AS ({_CASES.format(grid_match="ev.grid_id = k.grid_id", k=_K)}
               UNION ALL {_CASES.format(grid_match="k.grid_id = 0 AND ev.grid_id IS NULL", k=_K)}),
    f AS (SELECT *, (status = 'closed' AND closed_at <= :now) AS is_closed FROM e),
    g AS (SELECT *, (is_closed OR first_deadline_at <= :now) AS is_due FROM f),
    h AS (SELECT *, (is_due AND postponed_count > 0) AS is_postponed FROM g),
    agg AS (
        SELECT {KEY_LIST}, count(*) AS registered,
            count(*) FILTER (WHERE is_due) AS due,
            count(*) FILTER (WHERE is_postponed) AS postponed,
            count(*) FILTER (WHERE is_due AND NOT is_postponed AND is_closed) AS closed,
            count(*) FILTER (WHERE is_due AND NOT is_postponed AND is_closed AND closed_at <= deadline_at)
                AS closed_on_time,
            count(*) FILTER (WHERE dispatched_at <= :now) AS dispatched,
            count(*) FILTER (WHERE rework_count > 0) AS reworked,
            count(*) FILTER (WHERE is_closed) AS closed_all,
            coalesce(array_agg(handling_work_hours ORDER BY handling_work_hours)
                     FILTER (WHERE is_closed AND handling_work_hours IS NOT NULL), '{{}}') AS handling_hours
        FROM h GROUP BY {KEY_LIST})
    UPDATE case_stats_daily s SET {', '.join(f'{c} = k.{c}' for c in COUNTS)}, handling_hours = k.handling_hours,
        refreshed_at = :now
    FROM agg k WHERE {_S_IS_K}
"""


def rebuild(session: Session, *, now: dt.datetime | None = None) -> int:
    """Recompute the whole summary from the events (after changing the time zone or categories)."""
    session.execute(text("DELETE FROM case_stats_daily"))
    session.execute(text("DELETE FROM case_stats_monthly"))
    session.execute(text(f"""
        INSERT INTO case_stats_dirty ({KEY_LIST})
        SELECT DISTINCT {_key_expr('e')} FROM events e LEFT JOIN categories c ON c.code = e.category
        WHERE e.registered_at IS NOT NULL ON CONFLICT DO NOTHING
    """), {"tz": _timezone(session)})
    return refresh_dirty(session, now=now)
