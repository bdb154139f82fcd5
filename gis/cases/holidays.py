"""The dated exceptions of the working-hours calendar: holidays and make-up workdays (调休上班)."""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from gis.core import audit
from gis.core.models import WorkCalendarDay


def store_calendar_days(session: Session, rows: Sequence[dict], *, replace: bool = False) -> None:
    """Write dated exceptions (`day`, `workday`, `note`): a day already listed takes the new values;
    with `replace`, every day not in `rows` goes first. Nothing is committed."""
    if replace:
        session.execute(delete(WorkCalendarDay))
    if rows:
        stmt = insert(WorkCalendarDay).values(list(rows))
        session.execute(stmt.on_conflict_do_update(index_elements=["day"], set_={
            "workday": stmt.excluded.workday, "note": stmt.excluded.note}))
    days = sorted(str(r["day"]) for r in rows)
    audit.record(session, "calendar.import", "calendar", None,
                 after={"days": len(days), "first": days[0] if days else None, "last": days[-1] if days else None,
                        "replace": replace})


def calendar_days(session: Session) -> list[WorkCalendarDay]:
    """Every dated exception, earliest first."""
    return list(session.scalars(select(WorkCalendarDay).order_by(WorkCalendarDay.day)))
