"""Reading the indicators: per group and period from the summary rows, ranked, as JSON or CSV."""
from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.cases.stats.summary import COUNTS, KEY, local_today
from gis.core import clock, dated
from gis.core.errors import InvalidInput, NotFound
from gis.core.settings import get_settings

GROUPS = ("district", "street", "community", "grid", "cadre")
BUCKETS = ("none", "day", "week", "month")
# The ratios over the summary's counts (defined at the top of gis/cases/stats/summary.py).
RATIOS = {
    # name: (numerator, denominator, higher_is_better)
    "closure_ratio": ("closed", "assessed", True),
    "on_time_closure_ratio": ("closed_on_time", "assessed", True),
    "rework_ratio": ("reworked", "dispatched", False),
    "postponement_ratio": ("postponed", "due", False),
}
RANKABLE = (*RATIOS, "handling_hours_mean")


@dataclass
class StatsQuery:
    """What to compute: grouping, period (inclusive dates), buckets, optional area, ranking."""

    group: str = "grid"
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    bucket: str = "none"
    area: str | None = None  # an admin-area code or a grid code to restrict to
    rank_by: str = "on_time_closure_ratio"
    min_count: int | None = None

    def check(self) -> None:
        """Raise InvalidInput naming the parameter that is wrong."""
        if self.group not in GROUPS:
            raise InvalidInput("Invalid group", f"`group` is one of: {', '.join(GROUPS)}.", parameter="group")
        if self.bucket not in BUCKETS:
            raise InvalidInput("Invalid bucket", f"`bucket` is one of: {', '.join(BUCKETS)}.", parameter="bucket")
        if self.rank_by not in RANKABLE:
            raise InvalidInput("Invalid rank_by", f"`rank_by` is one of: {', '.join(RANKABLE)}.", parameter="rank_by")
        if self.date_from and self.date_to and self.date_to < self.date_from:
            raise InvalidInput("Invalid period", "`to` must not be before `from`.", parameter="to")
        if self.min_count is not None and self.min_count < 0:
            raise InvalidInput("Invalid min_count", "`min_count` must be ≥ 0.", parameter="min_count")


@dataclass
class StatsReport:
    """Indicator rows with the parameters that made them."""

    query: StatsQuery
    as_of: str | None
    min_count: int
    rows: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of the API."""
        q = self.query
        return {"group": q.group, "from": q.date_from.isoformat(), "to": q.date_to.isoformat(),
                "bucket": q.bucket, "area": q.area, "rank_by": q.rank_by, "min_count": self.min_count,
                "as_of": self.as_of, "definitions": DEFINITIONS, "rows": self.rows}


DEFINITIONS = {
    "closure_ratio": "结案率 = closed / (due − postponed)",
    "on_time_closure_ratio": "按期结案率 = closed on time / (due − postponed)",
    "rework_ratio": "返工率 = reworked / dispatched",
    "postponement_ratio": "延期率 = postponed / due",
    "handling_hours": "working hours from report to close; mean and p90 (linear interpolation)",
    "cohort": "cases registered in the period, excluding rejected and merged reports",
}


def _group_sql(group: str, rows: str) -> tuple[str, str]:
    """(from-clause adding column `g` to the summary `rows`, and the label query for `g`)."""
    if group == "cadre":
        # A cadre answers for the grids they contract on the day a case was registered: whole grids by
        # code, and drawn areas for the grids more than half inside them. Duplicate contracts count once.
        return (f"""(SELECT DISTINCT cg.cadre_id AS g, s.* FROM {rows} s JOIN (
                        SELECT c.cadre_id, g.id AS grid_id, c.valid_from, c.valid_to
                        FROM contracts c JOIN grids g ON g.code = c.grid_code
                        UNION
                        SELECT c.cadre_id, g.id, c.valid_from, c.valid_to FROM contracts c JOIN grids g
                            ON c.geom IS NOT NULL AND ST_Intersects(c.geom, g.geom)
                            AND ST_Area(ST_Intersection(c.geom, g.geom)::geography) > 0.5 * g.area_m2
                    ) cg ON cg.grid_id = s.grid_id AND {dated.in_force('cg', 's.day', open_start=False)}) s""",
                "SELECT id, code, name FROM cadres WHERE id = ANY(:ids)")
    if group == "grid":
        return (f"(SELECT coalesce(gr.code, '') AS g, s.* FROM {rows} s LEFT JOIN grids gr ON gr.id = s.grid_id) s",
                "SELECT DISTINCT ON (code) code AS id, code, name FROM grids WHERE code = ANY(:ids) "
                "ORDER BY code, valid_to DESC NULLS FIRST")
    return (f"(SELECT s.{group}_id AS g, s.* FROM {rows} s) s",
            "SELECT id, code, name FROM admin_areas WHERE id = ANY(:ids)")


_ROW_COLUMNS = f"{', '.join(KEY[1:])}, {', '.join(COUNTS)}, handling_hours, refreshed_at"


def _rows_sql(query: StatsQuery) -> tuple[str, dict]:
    """The summary rows of the period: month rows for its whole months, day rows for the rest.

    Day and week buckets and cadres (whose contracts start and end on any day) read day rows only.
    """
    d0, end = query.date_from, query.date_to + dt.timedelta(days=1)
    m0 = d0 if d0.day == 1 else _next_month(d0)
    m1 = end.replace(day=1)
    if query.bucket in ("day", "week") or query.group == "cadre" or m1 <= m0:
        m0 = m1 = end
    rows = (f"(SELECT day, {_ROW_COLUMNS} FROM case_stats_daily "
            f" WHERE (day >= :d0 AND day < :m0) OR (day >= :m1 AND day < :d1)"
            f" UNION ALL SELECT month AS day, {_ROW_COLUMNS} FROM case_stats_monthly"
            " WHERE month >= :m0 AND month < :m1)")
    return rows, {"d0": d0, "d1": end, "m0": m0, "m1": m1}


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _bucket_sql(bucket: str) -> str:
    return {"none": "CAST(:d0 AS date)", "day": "s.day", "week": "date_trunc('week', s.day)::date",
            "month": "date_trunc('month', s.day)::date"}[bucket]


def _area_filter(session: Session, code: str | None) -> tuple[str, dict]:
    if not code:
        return "", {}
    if len(code) == 15:
        ids = list(session.scalars(text("SELECT id FROM grids WHERE code = :code"), {"code": code}))
        if not ids:
            raise NotFound("No such grid", f"No grid has code {code}.")
        return " AND s.grid_id = ANY(:area_ids)", {"area_ids": ids}
    row = session.execute(text("SELECT id, level FROM admin_areas WHERE code = :code"), {"code": code}).first()
    if row is None:
        raise NotFound("No such area", f"No district, street or community has code {code}.")
    return f" AND s.{row.level}_id = :area_id", {"area_id": row.id}


def indicators(session: Session, query: StatsQuery) -> StatsReport:
    """The indicators per group (and period bucket) over the period, ranked with the minimum-count guard.

    Reads only the summary rows of the period (index on day), never the events table.
    """
    query.check()
    today = local_today(session)
    query.date_to = query.date_to or today
    query.date_from = query.date_from or query.date_to.replace(day=1)
    if query.date_to < query.date_from:
        raise InvalidInput("Invalid period", "`to` must not be before `from`.", parameter="to")
    min_count = query.min_count if query.min_count is not None else int(get_settings(session)["ranking_min_count"])
    rows_sql, params = _rows_sql(query)
    source, labels_sql = _group_sql(query.group, rows_sql)
    area_sql, area_params = _area_filter(session, query.area)
    params.update(area_params)
    sums = ", ".join(f"sum(s.{c})::int AS {c}, (sum(s.{c}) FILTER (WHERE s.urgent))::int AS u_{c}" for c in COUNTS)
    # One pass over the period's summary rows: the sums, and the hours unnested once; the urgent
    # figures are the same aggregates with FILTER (WHERE urgent).
    result = session.execute(text(f"""
        WITH s AS MATERIALIZED (SELECT s.*, {_bucket_sql(query.bucket)} AS period FROM {source}
                                WHERE true{area_sql}),
        c AS (SELECT s.g, s.period, {sums}, max(s.refreshed_at) AS as_of FROM s GROUP BY s.g, s.period),
        h AS (SELECT s.g, s.period, avg(x) AS mean, percentile_cont(0.9) WITHIN GROUP (ORDER BY x) AS p90,
                     avg(x) FILTER (WHERE s.urgent) AS u_mean,
                     percentile_cont(0.9) WITHIN GROUP (ORDER BY x) FILTER (WHERE s.urgent) AS u_p90
              FROM s CROSS JOIN LATERAL unnest(s.handling_hours) AS x GROUP BY s.g, s.period)
        SELECT * FROM c LEFT JOIN h USING (g, period)
    """), params).all()
    ids = sorted({r.g for r in result if r.g not in (None, "", 0)})
    labels = {r.id: {"code": r.code, "name": r.name}
              for r in session.execute(text(labels_sql), {"ids": ids})} if ids else {}
    nobody = {"code": None, "name": "无网格 no grid" if query.group == "grid" else None}
    rows = []
    periods = {p: _period_label(query, p) for p in {r.period for r in result}}
    for r in result:
        m = r._mapping
        row = {query.group: labels.get(r.g, nobody), "period": periods[r.period],
               **_block([m[c] for c in COUNTS], m["mean"], m["p90"]),
               "urgent": _block([m[f"u_{c}"] for c in COUNTS], m["u_mean"], m["u_p90"])}
        rows.append(row)
    as_of = max((r.as_of for r in result), default=None)
    ranked = _rank(rows, query.rank_by, min_count)
    return StatsReport(query=query, as_of=clock.iso(as_of, clock.zone_of(session)), min_count=min_count, rows=ranked)


def _block(counts: list, mean, p90) -> dict[str, Any]:
    block = dict(zip(COUNTS, (int(v or 0) for v in counts)))
    block["assessed"] = block["due"] - block["postponed"]
    for name, (num, den, _) in RATIOS.items():
        block[name] = round(block[num] / block[den], 6) if block[den] else None
    block["handling_hours_mean"] = round(float(mean), 4) if mean is not None else None
    block["handling_hours_p90"] = round(float(p90), 4) if p90 is not None else None
    return block


def _period_label(query: StatsQuery, period: dt.date | None) -> str:
    if query.bucket == "none" or period is None:
        return f"{query.date_from.isoformat()}/{query.date_to.isoformat()}"
    if query.bucket == "week":
        year, week, _ = period.isocalendar()
        return f"{year}-W{week:02d}"
    return period.strftime("%Y-%m") if query.bucket == "month" else period.isoformat()


def _denominator(rank_by: str) -> str:
    return RATIOS[rank_by][1] if rank_by in RATIOS else "closed_all"


def _rank(rows: list[dict], rank_by: str, min_count: int) -> list[dict]:
    """Rank within each period by `rank_by`; rows whose denominator is below `min_count` get no rank.

    Ties share a rank (1, 2, 2, 4); unranked rows follow the ranked ones.
    """
    higher_better = RATIOS[rank_by][2] if rank_by in RATIOS else False
    den = _denominator(rank_by)
    out = []
    by_period: dict[str, list[dict]] = {}
    for r in rows:
        by_period.setdefault(r["period"], []).append(r)
    for period in sorted(by_period):
        in_period = by_period[period]
        eligible, others = [], []
        for r in in_period:
            (eligible if r[den] >= max(min_count, 1) and r[rank_by] is not None else others).append(r)
        eligible.sort(key=lambda r: (-r[rank_by] if higher_better else r[rank_by], _name_key(r)))
        previous, rank = None, 0
        for position, r in enumerate(eligible, start=1):
            if r[rank_by] != previous:
                rank, previous = position, r[rank_by]
            r["rank"] = rank
        for r in sorted(others, key=_name_key):
            r["rank"] = None
        out.extend(eligible + others)
    return out


def _name_key(row: dict) -> str:
    label = next((row[g] for g in GROUPS if g in row), {}) or {}
    return str(label.get("code") or "")


CSV_FIELDS = ("code", "name", "period", *COUNTS, "assessed", *RATIOS, "handling_hours_mean", "handling_hours_p90",
              "rank")


def to_csv(report: StatsReport) -> str:
    """The report as CSV: one line per group and period, urgent cases in `urgent_*` columns."""
    out = io.StringIO()
    urgent_fields = [f"urgent_{f}" for f in CSV_FIELDS[3:-1]]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*CSV_FIELDS, *urgent_fields])
    for row in report.rows:
        label = row[report.query.group]
        values = [label.get("code"), label.get("name"), row["period"], *(row[f] for f in CSV_FIELDS[3:])]
        values += [row["urgent"][f[len("urgent_"):]] for f in urgent_fields]
        writer.writerow(["" if v is None else v for v in values])
    return out.getvalue()
