"""The district's clock: local times, "today" and local days, whatever the database's own zone.

The suite's PostgreSQL server runs at UTC (tests/conftest.py), as many existing servers do; the
district is in Asia/Shanghai (UTC+8), so between 00:00 and 08:00 Beijing time the two disagree on
the date — exactly when a command center opening at 08:00 asks "how many events today?".
"""
from __future__ import annotations

import datetime as dt
import re
import time
from zoneinfo import ZoneInfo

import psycopg
from click.testing import CliRunner
from sqlalchemy import text

from gis.cases.dashboard import command_counters
from gis.cases.workflow import apply_move, set_setting
from gis.core import clock
from gis.core.db import make_engine
from tests.conftest import auth, live_hub
from tests.factories import four_grids, person, reported_event
from tests.paths import ROOT

BJ = ZoneInfo("Asia/Shanghai")
# An ISO 8601 date-time with a zone designator, as an API, page or file would write it.
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)")


def test_the_server_runs_at_utc_while_every_gridgov_connection_runs_in_the_districts_zone(db_url, engine):
    with psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://")) as raw:
        assert raw.execute("SHOW TimeZone").fetchone()[0] == "UTC"
        assert raw.execute("SELECT '2026-12-01T23:30:00Z'::timestamptz::date").fetchone()[0] == dt.date(2026, 12, 1)
    with engine.connect() as conn:
        assert conn.execute(text("SHOW TimeZone")).scalar() == "Asia/Shanghai"
        # 23:30 UTC on 1 December is 07:30 on 2 December in Beijing: the district's date.
        assert conn.execute(text("SELECT '2026-12-01T23:30:00Z'::timestamptz::date")).scalar() == dt.date(2026, 12, 2)
        assert conn.execute(text("SELECT CURRENT_DATE")).scalar() == dt.datetime.now(BJ).date()
        assert clock.zone_of(conn) == BJ
        loaded = conn.execute(text("SELECT '2026-12-01T23:30:00Z'::timestamptz")).scalar()
        assert loaded.isoformat() == "2026-12-02T07:30:00+08:00"


def test_a_report_at_0730_beijing_time_counts_as_today_on_a_database_at_utc(session):
    _, grids, _, events = four_grids(session)
    for e in events:  # the factory's events happened now; push them out of the day under test
        e.occurred_at = dt.datetime(2026, 11, 1, 12, tzinfo=BJ)
    at = [dt.datetime(2026, 12, 2, 7, 30, tzinfo=BJ),    # 23:30 UTC on 1 December: today in Beijing
          dt.datetime(2026, 12, 2, 0, 5, tzinfo=BJ),     # just after Beijing's midnight
          dt.datetime(2026, 12, 1, 23, 50, tzinfo=BJ),   # yesterday in Beijing, though "today" at UTC
          dt.datetime(2026, 12, 2, 9, 0, tzinfo=BJ)]     # later than the moment asked about
    for moment in at:
        reported_event(session, grid=grids[0], reported_at=moment, status="closed")
    session.flush()
    counters = command_counters(session, now=dt.datetime(2026, 12, 2, 8, 49, tzinfo=BJ))
    assert counters["today_events"] == 2
    assert counters["day"] == "2026-12-02" and counters["timezone"] == "Asia/Shanghai"
    assert counters["as_of"] == "2026-12-02T08:49:00+08:00"
    # The same moment given in UTC is the same Beijing morning.
    assert command_counters(session, now=dt.datetime(2026, 12, 2, 0, 49, tzinfo=dt.UTC))["today_events"] == 2


def test_the_districts_zone_setting_moves_the_whole_clock(db_url, session):
    set_setting(session, "timezone", "Europe/Berlin")
    session.commit()
    assert clock.zone_of(session).key == "Europe/Berlin"  # this connection follows at once
    other = make_engine(db_url)
    try:
        with other.connect() as conn:  # a new connection takes the stored zone
            assert conn.execute(text("SHOW TimeZone")).scalar() == "Europe/Berlin"
            assert conn.execute(text("SELECT '2026-12-01T23:30:00Z'::timestamptz::date")).scalar() == \
                dt.date(2026, 12, 2)
            assert conn.execute(text("SELECT '2026-12-01T22:30:00Z'::timestamptz::date")).scalar() == \
                dt.date(2026, 12, 1)
    finally:
        other.dispose()


def test_a_stored_zone_postgresql_does_not_know_falls_back_to_the_default(db_url, session):
    stored = session.execute(text("UPDATE workflow_settings SET value = '\"Mars/Olympus\"' WHERE key = 'timezone'"))
    assert stored.rowcount == 1
    session.commit()
    other = make_engine(db_url)
    try:
        with other.connect() as conn:
            assert conn.execute(text("SHOW TimeZone")).scalar() == clock.DEFAULT_ZONE
    finally:
        other.dispose()


def test_a_changed_zone_reaches_a_running_server_without_a_restart(app, client, session, make_user):
    token = make_user("commander")
    live_hub(app)
    assert client.get("/api/v1/counters", headers=auth(token)).get_json()["timezone"] == "Asia/Shanghai"
    set_setting(session, "timezone", "Europe/Berlin")
    session.commit()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        body = client.get("/api/v1/counters", headers=auth(token)).get_json()
        if body["timezone"] == "Europe/Berlin":
            break
        time.sleep(0.05)
    assert body["timezone"] == "Europe/Berlin" and body["as_of"].endswith(("+01:00", "+02:00"))


def test_every_time_the_api_pages_and_open311_show_carries_the_districts_offset(app, client, session, make_user):
    _, grids, _, _ = four_grids(session)
    commander_user, _ = person(session, "commander", "指挥长")
    session.commit()
    token = make_user("commander")
    admin = make_user("admin")
    where = _inside(session, grids[0].code)
    created = client.post("/api/v1/events", headers=auth(token), json={
        **where, "category": "11001", "title": "路灯不亮", "occurred_at": "2026-12-01T23:30:00Z"})
    assert created.status_code == 201, created.get_data(as_text=True)
    event_id = created.get_json()["id"]
    assert client.post(f"/api/v1/events/{event_id}/moves", headers=auth(token),
                       json={"move": "register"}).status_code == 201
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=60)).replace(hour=2, minute=0, second=0, microsecond=0)
    assert client.post(f"/api/v1/events/{event_id}/moves", headers=auth(token),
                       json={"move": "postpone", "note": "等配件", "deadline": later.isoformat()}).status_code == 201
    session.expire_all()
    apply_move(session, event_id, commander_user, "note", note="现场复核")
    session.commit()
    urls = [f"/api/v1/events/{event_id}", f"/api/v1/events/{event_id}/timeline", "/api/v1/events",
            "/api/v1/cases/mine", "/api/v1/cases/overdue", "/api/v1/counters", "/api/v1/stats?group=grid",
            f"/api/v1/events/{event_id}/grids?at=2026-12-02T08:00:00", f"/api/v1/grids/{grids[0].code}/history",
            "/layers/events.geojson", "/ogc/collections/events/items", f"/ogc/collections/events/items/{event_id}",
            "/open311/v2/requests.json", f"/open311/v2/requests/{event_id}.json", f"/cases/{event_id}",
            f"/api/v1/duplicates?category=11001&lon={where['lon']}&lat={where['lat']}"]
    seen = []
    for url in urls:
        response = client.get(url, headers=auth(admin))
        assert response.status_code == 200, (url, response.get_data(as_text=True)[:300])
        found = ISO_TIME.findall(response.get_data(as_text=True))
        assert all(t.endswith(("+08:00", "+0800")) for t in found), (url, [t for t in found if "+08" not in t])
        seen += found
    assert len(seen) > 40
    assert any(t.startswith("2026-12-02T07:30:00") for t in seen)  # the report's 23:30 UTC, read in Beijing
    assert any(t.startswith(later.astimezone(BJ).strftime("%Y-%m-%dT10:00:00")) for t in seen)  # the new deadline


def _inside(session, grid_code: str) -> dict:
    lon, lat = session.execute(text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grids "
                                    "WHERE code = :c) q"), {"c": grid_code}).one()
    return {"lon": lon, "lat": lat}


def test_an_exported_events_file_gives_local_times_and_imports_back_unchanged(session, tmp_path):
    from data.io import export_layer, import_file

    _, grids, _, _ = four_grids(session)
    reported_event(session, grid=grids[1], reported_at=dt.datetime(2026, 12, 1, 23, 30, tzinfo=dt.UTC))
    session.commit()
    path = tmp_path / "events.csv"
    export_layer(session, "events", path)
    times = [line.split(",")[4] for line in path.read_text(encoding="utf-8").splitlines()[1:]]
    assert "2026-12-02T07:30:00+08:00" in times and all(t.endswith("+08:00") for t in times)
    report = import_file(session, "events", path, dry_run=True)
    assert report.unchanged == len(times) and not report.added and not report.updated


def test_the_cli_prints_local_times(db_url, monkeypatch):
    from api.cli import main

    monkeypatch.setenv("DATABASE_URL", db_url)
    runner = CliRunner()
    # Friday 17:30 Beijing plus one working hour: Monday 09:30 (work 09:00–12:00, 13:30–18:00).
    done = runner.invoke(main, ["workflow", "deadline", "2026-11-27T09:30:00Z", "1"])
    assert done.exit_code == 0, done.output
    assert done.output.strip() == "2026-11-30T09:30:00+08:00"
    ticked = runner.invoke(main, ["workflow", "tick"])
    assert ticked.exit_code == 0, ticked.output
    assert ISO_TIME.match(ticked.output) and ticked.output.split(" ")[0].endswith("+08:00")


def test_no_code_reads_the_servers_own_zone_or_hard_codes_the_districts():
    # The clock is gis.core.clock and the `timezone` setting: a naive now()/today() would read the
    # server's zone, and a literal zone would ignore the setting.
    naive = re.compile(r"\b(?:date\.today\(\)|datetime\.now\(\)|datetime\.utcnow\(|time\.localtime\(|"
                       r"datetime\.fromtimestamp\([^,)]*\))")
    literal = re.compile(r"['\"]Asia/Shanghai['\"]|\+08:00\"\)|UTC\+8")
    offenders = []
    for folder in ("gis", "api", "layers", "webmap", "data"):
        for path in (ROOT / folder).rglob("*.py"):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                code = line.split("#", 1)[0]
                if naive.search(code) or literal.search(code):
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offenders == []
