"""The duties room's tables: departments and the responsibility list (权责清单), dated like contracts."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, Numeric, String, Text, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from gis.core.models.base import Base, check_in
from gis.core.models.cases import LEVELS

DEPARTMENT_LEVELS = ("district", "street", "community")  # where a department sits (a bureau, a street office, …)


class Department(Base):
    """A department that owns cases: a district bureau, a street office, a police station, a community committee."""

    __tablename__ = "departments"
    __table_args__ = (CheckConstraint(check_in("level", DEPARTMENT_LEVELS), name="level"),
                      CheckConstraint("code ~ '^[A-Za-z0-9_.-]{1,32}$'", name="code_format"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(String(16))
    # The area it serves; NULL: the whole district.
    area_id: Mapped[int | None] = mapped_column(ForeignKey("admin_areas.id", ondelete="RESTRICT"))
    contact: Mapped[str] = mapped_column(Text, server_default="")
    active: Mapped[bool] = mapped_column(server_default=text("true"))


class Responsibility(Base):
    """One row of the responsibility list: who owns a category (or a whole major class) at a case level, in an
    area (or everywhere), with whom, and in how many working hours; valid over [valid_from, valid_to)."""

    __tablename__ = "responsibilities"
    __table_args__ = (
        CheckConstraint("(category IS NULL) <> (major_code IS NULL)", name="category_or_major"),
        CheckConstraint(check_in("level", LEVELS), name="level"),
        CheckConstraint("time_limit_hours IS NULL OR time_limit_hours > 0", name="time_limit_positive"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="dates_ordered"),
        Index("ix_responsibilities_lookup", "level", "category", "major_code"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category: Mapped[str | None] = mapped_column(ForeignKey("categories.code", ondelete="RESTRICT"))
    major_code: Mapped[str | None] = mapped_column(String(8))
    level: Mapped[str] = mapped_column(String(16))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("admin_areas.id", ondelete="RESTRICT"))  # NULL: everywhere
    owner_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"))
    co_ids: Mapped[list[int]] = mapped_column(ARRAY(Integer), server_default="{}")
    time_limit_hours: Mapped[float | None] = mapped_column(Numeric(6, 1))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
