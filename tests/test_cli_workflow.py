"""`gridgov workflow …` and `gridgov stats …` as a shell runs them (python -m api.cli), on DATABASE_URL."""
from __future__ import annotations

import csv
import io

from sqlalchemy import func, select

from gis.models import WorkCalendarDay, WorkflowSetting
from tests.test_cli import gridgov


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
    assert tick.returncode == 0 and "cases newly overdue" in tick.stdout
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


def test_stats_prints_csv_and_refuses_bad_dates(db_url):
    result = gridgov(db_url, "stats", "--group", "community", "--from", "2026-11-01", "--to", "2026-11-30")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("code,name,period,registered,due,postponed,closed,closed_on_time")
    assert gridgov(db_url, "stats", "--from", "November").returncode == 2
    assert gridgov(db_url, "stats", "rebuild").stdout.strip() == "0 summary rows rebuilt"


def test_demo_history_needs_a_yes(db_url):
    refused = gridgov(db_url, "workflow", "demo-history")
    assert refused.returncode == 2 and "--yes" in refused.stderr
