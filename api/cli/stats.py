"""`gridgov stats` and `gridgov stats rebuild` (issue #8): the assessment indicators, the summary behind them."""
from __future__ import annotations

import datetime as dt
import json

import click

from api.cli.common import workflow_session
from gis.cases.stats import StatsQuery, indicators, rebuild, to_csv
from webmap.catalog import say


@click.group("stats", invoke_without_command=True)
@click.option("--group", default="grid", show_default=True,
              type=click.Choice(["district", "street", "community", "grid", "cadre"]))
@click.option("--from", "date_from", help="First registration day (YYYY-MM-DD; default: 1st of this month).")
@click.option("--to", "date_to", help="Last registration day, inclusive (default: today).")
@click.option("--bucket", default="none", show_default=True, type=click.Choice(["none", "day", "week", "month"]))
@click.option("--area", help="Only inside this district / street / community / grid code.")
@click.option("--min-count", type=int, help="Rank only groups with at least this many cases.")
@click.option("--rank-by", default="on_time_closure_ratio", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="JSON instead of CSV.")
@click.pass_context
def stats(ctx, group, date_from, date_to, bucket, area, min_count, rank_by, as_json) -> None:
    """The evaluation indicators as CSV (or JSON) on standard output."""
    if ctx.invoked_subcommand:
        return

    def day(value, name):
        try:
            return dt.date.fromisoformat(value) if value else None
        except ValueError:
            raise click.BadParameter(say("cli.stats.bad_date", name=name)) from None

    query = StatsQuery(group=group, date_from=day(date_from, "--from"), date_to=day(date_to, "--to"),
                       bucket=bucket, area=area, rank_by=rank_by, min_count=min_count)
    with workflow_session() as session:
        report = indicators(session, query)
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=1))
    else:
        click.echo(to_csv(report), nl=False)


@stats.command("rebuild")
def stats_rebuild() -> None:
    """Recompute the whole assessment summary from the events."""
    with workflow_session() as session:
        keys = rebuild(session)
        session.commit()
    click.echo(say("cli.stats.rebuilt", n=keys))
