"""Working-hours arithmetic, and a case reported on Friday at 17:55 falling overdue at the right minute."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from gis.cases import workflow
from gis.cases.workhours import WorkCalendar, load_calendar, parse_periods
from gis.core.errors import InvalidInput
from gis.core.models import Category, Event, EventMove, WorkCalendarDay
from tests.factories import grid, hierarchy, rect, reported_event

BJ = ZoneInfo("Asia/Shanghai")


def bj(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BJ)


# The default calendar: 09:00–12:00 and 13:30–18:00 (7.5 h a day), Monday to Friday.
PLAIN = WorkCalendar()
# National Day 2026: 1–7 October off, Saturday 10 October a make-up workday.
NATIONAL_DAY = WorkCalendar(exceptions={**{dt.date(2026, 10, d): False for d in range(1, 8)},
                                        dt.date(2026, 10, 10): True})


def test_friday_1755_plus_8_hours_is_tuesday_0925():
    start = bj(2026, 11, 20, 17, 55)
    assert start.strftime("%A") == "Friday"
    # By hand: Friday 17:55–18:00 = 5 min (7 h 55 min left); Monday 09:00–12:00 = 3 h (4 h 55 min left),
    # 13:30–18:00 = 4 h 30 min (25 min left); Tuesday 09:00 + 25 min = 09:25.
    assert PLAIN.add_working_hours(start, 8) == bj(2026, 11, 24, 9, 25)


def test_a_make_up_saturday_counts_and_holidays_do_not():
    # Friday 9 Oct 17:55: 5 min; Saturday 10 Oct is a make-up workday: 7 h 30 min (25 min left);
    # Sunday off; Monday 12 Oct 09:25.
    assert NATIONAL_DAY.add_working_hours(bj(2026, 10, 9, 17, 55), 8) == bj(2026, 10, 12, 9, 25)
    # Wednesday 30 Sep 17:55: 5 min; 1–7 Oct holidays; Thursday 8 Oct 7 h 30 min; Friday 9 Oct 09:25.
    assert NATIONAL_DAY.add_working_hours(bj(2026, 9, 30, 17, 55), 8) == bj(2026, 10, 9, 9, 25)


def test_lunch_break_and_period_ends():
    # 11:00 + 2 h: one hour before lunch, one after it → 14:30.
    assert PLAIN.add_working_hours(bj(2026, 11, 23, 11, 0), 2) == bj(2026, 11, 23, 14, 30)
    # A limit that ends exactly at 18:00 stays on that day, not the next morning.
    assert PLAIN.add_working_hours(bj(2026, 11, 23, 13, 30), 4.5) == bj(2026, 11, 23, 18, 0)
    # Reported at night or at the weekend: the clock starts at the next period.
    assert PLAIN.add_working_hours(bj(2026, 11, 21, 23, 0), 1) == bj(2026, 11, 23, 10, 0)
    # Times in another zone mean the same instant: 01:00 UTC is 09:00 in Beijing.
    utc = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)
    assert PLAIN.add_working_hours(utc, 1) == bj(2026, 11, 23, 10, 0)


def test_working_hours_between_inverts_the_deadline():
    start = bj(2026, 11, 20, 17, 55)
    assert PLAIN.working_hours_between(start, bj(2026, 11, 24, 9, 25)) == pytest.approx(8.0)
    assert PLAIN.working_hours_between(bj(2026, 11, 23, 12, 0), bj(2026, 11, 23, 13, 30)) == 0
    assert PLAIN.working_hours_between(bj(2026, 11, 24), bj(2026, 11, 23)) == 0
    # A whole plain week is 5 × 7.5 h.
    assert PLAIN.working_hours_between(bj(2026, 11, 23), bj(2026, 11, 30)) == pytest.approx(37.5)


def test_configurable_hours_and_weekdays():
    six_days = WorkCalendar(periods=parse_periods("08:30-12:00,14:00-17:30"), workdays=frozenset(range(1, 7)))
    assert six_days.hours_per_day() == 7.0
    # Friday 17:00 + 1 h: 30 min Friday, Saturday is a workday here → Saturday 09:00.
    assert six_days.add_working_hours(bj(2026, 11, 20, 17, 0), 1) == bj(2026, 11, 21, 9, 0)


@pytest.mark.parametrize("kwargs, fragment", [
    ({"periods": ((dt.time(12), dt.time(9)),)}, "end after it starts"),
    ({"periods": ((dt.time(9), dt.time(12)), (dt.time(11), dt.time(14)))}, "not overlap"),
    ({"timezone": "Mars/Olympus"}, "IANA"),
    ({"workdays": frozenset({0})}, "ISO weekday"),
])
def test_bad_calendars_say_what_to_fix(kwargs, fragment):
    with pytest.raises(InvalidInput) as err:
        WorkCalendar(**kwargs)
    assert fragment in err.value.detail


def test_a_calendar_without_working_days_fails_clearly():
    with pytest.raises(InvalidInput, match="working"):
        WorkCalendar(workdays=frozenset()).add_working_hours(bj(2026, 11, 20, 9), 1)
    with pytest.raises(InvalidInput, match="zone"):
        PLAIN.add_working_hours(dt.datetime(2026, 11, 20, 9), 1)


def test_the_seeded_calendar_has_the_2026_national_day(session):
    cal = load_calendar(session)
    assert cal.timezone == "Asia/Shanghai" and cal.hours_per_day() == 7.5
    assert not cal.is_workday(dt.date(2026, 10, 2))       # a holiday on a Friday
    assert cal.is_workday(dt.date(2026, 10, 10))          # the make-up Saturday
    assert not cal.is_workday(dt.date(2026, 11, 21))      # an ordinary Saturday


@pytest.fixture
def eight_hour_case(session):
    """A case of an 8-working-hour category reported Friday 20 Nov 2026 at 17:55 Beijing time."""
    session.add(Category(code="99001", name="测试八小时", major_code="99", major_name="测试", kind="event",
                         default_level="grid", time_limit_hours=8, urgent=False))
    _, _, community = hierarchy(session)
    g = grid(session, community, 1, rect(0, 0, 100, 100))
    case = reported_event(session, grid=g, category="99001", reported_at=bj(2026, 11, 20, 17, 55))
    session.commit()
    return case


def test_overdue_exactly_after_the_working_hours_deadline(session, eight_hour_case):
    result = workflow.tick(session, now=bj(2026, 11, 20, 18, 0))
    assert result.opened == 1
    case = session.get(Event, eight_hour_case.id)
    assert case.deadline_at == bj(2026, 11, 24, 9, 25) == case.first_deadline_at
    # All weekend and Monday: not overdue.
    assert workflow.tick(session, now=bj(2026, 11, 24, 9, 24)).overdue == 0
    assert not workflow.is_overdue(case, bj(2026, 11, 24, 9, 24))
    # One minute past the deadline: flagged once, with a timeline entry.
    assert workflow.tick(session, now=bj(2026, 11, 24, 9, 26)).overdue == 1
    assert workflow.tick(session, now=bj(2026, 11, 24, 9, 30)).overdue == 0
    session.commit()
    session.expire_all()
    case = session.get(Event, case.id)
    assert case.overdue_since == bj(2026, 11, 24, 9, 25)
    moves = [m["move"] for m in workflow.timeline(session, case.id, role="admin")]
    assert moves == ["report", "overdue"]
    assert case.level == "grid"  # auto-escalation is off by default


def test_auto_escalation_moves_an_overdue_case_up_one_level(session, eight_hour_case):
    session.execute(Event.__table__.update().values(status="registered", registered_at=bj(2026, 11, 23, 9)))
    workflow.tick(session, now=bj(2026, 11, 20, 18, 0))
    result = workflow.tick(session, now=bj(2026, 11, 24, 10, 0), auto_escalate=True)
    assert (result.overdue, result.escalated) == (1, 1)
    session.commit()
    session.expire_all()
    case = session.get(Event, eight_hour_case.id)
    assert case.level == "community"
    escalation = session.scalars(select(EventMove).where(EventMove.move == "escalate")).one()
    assert (escalation.from_level, escalation.to_level, escalation.actor_id) == ("grid", "community", None)
    # Only once per deadline: the next tick leaves it where it is.
    assert workflow.tick(session, now=bj(2026, 11, 25, 10, 0), auto_escalate=True).escalated == 0


def test_a_holiday_added_to_the_table_moves_the_deadline(session, eight_hour_case):
    session.add(WorkCalendarDay(day=dt.date(2026, 11, 23), workday=False, note="测试假日"))
    session.flush()
    workflow.tick(session, now=bj(2026, 11, 20, 18, 0))
    # Monday off: Tuesday gives 7 h 30 min (25 min left) → Wednesday 09:25.
    assert session.get(Event, eight_hour_case.id).deadline_at == bj(2026, 11, 25, 9, 25)
