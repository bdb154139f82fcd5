"""Working hours: deadlines and durations counted on a calendar of work periods, holidays and make-up days."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.core.clock import DEFAULT_ZONE
from gis.core.errors import InvalidInput
from gis.core.models import WorkCalendarDay
from gis.core.settings import get_settings

# Time limits in 数字城管 are counted in working hours: the clock runs only inside the day's work
# periods (e.g. 09:00–12:00 and 13:30–18:00) on working days. A working day is a weekday listed
# in `workdays`, unless the calendar marks it a holiday; a weekend day the calendar marks as a
# make-up workday (调休上班) counts as working. Everything is reckoned in the calendar's local time
# zone, because "Friday 17:55" means Beijing time however the timestamp is stored.

# Beyond this many days without a single working minute something is wrong with the calendar.
SEARCH_LIMIT_DAYS = 3 * 366


@dataclass(frozen=True)
class WorkCalendar:
    """Work periods per working day, the weekly pattern, and dated exceptions (holidays, make-up days)."""

    timezone: str = DEFAULT_ZONE
    periods: tuple[tuple[dt.time, dt.time], ...] = ((dt.time(9), dt.time(12)), (dt.time(13, 30), dt.time(18)))
    workdays: frozenset[int] = frozenset({1, 2, 3, 4, 5})  # ISO weekdays: Monday = 1
    exceptions: Mapping[dt.date, bool] = field(default_factory=dict)  # date → is a working day

    def __post_init__(self):
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput("Unknown time zone", f"{self.timezone!r} is not an IANA time zone "
                               "such as Asia/Shanghai.") from None
        previous_end = None
        for start, end in self.periods:
            if end <= start:
                raise InvalidInput("Invalid work period", f"A work period must end after it starts; "
                                   f"got {start:%H:%M}–{end:%H:%M}.")
            if previous_end is not None and start < previous_end:
                raise InvalidInput("Invalid work periods", "Work periods must be in order and not overlap.")
            previous_end = end
        if not self.periods:
            raise InvalidInput("No work periods", "Give at least one work period, e.g. 09:00-12:00.")
        if not set(self.workdays) <= set(range(1, 8)):
            raise InvalidInput("Invalid workdays", "Workdays are ISO weekday numbers 1 (Monday) to 7 (Sunday).")

    @property
    def tz(self) -> ZoneInfo:
        """The calendar's time zone."""
        return ZoneInfo(self.timezone)

    def is_workday(self, day: dt.date) -> bool:
        """Whether `day` is a working day: the exception if one is listed, else the weekly pattern."""
        if day in self.exceptions:
            return self.exceptions[day]
        return day.isoweekday() in self.workdays

    def hours_per_day(self) -> float:
        """Working hours in one working day."""
        return sum(_seconds(s, e) for s, e in self.periods) / 3600

    def _windows(self, day: dt.date) -> Iterable[tuple[dt.datetime, dt.datetime]]:
        if not self.is_workday(day):
            return ()
        tz = self.tz
        return [(dt.datetime.combine(day, s, tz), dt.datetime.combine(day, e, tz)) for s, e in self.periods]

    def add_working_hours(self, start: dt.datetime, hours: float) -> dt.datetime:
        """The moment `hours` working hours after `start` (a deadline that ends at a period's end stays there)."""
        _aware(start)
        if hours < 0:
            raise InvalidInput("Negative time limit", "A time limit in working hours must be ≥ 0.")
        remaining = dt.timedelta(hours=float(hours))
        local = start.astimezone(self.tz)
        if remaining == dt.timedelta(0):
            return local
        day = local.date()
        for _ in range(SEARCH_LIMIT_DAYS):
            for w_start, w_end in self._windows(day):
                if local >= w_end:
                    continue
                begin = max(local, w_start)
                available = w_end - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
            day += dt.timedelta(days=1)
        raise InvalidInput("Calendar has no working time",
                           f"No working hours found within {SEARCH_LIMIT_DAYS} days of {start.isoformat()}; "
                           "check the workdays and holidays.")

    def working_hours_between(self, start: dt.datetime, end: dt.datetime) -> float:
        """Working hours elapsed from `start` to `end` (0 when end ≤ start)."""
        _aware(start)
        _aware(end)
        if end <= start:
            return 0.0
        a, b = start.astimezone(self.tz), end.astimezone(self.tz)
        total = 0.0
        day = a.date()
        while day <= b.date():
            for w_start, w_end in self._windows(day):
                lo, hi = max(a, w_start), min(b, w_end)
                if hi > lo:
                    total += (hi - lo).total_seconds()
            day += dt.timedelta(days=1)
        return total / 3600


def _seconds(start: dt.time, end: dt.time) -> float:
    return (dt.datetime.combine(dt.date.min, end) - dt.datetime.combine(dt.date.min, start)).total_seconds()


def _aware(value: dt.datetime) -> None:
    if value.tzinfo is None:
        raise InvalidInput("Time without zone", f"{value.isoformat()} has no time zone; give an offset "
                           "such as +08:00.")


def parse_periods(value: Iterable) -> tuple[tuple[dt.time, dt.time], ...]:
    """Work periods from [["09:00", "12:00"], …] or "09:00-12:00,13:30-18:00"."""
    if isinstance(value, str):
        value = [part.split("-") for part in value.split(",") if part.strip()]
    periods = []
    for item in value:
        try:
            start, end = (dt.time.fromisoformat(str(x).strip()) for x in item)
        except (TypeError, ValueError):
            raise InvalidInput("Invalid work period", f"Write work periods as HH:MM-HH:MM; got {item!r}.") from None
        periods.append((start, end))
    return tuple(periods)


def load_calendar(session: Session, settings: Mapping | None = None) -> WorkCalendar:
    """The calendar kept in the database: settings (zone, periods, weekdays) and the work_calendar table."""
    settings = settings if settings is not None else get_settings(session)
    exceptions = {d: w for d, w in session.execute(select(WorkCalendarDay.day, WorkCalendarDay.workday))}
    return WorkCalendar(timezone=settings["timezone"], periods=parse_periods(settings["work_periods"]),
                        workdays=frozenset(int(d) for d in settings["workdays"]), exceptions=exceptions)
