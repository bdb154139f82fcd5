"""Dated rows (grid versions, contracts): the one rule for "current" and "in force", as SQL (and as a
SQLAlchemy clause for the ORM queries)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_

# A dated row holds over [valid_from, valid_to): from its first moment (or day), up to but not
# including the moment (or day) it stopped. valid_to NULL: it still holds — the current version.
# valid_from NULL (grids imported without history): it held since before our records. Every
# lookup builds its condition here, so the rule is written once; the partial indexes on
# "valid_to IS NULL" (gis.core.models) match the text `current` gives.


def current(alias: str) -> str:
    """SQL: the row `alias` is its key's current version (it has not ended)."""
    return f"{alias}.valid_to IS NULL"


def not_ended(alias: str, at: str) -> str:
    """SQL: the row `alias` has not ended by `at` (a moment or a day, as SQL text)."""
    return f"({alias}.valid_to IS NULL OR {at} < {alias}.valid_to)"


def in_force(alias: str, at: str, *, open_start: bool = True) -> str:
    """SQL: the row `alias` holds at `at`: started by then and not ended.

    `open_start`: a NULL valid_from means "since before our records" (grid versions); contracts
    always have a start, so they pass False and keep the plain comparison their indexes serve.
    """
    started = f"({alias}.valid_from IS NULL OR {alias}.valid_from <= {at})" if open_start else \
        f"{alias}.valid_from <= {at}"
    return f"{started} AND {not_ended(alias, at)}"


def in_force_just_before(alias: str, at: str) -> str:
    """SQL: the row `alias` held in the instant before `at` (e.g. at the end of a day: `at` = the next midnight)."""
    return (f"({alias}.valid_from IS NULL OR {alias}.valid_from < {at}) "
            f"AND ({alias}.valid_to IS NULL OR {alias}.valid_to >= {at})")


def in_force_during(alias: str, first: str, end: str) -> str:
    """SQL: the timestamped row `alias` held on some day of the dates [`first`, `end`) (`end` NULL: no end),
    by the calendar day: a version retired during a day still counts for that day."""
    return (f"({alias}.valid_from IS NULL OR {end} IS NULL OR {alias}.valid_from::date < {end}) "
            f"AND ({alias}.valid_to IS NULL OR {alias}.valid_to::date >= {first})")


def in_force_clause(model: Any, day: Any) -> Any:
    """SQLAlchemy clause: the row of `model` (one that always has a start, as contracts do) is in force on
    `day` (a date or a SQL date expression) — `in_force(alias, day, open_start=False)` for the ORM."""
    return and_(model.valid_from <= day, or_(model.valid_to.is_(None), model.valid_to > day))
