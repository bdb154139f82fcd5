"""The district's clock: one time zone (the `timezone` setting) for every time a person reads.

"Today", statistics days, working hours, deadlines and every timestamp shown are in the district's
zone (default Asia/Shanghai), whatever the server's or the database's own zone is.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from gis.core.settings import default_settings

# How the database side keeps the same clock: every connection gridgov opens sets its session
# TimeZone to the district's zone (gis.core.db.make_engine runs `apply_district_zone` on connect), so
# CURRENT_DATE, date_trunc('day', …), timestamptz::date, a date compared with a timestamptz, and
# the text PostgreSQL and psycopg make of a timestamptz are all local. Python reads the zone back
# from the connection (`zone_of`): psycopg keeps the server's TimeZone without a round trip, so
# the two sides cannot disagree.
DEFAULT_ZONE = default_settings()["timezone"]

_SET_ZONE = ("SELECT set_config('TimeZone', coalesce((SELECT value #>> '{}' FROM workflow_settings "
             "WHERE key = 'timezone'), %(default)s), false)")
_SET_DEFAULT = "SELECT set_config('TimeZone', %(default)s, false)"
# Expected refusals: the settings table does not exist yet (42P01: not migrated), or the stored
# zone is one PostgreSQL does not know (22023); both fall back to the default, never to no clock.
_FALLBACK_STATES = {"42P01", "22023"}


def zone(name: str) -> ZoneInfo:
    """The IANA zone called `name`; ValueError for an unknown one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA time zone such as Asia/Shanghai") from None


def apply_district_zone(dbapi_connection) -> str:
    """Set a new psycopg connection's TimeZone to the district's setting; returns the zone's name."""
    was_autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True  # a refused statement must not leave a failed transaction
    try:
        try:
            row = dbapi_connection.execute(_SET_ZONE, {"default": DEFAULT_ZONE}).fetchone()
        except Exception as exc:  # psycopg.Error; re-raised unless it is an expected refusal
            if getattr(exc, "sqlstate", None) not in _FALLBACK_STATES:
                raise
            row = dbapi_connection.execute(_SET_DEFAULT, {"default": DEFAULT_ZONE}).fetchone()
    finally:
        dbapi_connection.autocommit = was_autocommit
    return row[0]


def zone_of(bind: Session | Connection) -> ZoneInfo:
    """The district's zone, as the connection under `bind` runs in it."""
    connection = bind.connection() if isinstance(bind, Session) else bind
    tz = connection.connection.dbapi_connection.info.timezone
    return tz if isinstance(tz, ZoneInfo) else zone(DEFAULT_ZONE)


def now(bind: Session | Connection) -> dt.datetime:
    """The current time in the district's zone (aware)."""
    return dt.datetime.now(zone_of(bind))


def today(bind: Session | Connection) -> dt.date:
    """The district's today: the date in its zone now."""
    return now(bind).date()


def aware(moment: dt.datetime | None, bind: Session | Connection) -> dt.datetime:
    """`moment` as an aware time: now when None; a naive time is the district's local time."""
    tz = zone_of(bind)
    return dt.datetime.now(tz) if moment is None else local(moment, tz)


def local(value: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """`value` in zone `tz`; a naive value is read as already local there."""
    return value.replace(tzinfo=tz) if value.tzinfo is None else value.astimezone(tz)


def midnight(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    """The start of `day` in zone `tz` (aware)."""
    return dt.datetime(day.year, day.month, day.day, tzinfo=tz)


def iso(value: dt.datetime | None, tz: dt.tzinfo) -> str | None:
    """An ISO 8601 text with the local offset (e.g. 2026-12-02T08:49:00+08:00), None for None."""
    return None if value is None else local(value, tz).isoformat()


def shown(value: dt.datetime | None, tz: dt.tzinfo, *, seconds: bool = False) -> str:
    """How a page or a table shows a time: local, 'YYYY-MM-DD HH:MM' (—  for none)."""
    if value is None:
        return "—"
    return local(value, tz).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
