"""The indicators on a hand-built set of cases whose rates are worked out by hand below."""
from __future__ import annotations

import csv
import datetime as dt
import io
from types import SimpleNamespace

import pytest
from geoalchemy2.shape import from_shape
from sqlalchemy import select, text

from api.cli.table import width
from gis.cases import stats, workflow
from gis.core.models import Cadre, CaseStatsDaily, Category, Contract
from tests.api.test_cli import gridgov
from tests.conftest import auth
from tests.factories import grid, hierarchy, person, rect, reported_event
from webmap import catalog

BJ = dt.timezone(dt.timedelta(hours=8))
AS_OF = dt.datetime(2026, 11, 20, 12, 0, tzinfo=BJ)
NOVEMBER = dict(date_from=dt.date(2026, 11, 1), date_to=dt.date(2026, 11, 30))


def day(d: int, h: int = 10, month: int = 11) -> dt.datetime:
    return dt.datetime(2026, month, d, h, 0, tzinfo=BJ)


def case(session, g, *, registered, first_deadline, deadline=None, closed=None, status=None, postponed=0,
         rework=0, dispatched=True, hours=None, urgent=False):
    """A registered case with its workflow facts written directly (the formulas are under test, not the moves)."""
    e = reported_event(session, grid=g, category="99002" if urgent else "99001",
                       reported_at=registered - dt.timedelta(hours=1))
    e.registered_at, e.first_deadline_at, e.deadline_at = registered, first_deadline, deadline or first_deadline
    e.closed_at, e.postponed_count, e.rework_count = closed, postponed, rework
    e.status = status or ("closed" if closed else "dispatched" if dispatched else "registered")
    e.dispatched_at = registered + dt.timedelta(minutes=30) if dispatched else None
    e.handling_work_hours = hours
    return e


@pytest.fixture
def cases(session):
    """Grid G1 with the eight cases of the table in the test below; grid G2 with three on-time closures."""
    session.add_all([Category(code=code, name=name, major_code="99", major_name="测试", kind="event",
                              default_level="grid", time_limit_hours=8, urgent=urgent)
                     for code, name, urgent in [("99001", "普通", False), ("99002", "紧急", True)]])
    _, street, community = hierarchy(session, rect(0, 0, 400, 200))
    g1 = grid(session, community, 1, rect(0, 0, 200, 200))
    g2 = grid(session, community, 2, rect(200, 0, 400, 200))
    c = {}
    c[1] = case(session, g1, registered=day(2), first_deadline=day(3), closed=day(3, 9), hours=5)
    c[2] = case(session, g1, registered=day(2), first_deadline=day(3), closed=day(4), rework=1, hours=12, urgent=True)
    c[3] = case(session, g1, registered=day(3), first_deadline=day(5), status="in_progress", urgent=True)
    c[4] = case(session, g1, registered=day(3), first_deadline=day(5), deadline=day(10), postponed=1, closed=day(8),
                hours=20)
    c[5] = case(session, g1, registered=day(4), first_deadline=day(6), deadline=day(25), postponed=1)
    c[6] = case(session, g1, registered=day(18), first_deadline=day(25))
    c[7] = case(session, g1, registered=day(5), first_deadline=day(25), closed=day(10), rework=1, hours=2)
    c[8] = case(session, g1, registered=day(5), first_deadline=day(6), dispatched=False)
    # Not in the cohort: rejected, merged, registered in October.
    c[9] = case(session, g1, registered=day(6), first_deadline=day(7), status="rejected")
    c[10] = case(session, g1, registered=day(6), first_deadline=day(7), status="merged")
    c[10].merged_into_id = c[5].id
    c[11] = case(session, g1, registered=day(30, month=10), first_deadline=day(31, month=10), closed=day(31, 9, 10),
                 hours=3)
    for d in (9, 10, 11):
        case(session, g2, registered=day(d), first_deadline=day(d + 1), closed=day(d, 16), hours=4)
    session.commit()
    stats.rebuild(session, now=AS_OF)
    session.commit()
    return SimpleNamespace(g1=g1, g2=g2, community=community, street=street, c=c)


def rows_by_code(report, group="grid"):
    return {r[group]["code"]: r for r in report.rows}


def test_indicators_match_the_hand_computation(session, cases):
    # G1 as of 20 Nov 12:00 (cases 9–11 are out of the cohort):
    # case  due?                       postponed  closed  on time  dispatched  reworked  hours
    #  1    closed                     -          yes     yes      yes         -         5
    #  2    closed                     -          yes     no (4>3) yes         yes       12
    #  3    deadline 5th passed        -          -       -        yes         -         -
    #  4    deadline 5th passed        yes        (excl.) -        yes         -         20
    #  5    deadline 6th passed        yes        -       -        yes         -         -
    #  6    deadline 25th: not due     -          -       -        yes         -         -
    #  7    closed early               -          yes     yes      yes         yes       2
    #  8    deadline 6th passed        -          -       -        no          -         -
    # registered 8, due 7, postponed 2, assessed 5, closed 3, on time 2, dispatched 7, reworked 2
    report = stats.indicators(session, stats.StatsQuery(group="grid", **NOVEMBER))
    g1 = rows_by_code(report)[cases.g1.code]
    assert {k: g1[k] for k in ("registered", "due", "postponed", "assessed", "closed", "closed_on_time",
                               "dispatched", "reworked", "closed_all")} == dict(
        registered=8, due=7, postponed=2, assessed=5, closed=3, closed_on_time=2, dispatched=7, reworked=2,
        closed_all=4)
    assert g1["closure_ratio"] == 0.6                              # 3 / (7 − 2)
    assert g1["on_time_closure_ratio"] == 0.4                      # 2 / (7 − 2)
    assert g1["rework_ratio"] == pytest.approx(2 / 7, abs=1e-6)     # 2 / 7
    assert g1["postponement_ratio"] == pytest.approx(2 / 7, abs=1e-6)  # 2 / 7
    assert g1["handling_hours_mean"] == 9.75                       # (5 + 12 + 20 + 2) / 4
    assert g1["handling_hours_p90"] == pytest.approx(17.6)         # [2, 5, 12, 20]: 12 + 0.7 × (20 − 12)
    # Urgent cases 2 and 3: due 2, closed 1 (late), reworked 1 of 2 dispatched.
    urgent = g1["urgent"]
    assert (urgent["due"], urgent["closed"], urgent["closed_on_time"], urgent["dispatched"]) == (2, 1, 0, 2)
    assert (urgent["closure_ratio"], urgent["on_time_closure_ratio"], urgent["rework_ratio"],
            urgent["postponement_ratio"]) == (0.5, 0.0, 0.5, 0.0)
    assert urgent["handling_hours_mean"] == urgent["handling_hours_p90"] == 12
    # The community adds G2's three on-time closures: due 10, postponed 2, closed 6, on time 5.
    community = stats.indicators(session, stats.StatsQuery(group="community", **NOVEMBER)).rows
    assert len(community) == 1
    assert (community[0]["closure_ratio"], community[0]["on_time_closure_ratio"]) == (0.75, 0.625)
    assert community[0]["community"] == {"code": "310101001001", "name": "测试社区"}


def test_ranking_has_a_minimum_count_guard(session, cases):
    # G2 is perfect (3 of 3 on time) but has only 3 assessed cases; G1 has 5.
    report = stats.indicators(session, stats.StatsQuery(group="grid", min_count=5, **NOVEMBER))
    assert [(r["grid"]["code"], r["rank"]) for r in report.rows] == [(cases.g1.code, 1), (cases.g2.code, None)]
    report = stats.indicators(session, stats.StatsQuery(group="grid", min_count=3, **NOVEMBER))
    assert [(r["grid"]["code"], r["rank"]) for r in report.rows] == [(cases.g2.code, 1), (cases.g1.code, 2)]
    # Lower is better for rework: G2 0/3, G1 2/7.
    report = stats.indicators(session, stats.StatsQuery(group="grid", min_count=3, rank_by="rework_ratio", **NOVEMBER))
    assert [r["grid"]["code"] for r in report.rows] == [cases.g2.code, cases.g1.code]


def test_period_buckets_and_area_filter(session, cases):
    report = stats.indicators(session, stats.StatsQuery(group="grid", bucket="month", date_from=dt.date(2026, 10, 1),
                                                        date_to=dt.date(2026, 11, 30)))
    periods = {(r["grid"]["code"], r["period"]): r["registered"] for r in report.rows}
    assert periods == {(cases.g1.code, "2026-10"): 1, (cases.g1.code, "2026-11"): 8, (cases.g2.code, "2026-11"): 3}
    weeks = stats.indicators(session, stats.StatsQuery(group="grid", bucket="week", area=cases.g2.code, **NOVEMBER))
    # 9, 10 and 11 November 2026 are Monday to Wednesday of ISO week 46.
    assert [(r["period"], r["registered"]) for r in weeks.rows] == [("2026-W46", 3)]


def test_the_tick_brings_cases_that_fall_due_into_the_figures(session, cases):
    workflow.tick(session, now=AS_OF)  # nothing new is due
    assert rows_by_code(stats.indicators(session, stats.StatsQuery(**NOVEMBER)))[cases.g1.code]["due"] == 7
    # Case 6's deadline (25 Nov) passes; case 5's extension runs out too but it stays "postponed".
    workflow.tick(session, now=day(26))
    g1 = rows_by_code(stats.indicators(session, stats.StatsQuery(**NOVEMBER)))[cases.g1.code]
    assert (g1["due"], g1["assessed"], g1["closure_ratio"]) == (8, 6, 0.5)


def test_moves_and_bulk_writes_keep_the_summary_fresh(session, cases):
    c = cases.c
    # A bulk reassignment (as a boundary edit would do) moves case 1 from G1 to G2: both rows change.
    session.execute(text("UPDATE events SET grid_id = :g2 WHERE id = :id"), {"g2": cases.g2.id, "id": c[1].id})
    stats.refresh_dirty(session, now=AS_OF)
    report = rows_by_code(stats.indicators(session, stats.StatsQuery(**NOVEMBER)))
    assert (report[cases.g1.code]["registered"], report[cases.g2.code]["registered"]) == (7, 4)
    # A real move: the overdue case 3 is reported back and verified; the summary follows at once.
    boss, _ = person(session, "commander", "boss")
    other, _ = person(session, "commander", "other")
    workflow.apply_move(session, c[3].id, boss, "handle", note="已处理")
    workflow.apply_move(session, c[3].id, other, "verify")
    session.commit()
    g1 = rows_by_code(stats.indicators(session, stats.StatsQuery(**NOVEMBER)))[cases.g1.code]
    assert (g1["closed"], g1["closed_all"]) == (3, 4)  # case 1 left, case 3 came in
    assert g1["closed_on_time"] == 1  # case 3 was closed after its 5 Nov deadline


def test_per_cadre_by_contracted_grids(session, cases):
    a = Cadre(code="C001", name="张三", type="镇街领导")
    b = Cadre(code="C002", name="李四", type="三官一律")
    gone = Cadre(code="C003", name="王五", type="机关干部")
    session.add_all([a, b, gone])
    session.flush()
    session.add_all([
        Contract(cadre_id=a.id, grid_code=cases.g1.code, role="包片", valid_from=dt.date(2026, 1, 1)),
        # A drawn area holding all of G2 and none of G1.
        Contract(cadre_id=b.id, geom=from_shape(rect(190, -10, 410, 210), srid=4326), role="包片",
                 valid_from=dt.date(2026, 1, 1)),
        # Covering G1 twice for A must not count G1's cases twice.
        Contract(cadre_id=a.id, geom=from_shape(rect(-5, -5, 205, 205), srid=4326), role="包片",
                 valid_from=dt.date(2026, 1, 1)),
        # Ended before November.
        Contract(cadre_id=gone.id, grid_code=cases.g1.code, role="包片", valid_from=dt.date(2026, 1, 1),
                 valid_to=dt.date(2026, 10, 31)),
    ])
    session.commit()
    report = stats.indicators(session, stats.StatsQuery(group="cadre", **NOVEMBER))
    by_cadre = {r["cadre"]["code"]: r for r in report.rows}
    assert set(by_cadre) == {"C001", "C002"}
    assert (by_cadre["C001"]["registered"], by_cadre["C001"]["closure_ratio"]) == (8, 0.6)
    assert (by_cadre["C002"]["registered"], by_cadre["C002"]["closure_ratio"]) == (3, 1.0)


def test_csv_export_has_one_line_per_group(session, cases):
    text_out = stats.to_csv(stats.indicators(session, stats.StatsQuery(**NOVEMBER)))
    rows = list(csv.DictReader(io.StringIO(text_out)))
    g1 = next(r for r in rows if r["code"] == cases.g1.code)
    assert (g1["closure_ratio"], g1["on_time_closure_ratio"], g1["urgent_closure_ratio"]) == ("0.6", "0.4", "0.5")
    assert g1["name"] == "网格1" and len(rows) == 2


def test_the_summary_is_small_and_dated(session, cases):
    rows = session.scalars(select(CaseStatsDaily)).all()
    # One row per (registration day, grid, urgent). G1: 2 Nov and 3 Nov twice (urgent and not), 4, 5 and
    # 18 Nov, 30 Oct; 6 Nov holds only a rejected and a merged report, so no row. G2: three days.
    assert len(rows) == 11
    assert all(r.refreshed_at == AS_OF for r in rows)


def test_stats_api_json_csv_and_bad_input(client, session, cases, make_user):
    commander = make_user("commander")
    worker = make_user("worker")
    url = "/api/v1/stats?group=grid&from=2026-11-01&to=2026-11-30"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=auth(worker)).status_code == 403
    body = client.get(url, headers=auth(commander)).get_json()
    assert body["definitions"]["closure_ratio"].startswith("结案率")
    assert {r["grid"]["code"]: r["closure_ratio"] for r in body["rows"]} == {cases.g1.code: 0.6, cases.g2.code: 1.0}
    response = client.get(url + "&format=csv", headers=auth(commander))
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    assert response.get_data(as_text=True).lstrip("\ufeff").startswith("code,name,period,")
    for query, parameter in [("group=village", "group"), ("from=2026-13-01", "from"), ("bucket=year", "bucket"),
                             ("from=2026-11-30&to=2026-11-01", "to"), ("min_count=-1", "min_count"),
                             ("rank_by=mood", "rank_by"), ("format=xlsx", "format")]:
        bad = client.get(f"/api/v1/stats?{query}", headers=auth(commander))
        assert bad.status_code == 400 and bad.mimetype == "application/problem+json", query
        assert bad.get_json()["parameter"] == parameter and bad.get_json()["detail"]
    missing = client.get("/api/v1/stats?area=999999", headers=auth(commander))
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"


def test_command_center_counters_come_from_the_tick(session):
    _, _, community = hierarchy(session)
    g = grid(session, community, 1, rect(0, 0, 200, 200))
    now = dt.datetime.now(dt.UTC)
    closed = reported_event(session, grid=g, reported_at=now - dt.timedelta(days=1))
    late = reported_event(session, grid=g, reported_at=now - dt.timedelta(days=1))
    fresh = reported_event(session, grid=g, reported_at=now - dt.timedelta(minutes=5))
    for e, deadline in ((closed, now + dt.timedelta(days=1)), (late, now - dt.timedelta(hours=1)),
                        (fresh, now + dt.timedelta(days=2))):
        e.registered_at, e.first_deadline_at, e.deadline_at, e.status = now - dt.timedelta(hours=20), deadline, \
            deadline, "dispatched"
    closed.status, closed.closed_at = "closed", now - dt.timedelta(hours=2)
    session.commit()
    before = stats.counters(session)
    assert (before["open"], before["overdue"]) == (0, 0)  # nothing counted until the tick runs
    workflow.tick(session)
    session.commit()
    after = stats.counters(session)
    # Open: late and fresh; overdue: late. Due: closed (closed) and late (deadline passed) → 1 of 2 closed.
    assert (after["open"], after["overdue"]) == (2, 1)
    assert (after["closure_ratio"], after["on_time_closure_ratio"]) == (0.5, 0.5)


def test_month_rows_and_day_rows_agree(session, cases):
    from gis.core.models import CaseStatsMonthly

    months = {(r.month, r.grid_id, r.urgent): r for r in session.scalars(select(CaseStatsMonthly))}
    november = dt.date(2026, 11, 1)
    # G1's November: six ordinary cases and the two urgent ones, their hours kept sorted.
    assert months[(november, cases.g1.id, False)].registered == 6
    assert months[(november, cases.g1.id, True)].registered == 2
    assert months[(november, cases.g1.id, False)].handling_hours == [2, 5, 20]
    # 2 Nov – 30 Nov reads day rows only; the whole of November reads the month rows: same figures
    # (nothing was registered on 1 November).
    whole = rows_by_code(stats.indicators(session, stats.StatsQuery(**NOVEMBER)))
    part = rows_by_code(stats.indicators(session, stats.StatsQuery(date_from=dt.date(2026, 11, 2),
                                                                   date_to=dt.date(2026, 11, 30))))
    for code in (cases.g1.code, cases.g2.code):
        assert {k: v for k, v in whole[code].items() if k != "period"} == \
            {k: v for k, v in part[code].items() if k != "period"}
    # 30 Oct – 30 Nov: two October days from day rows plus November from month rows.
    mixed = rows_by_code(stats.indicators(session, stats.StatsQuery(date_from=dt.date(2026, 10, 30),
                                                                    date_to=dt.date(2026, 11, 30))))
    assert mixed[cases.g1.code]["registered"] == 9 and mixed[cases.g1.code]["handling_hours_mean"] == 8.4


def test_gridgov_stats_prints_an_aligned_table_in_the_catalogs_words(db_url, cases, session):
    """Columns line up in display cells (中文 two each), in the catalog's words; a cut says what it left out."""
    report = stats.indicators(session, stats.StatsQuery(group="grid", **NOVEMBER))
    args = ("stats", "--group", "grid", "--from", "2026-11-01", "--to", "2026-11-30")
    for lang in ("zh", "en"):
        done = gridgov(db_url, *args, lang=lang)
        assert done.returncode == 0, done.stderr
        title, header, rule, *rows = done.stdout.splitlines()
        assert title == catalog.t("cli.stats.title", lang, start="2026-11-01", end="2026-11-30",
                                  group=catalog.t("cli.stats.col.grid", lang), n=len(report.rows),
                                  as_of=report.as_of)
        for key in ("rank", "code", "grid", "registered", "closure_ratio", "on_time_closure_ratio",
                    "handling_hours_mean"):
            assert catalog.t(f"cli.stats.col.{key}", lang) in header
        assert len(rows) == len(report.rows)
        # The last column is right-aligned: every line ends in the same display cell.
        assert {width(line) for line in (header, rule, *rows)} == {width(rule)}
        for line, r in zip(rows, report.rows):
            assert r["grid"]["code"] in line and r["grid"]["name"] in line and f"{r['closure_ratio']:.1%}" in line
    assert width("网格A") == 5 and width("ab") == 2
    cut = gridgov(db_url, *args, "--limit", "1").stdout.splitlines()
    assert cut[-1] == catalog.t("cli.more", n=f"{len(report.rows) - 1:,}") and len(cut) == 3 + 1 + 1
    full = list(csv.DictReader(io.StringIO(gridgov(db_url, *args, "--csv").stdout)))
    assert [r["code"] for r in full] == [r["grid"]["code"] for r in report.rows]
    assert list(full[0])[:3] == ["code", "name", "period"]
