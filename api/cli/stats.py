"""`gridgov stats` and `gridgov stats rebuild` (issue #8): the assessment indicators, the summary behind them."""
from __future__ import annotations

import datetime as dt
import json

import click

from api.cli.common import workflow_session
from api.cli.table import table
from api.listing import more_line
from gis.cases.stats import StatsQuery, StatsReport, department_league, indicators, rebuild, to_csv
from webmap.catalog import say

# The table's columns (the CSV has them all): counts, then ratios as %, then hours.
COUNT_COLUMNS = ("registered", "closed", "assessed")
RATIO_COLUMNS = ("closure_ratio", "on_time_closure_ratio", "rework_ratio", "postponement_ratio")
HOUR_COLUMNS = ("handling_hours_mean",)
LISTED = 50  # rows the table shows by default; --limit changes it, --csv gives them all


@click.group("stats", invoke_without_command=True)
@click.option("--group", default="grid", show_default=True,
              type=click.Choice(["district", "street", "community", "grid", "cadre", "department"]))
@click.option("--from", "date_from", help="First registration day (YYYY-MM-DD; default: 1st of this month).")
@click.option("--to", "date_to", help="Last registration day, inclusive (default: today).")
@click.option("--bucket", default="none", show_default=True, type=click.Choice(["none", "day", "week", "month"]))
@click.option("--area", help="Only inside this district / street / community / grid code.")
@click.option("--min-count", type=int, help="Rank only groups with at least this many cases.")
@click.option("--rank-by", default="on_time_closure_ratio", show_default=True)
@click.option("--csv", "as_csv", is_flag=True, help="Every column as CSV, with stable machine headers.")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
@click.option("--limit", default=LISTED, show_default=True, help="Rows the table lists (the rest are counted).")
@click.pass_context
def stats(ctx, group, date_from, date_to, bucket, area, min_count, rank_by, as_csv, as_json, limit) -> None:
    """The evaluation indicators: a table to read, or all of them as CSV or JSON."""
    if ctx.invoked_subcommand:
        return

    def day(value, name):
        try:
            return dt.date.fromisoformat(value) if value else None
        except ValueError:
            raise click.BadParameter(say("cli.stats.bad_date", name=name)) from None

    if group == "department":
        with workflow_session() as session:
            league = department_league(session, date_from=day(date_from, "--from"), date_to=day(date_to, "--to"),
                                       rank_by=rank_by if rank_by != "on_time_closure_ratio" else
                                       "on_time_handling_ratio", min_count=min_count)
        click.echo(json.dumps(league, ensure_ascii=False, indent=1) if as_json else "\n".join(league_table(league)))
        return
    query = StatsQuery(group=group, date_from=day(date_from, "--from"), date_to=day(date_to, "--to"),
                       bucket=bucket, area=area, rank_by=rank_by, min_count=min_count)
    with workflow_session() as session:
        report = indicators(session, query)
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=1))
    elif as_csv:
        click.echo(to_csv(report), nl=False)
    else:
        for line in readable(report, limit):
            click.echo(line)


def readable(report: StatsReport, limit: int) -> list[str]:
    """The report as an aligned table in the command line's language, cut at `limit` rows (saying how many more)."""
    q = report.query
    periods = q.bucket != "none"
    headers = [say("cli.stats.col.rank"), say("cli.stats.col.code"), say(f"cli.stats.col.{q.group}")]
    headers += [say("cli.stats.col.period")] if periods else []
    headers += [say(f"cli.stats.col.{c}") for c in COUNT_COLUMNS + RATIO_COLUMNS + HOUR_COLUMNS]
    right = [True, False, False] + [False] * periods + [True] * (len(headers) - 3 - periods)
    rows = []
    for r in report.rows[:max(limit, 0)]:
        label = r[q.group] or {}
        row = ["—" if r["rank"] is None else str(r["rank"]), label.get("code") or "—", label.get("name") or "—"]
        row += [r["period"]] if periods else []
        row += [f"{r[c]:,}" for c in COUNT_COLUMNS]
        row += ["—" if r[c] is None else f"{r[c]:.1%}" for c in RATIO_COLUMNS]
        row += ["—" if r[c] is None else f"{r[c]:,.1f}" for c in HOUR_COLUMNS]
        rows.append(row)
    out = [say("cli.stats.title", start=q.date_from.isoformat(), end=q.date_to.isoformat(),
               group=say(f"cli.stats.col.{q.group}"), n=len(report.rows), as_of=report.as_of or "—")]
    out += table(headers, rows, right) if rows else [say("cli.stats.empty")]
    if len(report.rows) > len(rows):
        out.append(more_line(len(report.rows) - len(rows)))
    return out


DEPARTMENT_COLUMNS = ("dispatched", "returned", "on_time_handling_ratio", "rework_ratio", "return_ratio",
                      "handling_hours_mean")


def league_table(league: dict) -> list[str]:
    """The department league table as an aligned table in the command line's language."""
    headers = [say("cli.stats.col.rank"), say("cli.stats.col.code"), say("cli.stats.col.department")]
    headers += [say(f"cli.stats.col.{c}") for c in DEPARTMENT_COLUMNS]
    rows = []
    for r in league["rows"]:
        row = ["—" if r["rank"] is None else str(r["rank"]), r["code"], r["name"], f"{r['dispatched']:,}",
               f"{r['returned']:,}"]
        row += ["—" if r[c] is None else f"{r[c]:.1%}" for c in DEPARTMENT_COLUMNS[2:5]]
        row.append("—" if r["handling_hours_mean"] is None else f"{r['handling_hours_mean']:,.1f}")
        rows.append(row)
    out = [say("cli.stats.title", start=league["from"], end=league["to"], group=say("cli.stats.col.department"),
               n=len(rows), as_of="—")]
    return out + (table(headers, rows, [True, False, False] + [True] * len(DEPARTMENT_COLUMNS)) if rows
                  else [say("cli.stats.empty")])


@stats.command("rebuild")
def stats_rebuild() -> None:
    """Recompute the whole assessment summary from the events."""
    with workflow_session() as session:
        keys = rebuild(session)
        session.commit()
    click.echo(say("cli.stats.rebuilt", n=keys))
