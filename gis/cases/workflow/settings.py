"""Changing the workflow settings: each checked before it is stored (gis.core.settings reads them)."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.cases.workhours import load_calendar, parse_periods
from gis.core import audit
from gis.core.audit_query import AUDIT_RETENTION_MIN_DAYS
from gis.core.errors import InvalidInput
from gis.core.models import WorkflowSetting
from gis.core.settings import default_settings, get_settings


def set_setting(session: Session, key: str, value: Any) -> Any:
    """Store one setting after checking it; returns the stored value."""
    defaults = default_settings()
    if key not in defaults or key == "last_tick_at":
        raise InvalidInput("Unknown setting", f"Settings are: {', '.join(k for k in defaults if k != 'last_tick_at')}.")
    value = _check_setting(key, value)
    if key in ("timezone", "work_periods", "workdays"):
        merged = {**get_settings(session), key: value}
        load_calendar(session, merged)  # raises with a clear message when the calendar would be unusable
    before = get_settings(session).get(key)
    session.merge(WorkflowSetting(key=key, value=value))
    audit.record(session, "setting.set", "setting", key, before={"value": before}, after={"value": value})
    session.flush()
    if key == "timezone":
        # This connection follows at once; the others when they next connect (migration 0009).
        session.execute(text("SELECT set_config('TimeZone', :zone, false)"), {"zone": value})
    return value


def _check_setting(key: str, value: Any) -> Any:
    numeric = {"duplicate_radius_m": (1, 5000), "duplicate_window_hours": (1, 24 * 30),
               "ranking_min_count": (0, 10_000), "session_idle_minutes": (1, 24 * 60),
               "session_absolute_hours": (1, 24 * 30),
               # The Cybersecurity Law keeps network logs at least six months (gridgov audit purge).
               "audit_retention_days": (AUDIT_RETENTION_MIN_DAYS, 36_500)}
    if key in numeric:
        lo, hi = numeric[key]
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidInput(f"Invalid {key}", f"{key} must be a number between {lo} and {hi}.") from None
        if not (lo <= number <= hi) or not math.isfinite(number):
            raise InvalidInput(f"Invalid {key}", f"{key} must be between {lo} and {hi}; got {value}.")
        return int(number) if key in ("ranking_min_count", "audit_retention_days") else number
    if key == "auto_escalate":
        if isinstance(value, str):
            value = {"true": True, "false": False, "on": True, "off": False}.get(value.lower(), value)
        if not isinstance(value, bool):
            raise InvalidInput("Invalid auto_escalate", "auto_escalate is true or false.")
        return value
    if key == "workdays":
        if isinstance(value, str):
            value = [v for v in value.replace(" ", "").split(",") if v]
        try:
            return sorted({int(v) for v in value})
        except (TypeError, ValueError):
            raise InvalidInput("Invalid workdays", "Give ISO weekday numbers, e.g. 1,2,3,4,5.") from None
    if key == "work_periods":
        return [[s.strftime("%H:%M"), e.strftime("%H:%M")] for s, e in parse_periods(value)]
    if key in ("open311_private_majors", "open311_public_categories"):
        if isinstance(value, str):
            value = [v for v in value.replace(" ", "").split(",") if v]
        return [str(v) for v in value]
    return str(value)


def settings_view(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Settings without internal bookkeeping, for display."""
    return {k: v for k, v in settings.items() if k != "last_tick_at"}
