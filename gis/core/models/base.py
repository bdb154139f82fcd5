"""The declarative base every model shares: stable constraint names, WGS84 geometry, aware timestamps."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, MetaData
from sqlalchemy.orm import DeclarativeBase

SRID = 4326  # WGS84; CGCS2000 (EPSG:4490) differs by centimetres and is stored as equal.

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def check_in(column: str, values: tuple[str, ...]) -> str:
    """SQL for a CHECK constraint: `column` holds one of `values`."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


def geom_checks(column: str = "geom") -> tuple[CheckConstraint, ...]:
    """The CHECK constraints of a geometry column."""
    # Every stored geometry is valid; the column type already pins SRID 4326 and the shape.
    return (CheckConstraint(f"ST_IsValid({column})", name=f"{column}_valid"),)


class Base(DeclarativeBase):
    """Declarative base with stable constraint names (so migrations can name them)."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: dict[Any, Any] = {dt.datetime: DateTime(timezone=True)}
