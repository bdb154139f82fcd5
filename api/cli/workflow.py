"""`gridgov workflow …` (issue #8): the tick and the ticker beside the server, settings, the working-hours
calendar, deadlines, the demo's case histories."""
from __future__ import annotations

import atexit
import csv
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import click

from api.cli.common import engine, workflow_session
from data.demo_history import simulate
from gis.cases.holidays import calendar_days, store_calendar_days
from gis.cases.stats import rebuild
from gis.cases.workflow import get_settings, set_setting, settings_view, tick
from gis.cases.workhours import load_calendar
from gis.core import clock
from gis.core.db import session_factory
from gis.core.errors import InvalidInput
from webmap.catalog import say


def tick_line(result) -> str:
    """What a tick did, as the command line says it."""
    return say("cli.workflow.tick", opened=result.opened, overdue=result.overdue, escalated=result.escalated,
               stats=result.stats_keys)

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
    bind = engine()  # one engine (and connection) for the ticker's life, not one per tick
    zone = clock.zone(clock.DEFAULT_ZONE)  # the district's, once the database has told it
    while True:
        stamp = dt.datetime.now(zone).isoformat(timespec="seconds")
        try:
            with workflow_session(bind) as session:
                zone = clock.zone_of(session)
                stamp = dt.datetime.now(zone).isoformat(timespec="seconds")
                result = tick(session, auto_escalate=auto_escalate)
                session.commit()
            click.echo(f"{stamp} {tick_line(result)}")
        except Exception as exc:  # noqa: BLE001 — a long-running ticker outlives a database outage
            if not every:
                raise
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            click.echo(f"{stamp} {say('cli.workflow.tick_failed', reason=reason, every=f'{every:g}')}", err=True)
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
    with workflow_session() as session:
        if key is None:
            for k, v in settings_view(get_settings(session)).items():
                click.echo(f"{k}\t{json.dumps(v, ensure_ascii=False)}")
            return
        if value is None:
            raise click.UsageError(say("cli.workflow.value_needed"))
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        stored = set_setting(session, key, parsed)
        if key == "timezone":
            rebuild(session)
        session.commit()
        click.echo(f"{key} = {json.dumps(stored, ensure_ascii=False)}")


def start_ticker(every: float = 60.0):
    """Run `gridgov workflow tick --every N` beside the server; it stops when this process ends."""
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
    with workflow_session() as session:
        store_calendar_days(session, rows, replace=replace)
        session.commit()
    click.echo(say("cli.workflow.calendar_loaded", n=len(rows), path=path))


@calendar.command("export")
def calendar_export() -> None:
    """Write the calendar as CSV to standard output."""
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["date", "workday", "note"])
    with workflow_session() as session:
        for day in calendar_days(session):
            writer.writerow([day.day.isoformat(), "true" if day.workday else "false", day.note])


@workflow.command("deadline")
@click.argument("start")
@click.argument("hours", type=float)
def workflow_deadline(start: str, hours: float) -> None:
    """Print the deadline HOURS working hours after START (ISO time; local time zone when no offset)."""
    with workflow_session() as session:
        cal = load_calendar(session)
    try:
        begin = dt.datetime.fromisoformat(start)
    except ValueError:
        raise click.BadParameter(say("cli.workflow.bad_start")) from None
    click.echo(clock.iso(cal.add_working_hours(clock.local(begin, cal.tz), hours), cal.tz))


def demo_history(bind) -> None:
    """Give the demo district's cases timelines, then run one tick (overdue flags, statistics, counters)."""
    with session_factory(bind)() as session:
        count = simulate(session)
        result = tick(session)
        session.commit()
    click.echo(say("cli.workflow.histories", n=f"{count:,}", result=tick_line(result)))


@workflow.command("demo-history")
@click.option("--yes", is_flag=True, help="Confirm: this invents timelines (demo databases only).")
def workflow_demo_history(yes: bool) -> None:
    """Invent timelines for events without a case clock — for a demo database only, never real data."""
    if not yes:
        raise click.UsageError(say("cli.workflow.needs_yes"))
    demo_history(engine())
