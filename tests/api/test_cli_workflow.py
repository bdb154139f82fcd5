"""`gridgov workflow …` and `gridgov stats …` as a shell runs them (python -m api.cli), on DATABASE_URL."""
from __future__ import annotations

import csv
import io

from sqlalchemy import func, select

from gis.core.models import WorkCalendarDay, WorkflowSetting
from tests.api.test_cli import gridgov, pieces
from webmap import catalog

# The words of a tick's line after its count of cases newly overdue ("… 件案件新超期，…").
NEWLY_OVERDUE = pieces("cli.workflow.tick", opened=None, overdue=None, escalated=None, stats=None)[1]


def test_deadline_settings_and_tick(db_url, session):
    result = gridgov(db_url, "workflow", "deadline", "2026-11-20T17:55", "8")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2026-11-24T09:25:00+08:00"  # Friday 17:55 + 8 working hours
    assert gridgov(db_url, "workflow", "settings", "work_periods", "08:30-12:00,14:00-17:30").returncode == 0
    # Friday 17:55 is past 17:30: nothing on Friday; Monday gives 3.5 + 3.5 = 7 h; Tuesday 08:30 + 1 h.
    assert gridgov(db_url, "workflow", "deadline", "2026-11-20T17:55", "8").stdout.strip() == \
        "2026-11-24T09:30:00+08:00"
    bad = gridgov(db_url, "workflow", "settings", "work_periods", "18:00-09:00")
    assert bad.returncode == 1 and "end after it starts" in bad.stderr and "Traceback" not in bad.stderr
    tick = gridgov(db_url, "workflow", "tick")
    assert tick.returncode == 0 and NEWLY_OVERDUE in tick.stdout
    assert session.scalar(select(WorkflowSetting.value).where(WorkflowSetting.key == "last_tick_at"))


def test_calendar_import_is_all_or_nothing(db_url, session, tmp_path):
    before = session.scalar(select(func.count()).select_from(WorkCalendarDay))
    bad = tmp_path / "bad.csv"
    bad.write_text("date,workday,note\n2027-01-01,false,元旦\n2027-02-30,false,春节\n2027-01-04,maybe,\n")
    result = gridgov(db_url, "workflow", "calendar", "import", str(bad))
    assert result.returncode == 1 and "line 3" in result.stderr and "line 4" in result.stderr
    assert session.scalar(select(func.count()).select_from(WorkCalendarDay)) == before
    good = tmp_path / "2027.csv"
    good.write_text("date,workday,note\n2027-01-01,false,元旦\n2027-02-20,true,春节调休\n")
    assert gridgov(db_url, "workflow", "calendar", "import", str(good)).returncode == 0
    exported = gridgov(db_url, "workflow", "calendar", "export").stdout
    rows = {r["date"]: r["workday"] for r in csv.DictReader(io.StringIO(exported))}
    assert rows["2027-01-01"] == "false" and rows["2027-02-20"] == "true" and len(rows) == before + 2


def test_stats_prints_a_table_or_csv_and_refuses_bad_dates(db_url):
    result = gridgov(db_url, "stats", "--group", "community", "--from", "2026-11-01", "--to", "2026-11-30")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(catalog.t("cli.stats.title", start="2026-11-01", end="2026-11-30",
                                              group=catalog.t("cli.stats.col.community"), n=0, as_of="—"))
    as_csv = gridgov(db_url, "stats", "--csv", "--group", "community", "--from", "2026-11-01", "--to", "2026-11-30")
    assert as_csv.stdout.startswith("code,name,period,registered,due,postponed,closed,closed_on_time")
    assert gridgov(db_url, "stats", "--from", "November").returncode == 2
    assert gridgov(db_url, "stats", "rebuild").stdout.strip() == catalog.t("cli.stats.rebuilt", n=0)


def test_demo_history_needs_a_yes(db_url):
    refused = gridgov(db_url, "workflow", "demo-history")
    assert refused.returncode == 2 and "--yes" in refused.stderr


class _Lines:
    """A process's output lines, read as they come (a long-running ticker never ends by itself)."""

    def __init__(self, stream):
        import threading

        self.lines: list[str] = []
        threading.Thread(target=lambda: [self.lines.append(line) for line in stream], daemon=True).start()

    def wait_for(self, text: str, after: int = 0, timeout: float = 20.0) -> int:
        """The index of the first line from `after` on that contains `text`."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, line in enumerate(self.lines[after:], after):
                if text in line:
                    return i
            time.sleep(0.1)
        raise AssertionError(f"no {text!r} within {timeout} s: {self.lines[-5:]}")


def _ticker(db_url: str, *args: str):
    import os
    import subprocess
    import sys

    return subprocess.Popen([sys.executable, "-m", "api.cli", "workflow", "tick", "--every", "1", *args],
                            env=dict(os.environ, DATABASE_URL=db_url, GRIDGOV_LANG="zh"), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def test_ticker_outlives_a_database_outage(db_url):
    # A ticker that died with the first failed tick would leave cases never flagged overdue.
    import psycopg
    from sqlalchemy.engine import make_url

    from tests.conftest import _libpq

    name = make_url(db_url).database
    ticker = _ticker(db_url)
    out = _Lines(ticker.stdout)
    try:
        out.wait_for(NEWLY_OVERDUE)
        with psycopg.connect(_libpq(make_url(db_url).set(database="postgres").render_as_string(False)),
                             autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            try:
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name])
                failed = out.wait_for(pieces("cli.workflow.tick_failed", reason=None, every=None)[0])
            finally:
                admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        out.wait_for(NEWLY_OVERDUE, after=failed + 1)
        assert ticker.poll() is None
    finally:
        ticker.kill()
        ticker.wait()


def test_ticker_stops_when_the_server_that_started_it_is_killed(db_url):
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.api.test_serve import _alive

    # A stand-in server: starts the ticker as `gridgov serve` does, then dies without cleaning up.
    parent = subprocess.Popen([sys.executable, "-c", "import sys, time; from api.cli.workflow import start_ticker;"
                               " print(start_ticker(1.0).pid, flush=True); time.sleep(120)"],
                              env=dict(os.environ, DATABASE_URL=db_url), stdout=subprocess.PIPE, text=True)
    ticker_pid = int(parent.stdout.readline())
    assert _alive(ticker_pid)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 15
    while _alive(ticker_pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(ticker_pid)
