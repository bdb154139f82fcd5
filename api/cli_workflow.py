"""`gridgov workflow …` and `gridgov stats …` (issue #8): the tick, settings, the calendar, the indicators.

api/cli.py registers them; this module imports nothing of it at load time (python -m api.cli would
otherwise import itself twice), and `gridgov`'s own group turns domain errors into one clear line.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import sys
import time
from pathlib import Path

import click

from gis.core import clock


def _engine():
    from gis.core.db import make_engine, resolve_database_url

    return make_engine(resolve_database_url())


def _session(engine=None):
    from sqlalchemy import text

    from gis.core.db import session_factory
    from gis.core.errors import SetupRequired

    session = session_factory(engine or _engine())()
    if session.execute(text("SELECT to_regclass('workflow_settings')")).scalar() is None:
        session.close()
        raise SetupRequired("The database has no workflow schema", "Run `gridgov db migrate` first.")
    return session


@click.group()
def workflow() -> None:
    """The case workflow: deadlines, overdue flags and escalation, settings, the working-hours calendar."""


@workflow.command("tick")
@click.option("--every", type=float, default=None, help="Repeat every N seconds (a long-running ticker).")
@click.option("--auto-escalate/--no-auto-escalate", default=None,
              help="Escalate newly overdue cases one level (default: the auto_escalate setting).")
@click.option("--parent-pid", type=int, default=None, hidden=True,
              help="Stop when this process (the server that started the ticker) is gone.")
def workflow_tick(every: float | None, auto_escalate: bool | None, parent_pid: int | None) -> None:
    """Flag newly overdue cases (escalating them if asked) and refresh the assessment summary."""
    import os

    from gis.cases.workflow import tick

    engine = _engine()  # one engine (and connection) for the ticker's life, not one per tick
    zone = clock.zone(clock.DEFAULT_ZONE)  # the district's, once the database has told it
    while True:
        stamp = dt.datetime.now(zone).isoformat(timespec="seconds")
        try:
            with _session(engine) as session:
                zone = clock.zone_of(session)
                stamp = dt.datetime.now(zone).isoformat(timespec="seconds")
                result = tick(session, auto_escalate=auto_escalate)
                session.commit()
            click.echo(f"{stamp} {result.describe()}")
        except Exception as exc:  # noqa: BLE001 — a long-running ticker outlives a database outage
            if not every:
                raise
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            click.echo(f"{stamp} tick failed ({reason}); trying again in {every:g} s", err=True)
        if not every:
            return
        time.sleep(max(every, 1.0))
        if parent_pid is not None and os.getppid() != parent_pid:
            return  # the server that started us is gone (even if it was killed): stop ticking


@workflow.command("settings")
@click.argument("key", required=False)
@click.argument("value", required=False)
def workflow_settings(key: str | None, value: str | None) -> None:
    """Show the settings, or set KEY to VALUE (JSON or plain text, e.g. work_periods 09:00-12:00,14:00-17:30)."""
    from gis.cases.workflow import get_settings, set_setting, settings_view

    with _session() as session:
        if key is None:
            for k, v in settings_view(get_settings(session)).items():
                click.echo(f"{k}\t{json.dumps(v, ensure_ascii=False)}")
            return
        if value is None:
            raise click.UsageError("Give a VALUE to set.")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        stored = set_setting(session, key, parsed)
        if key == "timezone":
            from gis.cases.stats import rebuild

            rebuild(session)
        session.commit()
        click.echo(f"{key} = {json.dumps(stored, ensure_ascii=False)}")


def start_ticker(every: float = 60.0):
    """Run `gridgov workflow tick --every N` beside the server; it stops when this process ends."""
    import atexit
    import os
    import subprocess

    owner = os.getpid()
    ticker = subprocess.Popen([sys.executable, "-m", "api.cli", "workflow", "tick", "--every", str(every),
                               "--parent-pid", str(owner)])
    # Only the starting process stops it: gunicorn's workers are forked from it and run its
    # exit handlers too, and a worker restarted by the arbiter must leave the ticker running.
    atexit.register(lambda: os.getpid() == owner and ticker.terminate())
    return ticker


@workflow.group("calendar")
def calendar() -> None:
    """The holiday and make-up-workday calendar (CSV: date,workday,note)."""


@calendar.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Drop every existing entry first.")
def calendar_import(path: Path, replace: bool) -> None:
    """Load holidays (workday=false) and make-up workdays (workday=true); all rows or none."""
    from sqlalchemy import delete
    from sqlalchemy.dialects.postgresql import insert

    from gis.core.errors import InvalidInput
    from gis.core.models import WorkCalendarDay

    rows, errors = [], []
    with path.open(encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"date", "workday"} <= set(reader.fieldnames):
            raise InvalidInput("Bad calendar file", "The header must have date,workday[,note].")
        for number, row in enumerate(reader, start=2):
            try:
                day = dt.date.fromisoformat(row["date"].strip())
            except ValueError:
                errors.append(f"line {number}: date {row['date']!r} is not YYYY-MM-DD")
                continue
            flag = row["workday"].strip().lower()
            if flag not in ("true", "false", "1", "0"):
                errors.append(f"line {number}: workday must be true or false")
                continue
            rows.append({"day": day, "workday": flag in ("true", "1"), "note": (row.get("note") or "").strip()})
    if errors:
        raise InvalidInput("Bad calendar file", f"{len(errors)} rows are wrong; nothing was changed.", errors=errors)
    with _session() as session:
        if replace:
            session.execute(delete(WorkCalendarDay))
        if rows:
            stmt = insert(WorkCalendarDay).values(rows)
            session.execute(stmt.on_conflict_do_update(index_elements=["day"], set_={
                "workday": stmt.excluded.workday, "note": stmt.excluded.note}))
        session.commit()
    click.echo(f"{len(rows)} calendar days loaded from {path}")


@calendar.command("export")
def calendar_export() -> None:
    """Write the calendar as CSV to standard output."""
    from sqlalchemy import select

    from gis.core.models import WorkCalendarDay

    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["date", "workday", "note"])
    with _session() as session:
        for day in session.scalars(select(WorkCalendarDay).order_by(WorkCalendarDay.day)):
            writer.writerow([day.day.isoformat(), "true" if day.workday else "false", day.note])


@workflow.command("deadline")
@click.argument("start")
@click.argument("hours", type=float)
def workflow_deadline(start: str, hours: float) -> None:
    """Print the deadline HOURS working hours after START (ISO time; local time zone when no offset)."""
    from gis.cases.workhours import load_calendar

    with _session() as session:
        cal = load_calendar(session)
    try:
        begin = dt.datetime.fromisoformat(start)
    except ValueError:
        raise click.BadParameter("START is an ISO time such as 2026-11-20T17:55") from None
    click.echo(clock.iso(cal.add_working_hours(clock.local(begin, cal.tz), hours), cal.tz))


def demo_history(engine) -> None:
    """Give the demo district's cases timelines, then run one tick (overdue flags, statistics, counters)."""
    from data.demo_history import simulate
    from gis.core.db import session_factory
    from gis.cases.workflow import tick

    with session_factory(engine)() as session:
        count = simulate(session)
        result = tick(session)
        session.commit()
    click.echo(f"demo case histories: {count:,} timelines; {result.describe()}")


@workflow.command("demo-history")
@click.option("--yes", is_flag=True, help="Confirm: this invents timelines (demo databases only).")
def workflow_demo_history(yes: bool) -> None:
    """Invent timelines for events without a case clock — for a demo database only, never real data."""
    if not yes:
        raise click.UsageError("This invents who did what and when; on a demo database run it with --yes.")
    demo_history(_engine())


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
def stats_cmd(ctx, group, date_from, date_to, bucket, area, min_count, rank_by, as_json) -> None:
    """The evaluation indicators as CSV (or JSON) on standard output."""
    if ctx.invoked_subcommand:
        return
    from gis.cases import stats

    def day(value, name):
        try:
            return dt.date.fromisoformat(value) if value else None
        except ValueError:
            raise click.BadParameter(f"{name} is YYYY-MM-DD") from None

    query = stats.StatsQuery(group=group, date_from=day(date_from, "--from"), date_to=day(date_to, "--to"),
                             bucket=bucket, area=area, rank_by=rank_by, min_count=min_count)
    with _session() as session:
        report = stats.indicators(session, query)
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=1))
    else:
        click.echo(stats.to_csv(report), nl=False)


@stats_cmd.command("rebuild")
def stats_rebuild() -> None:
    """Recompute the whole assessment summary from the events."""
    from gis.cases.stats import rebuild

    with _session() as session:
        keys = rebuild(session)
        session.commit()
    click.echo(f"{keys} summary rows rebuilt")
