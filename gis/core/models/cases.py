"""The cases room's tables: categories, events and their timeline, the working calendar, the workflow
settings and the assessment summary."""
from __future__ import annotations

import datetime as dt
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    CHAR,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gis.core.models.base import SRID, Base, check_in

EVENT_CHANNELS = ("staff", "open311")  # issue 17: how a report came in
ASSIGN_STATUSES = ("inside", "edge", "snapped", "outside", "ambiguous")
EVENT_STATUSES = ("reported", "registered", "dispatched", "in_progress", "handled", "closed", "rejected",
                  "merged")
LEVELS = ("grid", "community", "street", "district")


class Category(Base):
    """An event or component category with its escalation level and time limit (data-driven)."""

    __tablename__ = "categories"
    __table_args__ = (
        CheckConstraint(check_in("kind", ("event", "component")), name="kind"),
        CheckConstraint(check_in("default_level", LEVELS), name="default_level"),
        CheckConstraint("time_limit_hours > 0", name="time_limit_positive"),
    )

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    major_code: Mapped[str] = mapped_column(String(8))
    major_name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    default_level: Mapped[str] = mapped_column(String(16), server_default="grid")
    time_limit_hours: Mapped[float] = mapped_column(Numeric(6, 1))
    urgent: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))


class Event(Base):
    """A reported event or component case, located at a point and assigned to a grid version."""

    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint(check_in("status", EVENT_STATUSES), name="status"),
        CheckConstraint(f"assign_status IS NULL OR {check_in('assign_status', ASSIGN_STATUSES)}",
                        name="assign_status"),
        CheckConstraint("accuracy_m IS NULL OR accuracy_m >= 0", name="accuracy_nonnegative"),
        UniqueConstraint("reporter_id", "idempotency_key"),
        Index("ix_events_geom", "geom", postgresql_using="gist"),
        Index("ix_events_grid_id", "grid_id"),
        Index("ix_events_occurred_at", "occurred_at"),
        Index("ix_events_status", "status"),
        # Issue #8 (the closed loop): level, deadlines and the case's workflow facts.
        CheckConstraint(check_in("level", LEVELS), name="level"),
        CheckConstraint("postponed_count >= 0 AND rework_count >= 0", name="counts_nonnegative"),
        CheckConstraint("(status = 'merged') = (merged_into_id IS NOT NULL)", name="merged_has_target"),
        CheckConstraint("merged_into_id IS NULL OR merged_into_id <> id", name="not_merged_into_itself"),
        Index("ix_events_open_deadline", "deadline_at",
              # Spelt as = ANY(text[]) so pg_get_indexdef gives it back unchanged (bulk loads rebuild from it).
              postgresql_where=text("status::text = ANY (ARRAY['reported', 'registered', 'dispatched', "
                                    "'in_progress', 'handled']::text[])")),
        Index("ix_events_grid_id_registered_at", "grid_id", "registered_at"),
        Index("ix_events_first_deadline_at", "first_deadline_at"),
        Index("ix_events_reported_at", "reported_at"),
        Index("ix_events_merged_into_id", "merged_into_id"),
        Index("ix_events_owner_department_id", "owner_department_id"),
        CheckConstraint(check_in("channel", EVENT_CHANNELS), name="channel"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    geom = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False), nullable=False)
    category: Mapped[str] = mapped_column(ForeignKey("categories.code", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, server_default="")
    status: Mapped[str] = mapped_column(String(16), server_default="reported")
    occurred_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    reported_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Where the report came from, before conversion to WGS84 (e.g. 'gcj02', 'EPSG:4490').
    source_crs: Mapped[str] = mapped_column(String(32), server_default="wgs84")
    source_x: Mapped[float | None] = mapped_column(Float)
    source_y: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id", ondelete="SET NULL"))
    community_id: Mapped[int | None] = mapped_column(ForeignKey("admin_areas.id", ondelete="SET NULL"))
    street_id: Mapped[int | None] = mapped_column(ForeignKey("admin_areas.id", ondelete="SET NULL"))
    district_id: Mapped[int | None] = mapped_column(ForeignKey("admin_areas.id", ondelete="SET NULL"))
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id", ondelete="SET NULL"))
    assign_status: Mapped[str | None] = mapped_column(String(16))
    assign_distance_m: Mapped[float | None] = mapped_column(Float)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    # Issue 7: when a boundary edit handed this open event to the grid that covers it after the
    # edit; assignment then uses this time instead of occurred_at (see gis/spatial/editing/impact.py).
    reassigned_at: Mapped[dt.datetime | None]
    # Personal data of the resident who reported (name, phone): never exposed in layers.
    contact: Mapped[dict | None] = mapped_column(JSONB)
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())

    # Issue #8 (the closed loop). The clock of a case starts when it is reported; `first_deadline_at`
    # is the deadline before any postponement (it decides when a case becomes due for assessment),
    # `deadline_at` the one in force. `overdue_since` is set by the tick when a deadline passes and
    # cleared by a postponement. A merged report keeps its row and points at the case it joined.
    level: Mapped[str] = mapped_column(String(16), server_default="grid")
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    registered_at: Mapped[dt.datetime | None]
    dispatched_at: Mapped[dt.datetime | None]
    handled_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    first_deadline_at: Mapped[dt.datetime | None]
    deadline_at: Mapped[dt.datetime | None]
    overdue_since: Mapped[dt.datetime | None]
    postponed_count: Mapped[int] = mapped_column(Integer, server_default="0")
    rework_count: Mapped[int] = mapped_column(Integer, server_default="0")
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    handling_work_hours: Mapped[float | None] = mapped_column(Float)

    # Issue 17: a report through the public channel (Open311) shows its description and photo to
    # the public only once a commander publishes it; `public_reply` is the answer residents read.
    channel: Mapped[str] = mapped_column(String(16), server_default="staff")
    published_at: Mapped[dt.datetime | None]
    public_reply: Mapped[str | None] = mapped_column(Text)
    # Issue 25: the department the case is dispatched to (its members see it in their queue).
    owner_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"))


# -- Issue 5: cadres' contracted areas and coverage -------------------------------------------
# What "open" means for an event, in one place: every status except the two that end a case.
# Coverage ("uncovered grids by open events"), the map views and the workflow's counters all use
# it. Migration 0004 creates the SQL function event_is_open(status) from this same list, so SQL
# views can say it too; tests/gis/cadres/test_coverage.py checks the two agree for every status.
# Changing the list means a migration that replaces that function.
CLOSED_EVENT_STATUSES = ("closed", "rejected", "merged")  # merged (issue #8): part of another case
OPEN_EVENT_STATUSES = tuple(s for s in EVENT_STATUSES if s not in CLOSED_EVENT_STATUSES)


def event_is_open(status: Any) -> Any:
    """SQL expression: an event with this status is open (neither closed nor rejected)."""
    return status.not_in(CLOSED_EVENT_STATUSES)


# Coverage reports and map counters count open events per grid: this partial index answers that
# from the index alone instead of reading every event (3–5× faster at city scale). Its predicate
# is the SQL function itself, so it stays the one definition (and reads back unchanged).
Index("ix_events_open_grid_id", Event.grid_id, postgresql_where=text("event_is_open(status)"))


# -- Issue #8: the closed loop (workflow moves, calendar, settings, assessment summary) -------
MOVES = ("report", "register", "reject", "merge", "dispatch", "start", "handle", "verify", "rework",
         "postpone", "escalate", "deescalate", "note", "overdue", "return")  # return: 退单 (issue 25)


class EventMove(Base):
    """One step of a case's timeline: who did what when, from which state and level to which."""

    __tablename__ = "event_moves"
    __table_args__ = (
        CheckConstraint(check_in("move", MOVES), name="move"),
        CheckConstraint(check_in("from_status", EVENT_STATUSES), name="from_status"),
        CheckConstraint(check_in("to_status", EVENT_STATUSES), name="to_status"),
        CheckConstraint(f"from_level IS NULL OR {check_in('from_level', LEVELS)}", name="from_level"),
        CheckConstraint(f"to_level IS NULL OR {check_in('to_level', LEVELS)}", name="to_level"),
        Index("ix_event_moves_event_id_at", "event_id", "at"),
        UniqueConstraint("actor_id", "idempotency_key"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    # NULL actor: the system (the tick flagging a deadline, an automatic escalation).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    move: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    from_level: Mapped[str | None] = mapped_column(String(16))
    to_level: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, server_default="")
    photo_ref: Mapped[str | None] = mapped_column(Text)
    # A phone's outbox sends each move with a key; a resend after a lost answer is the same move (issue 18).
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    deadline_at: Mapped[dt.datetime | None]
    detail: Mapped[dict | None] = mapped_column(JSONB)
    # Issue 25: the department a dispatch sent the case to, or that sent it back (return).
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"))


class WorkCalendarDay(Base):
    """A dated exception to the weekly pattern: a holiday (workday false) or a make-up workday (true)."""

    __tablename__ = "work_calendar"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    workday: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(Text, server_default="")


class WorkflowSetting(Base):
    """One workflow setting (time zone, work periods, auto-escalation, …) as a JSON value."""

    __tablename__ = "workflow_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSONB, nullable=True)


# The assessment summary: one row per (registration day, district, street, community, grid,
# urgent), counting that day's cases as of `refreshed_at`. 0 stands for "none" in the key
# columns (a case outside every grid), so the key can be a primary key. A trigger on events
# marks keys dirty in case_stats_dirty; each workflow move and the tick recompute dirty keys.
class _CaseCounts:
    """The rest of a case summary's key (district … urgent) and its counts, daily and monthly alike."""

    district_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    street_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    grid_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    urgent: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    registered: Mapped[int] = mapped_column(Integer, server_default="0")
    due: Mapped[int] = mapped_column(Integer, server_default="0")
    postponed: Mapped[int] = mapped_column(Integer, server_default="0")
    closed: Mapped[int] = mapped_column(Integer, server_default="0")
    closed_on_time: Mapped[int] = mapped_column(Integer, server_default="0")
    dispatched: Mapped[int] = mapped_column(Integer, server_default="0")
    reworked: Mapped[int] = mapped_column(Integer, server_default="0")
    closed_all: Mapped[int] = mapped_column(Integer, server_default="0")
    # Working hours from report to close of every closed case (for the mean and the p90).
    handling_hours: Mapped[list[float]] = mapped_column(ARRAY(Float), server_default="{}")
    refreshed_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class CaseStatsDaily(_CaseCounts, Base):
    """Precomputed indicator counts for the cases registered on one day in one grid."""

    __tablename__ = "case_stats_daily"
    __table_args__ = (Index("ix_case_stats_daily_grid_id_day", "grid_id", "day"),)

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)


class CaseStatsMonthly(_CaseCounts, Base):
    """The day rows of one month summed (same key with the month's first day): whole months of a period
    are read from here, so a monthly grid report reads one or two rows per grid, not one per case."""

    __tablename__ = "case_stats_monthly"

    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)


case_stats_dirty = Table(
    "case_stats_dirty",
    Base.metadata,
    Column("day", Date, primary_key=True),
    Column("district_id", Integer, primary_key=True),
    Column("street_id", Integer, primary_key=True),
    Column("community_id", Integer, primary_key=True),
    Column("grid_id", Integer, primary_key=True),
    Column("urgent", Boolean, primary_key=True),
)


# -- Issue 18: photos attached to an event or to one move of its timeline ---------------------
ATTACHMENT_FLAGS = ("far", "old", "future", "no_exif_time")


class Attachment(Base):
    """One photo of an event: hashes of its original, GPS-stripped variant and thumbnail, and what its EXIF said."""
    # Stored content-addressed (gis/core/media.py); `public_sha256` equals `sha256` when there was nothing to strip.

    __tablename__ = "attachments"
    __table_args__ = (
        # The same photo sent twice for one event (a retry, a second tap) is stored once.
        UniqueConstraint("event_id", "sha256"),
        CheckConstraint("bytes > 0 AND width > 0 AND height > 0", name="sizes_positive"),
        CheckConstraint("flags <@ ARRAY['far', 'old', 'future', 'no_exif_time']::text[]", name="flags"),
        Index("ix_attachments_move_id", "move_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    move_id: Mapped[int | None] = mapped_column(ForeignKey("event_moves.id", ondelete="SET NULL"))
    sha256: Mapped[str] = mapped_column(CHAR(64))
    public_sha256: Mapped[str] = mapped_column(CHAR(64))
    thumb_sha256: Mapped[str] = mapped_column(CHAR(64))
    content_type: Mapped[str] = mapped_column(String(32))
    bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    # From EXIF: DateTimeOriginal (with OffsetTimeOriginal, else the district's zone) and the GPS position.
    taken_at: Mapped[dt.datetime | None]
    taken_lon: Mapped[float | None] = mapped_column(Float)
    taken_lat: Mapped[float | None] = mapped_column(Float)
    flags: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    # Metres from the event's point to where the photo was taken (NULL without GPS).
    distance_m: Mapped[float | None] = mapped_column(Float)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
