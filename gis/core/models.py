"""The schema as GeoAlchemy2 models; Alembic migrations in migrations/ create it."""
from __future__ import annotations

import datetime as dt
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

SRID = 4326  # WGS84; CGCS2000 (EPSG:4490) differs by centimetres and is stored as equal.

AREA_LEVELS = ("district", "street", "community")
AREA_CODE_LENGTH = {"district": 6, "street": 9, "community": 12}
GRID_KINDS = ("basic", "special")
CADRE_TYPES = ("镇街领导", "三官一律", "机关干部", "网格员", "下沉力量", "社会力量")
ROLES = ("admin", "planner", "commander", "worker", "viewer")
ASSIGN_STATUSES = ("inside", "edge", "snapped", "outside", "ambiguous")
EVENT_STATUSES = ("reported", "registered", "dispatched", "in_progress", "handled", "closed", "rejected",
                  "merged")
LEVELS = ("grid", "community", "street", "district")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


def _geom_checks(column: str = "geom") -> tuple[CheckConstraint, ...]:
    # Every stored geometry is valid; the column type already pins SRID 4326 and the shape.
    return (CheckConstraint(f"ST_IsValid({column})", name=f"{column}_valid"),)


class Base(DeclarativeBase):
    """Declarative base with stable constraint names (so migrations can name them)."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: dict[Any, Any] = {dt.datetime: DateTime(timezone=True)}


class AdminArea(Base):
    """A district, street/town or community/village, with its GB/T 2260-style code."""

    __tablename__ = "admin_areas"
    __table_args__ = (
        CheckConstraint(_in("level", AREA_LEVELS), name="level"),
        CheckConstraint(
            "(level = 'district' AND code ~ '^[0-9]{6}$' AND parent_id IS NULL)"
            " OR (level = 'street' AND code ~ '^[0-9]{9}$' AND parent_id IS NOT NULL)"
            " OR (level = 'community' AND code ~ '^[0-9]{12}$' AND parent_id IS NOT NULL)",
            name="code_fits_level",
        ),
        *_geom_checks(),
        Index("ix_admin_areas_geom", "geom", postgresql_using="gist"),
        Index("ix_admin_areas_parent_id", "parent_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    level: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(Text)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("admin_areas.id", ondelete="RESTRICT"))
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False), nullable=False)
    area_m2: Mapped[float] = mapped_column(Float, Computed("ST_Area(geom::geography)", persisted=True))

    parent: Mapped[AdminArea | None] = relationship(remote_side=[id])


# Grid identity versus grid version. A grid code (15 digits: 12-digit community + 3-digit
# sequence) is issued once and never reused, even after the grid is retired; `grid_codes`
# remembers every code ever issued, and contracts and worker scopes refer to the code, so
# they survive a reshape. Each row of `grids` is one *version* of a grid's boundary, valid
# over [valid_from, valid_to): NULL valid_from means "since before our records", NULL
# valid_to means "current". An exclusion constraint keeps the versions of one code from
# overlapping in time; events keep the version that was valid when they occurred.
grid_codes = Table(
    "grid_codes",
    Base.metadata,
    Column("code", String(15), primary_key=True),
    Column("issued_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("code ~ '^[0-9]{15}$'", name="code_format"),
)


class Grid(Base):
    """One dated version of a grid's boundary and attributes."""

    __tablename__ = "grids"
    __table_args__ = (
        CheckConstraint("code ~ '^[0-9]{15}$'", name="code_format"),
        CheckConstraint(_in("kind", GRID_KINDS), name="kind"),
        CheckConstraint("households >= 0 AND population >= 0", name="counts_nonnegative"),
        CheckConstraint("valid_to IS NULL OR valid_from IS NULL OR valid_to > valid_from", name="validity_order"),
        CheckConstraint("version >= 1", name="version_positive"),
        UniqueConstraint("code", "version"),
        *_geom_checks(),
        Index("ix_grids_geom", "geom", postgresql_using="gist"),
        Index("ix_grids_current_geom", "geom", postgresql_using="gist",
              postgresql_where=text("valid_to IS NULL")),
        Index("uq_grids_current_code", "code", unique=True, postgresql_where=text("valid_to IS NULL")),
        Index("ix_grids_community_id", "community_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(15), ForeignKey("grid_codes.code", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), server_default="basic")
    community_id: Mapped[int] = mapped_column(ForeignKey("admin_areas.id", ondelete="RESTRICT"))
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False), nullable=False)
    area_m2: Mapped[float] = mapped_column(Float, Computed("ST_Area(geom::geography)", persisted=True))
    households: Mapped[int] = mapped_column(Integer, server_default="0")
    population: Mapped[int] = mapped_column(Integer, server_default="0")
    valid_from: Mapped[dt.datetime | None]
    valid_to: Mapped[dt.datetime | None]
    version: Mapped[int] = mapped_column(Integer, server_default="1")

    community: Mapped[AdminArea] = relationship()


class Building(Base):
    """A building footprint (楼栋) with its households; grid is derived from the footprint."""

    __tablename__ = "buildings"
    __table_args__ = (
        CheckConstraint("floors IS NULL OR floors >= 0", name="floors_nonnegative"),
        CheckConstraint("households >= 0 AND population >= 0", name="counts_nonnegative"),
        *_geom_checks(),
        Index("ix_buildings_geom", "geom", postgresql_using="gist"),
        Index("ix_buildings_grid_id", "grid_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False), nullable=False)
    floors: Mapped[int | None] = mapped_column(Integer)
    households: Mapped[int] = mapped_column(Integer, server_default="0")
    population: Mapped[int] = mapped_column(Integer, server_default="0")
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id", ondelete="SET NULL"))


class Category(Base):
    """An event or component category with its escalation level and time limit (data-driven)."""

    __tablename__ = "categories"
    __table_args__ = (
        CheckConstraint(_in("kind", ("event", "component")), name="kind"),
        CheckConstraint(_in("default_level", LEVELS), name="default_level"),
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


class User(Base):
    """A person or system that signs in: role, argon2 password hash, hashed API token."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(Text)
    # sha256 of the bearer token: tokens are 256-bit random, so a fast hash is enough,
    # and every API request can be checked without argon2's deliberate slowness.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


user_grids = Table(
    "user_grids",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("grid_code", ForeignKey("grid_codes.code", ondelete="CASCADE"), primary_key=True),
)


class Event(Base):
    """A reported event or component case, located at a point and assigned to a grid version."""

    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint(_in("status", EVENT_STATUSES), name="status"),
        CheckConstraint(f"assign_status IS NULL OR {_in('assign_status', ASSIGN_STATUSES)}",
                        name="assign_status"),
        CheckConstraint("accuracy_m IS NULL OR accuracy_m >= 0", name="accuracy_nonnegative"),
        UniqueConstraint("reporter_id", "idempotency_key"),
        Index("ix_events_geom", "geom", postgresql_using="gist"),
        Index("ix_events_grid_id", "grid_id"),
        Index("ix_events_occurred_at", "occurred_at"),
        Index("ix_events_status", "status"),
        # Issue #8 (the closed loop): level, deadlines and the case's workflow facts.
        CheckConstraint(_in("level", LEVELS), name="level"),
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
    # edit; assignment then uses this time instead of occurred_at (see gis/spatial/editing.py).
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


class Cadre(Base):
    """A cadre (干部) of one of the six types; name and phone are personal data."""

    __tablename__ = "cadres"
    __table_args__ = (CheckConstraint(_in("type", CADRE_TYPES), name="type"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(16))
    organisation: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), unique=True)


# A contract (包片) is either a whole grid (by code, so it survives boundary edits) or a
# drawn polygon that may cut across grids. Dates are a half-open range [valid_from, valid_to):
# a contract with valid_to = today no longer holds today.
class Contract(Base):
    """A cadre's responsibility for a grid or a drawn area over a period."""

    __tablename__ = "contracts"
    __table_args__ = (
        CheckConstraint("(grid_code IS NULL) <> (geom IS NULL)", name="grid_or_polygon"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="validity_order"),
        CheckConstraint("geom IS NULL OR ST_IsValid(geom)", name="geom_valid"),
        Index("ix_contracts_geom", "geom", postgresql_using="gist"),
        Index("ix_contracts_cadre_id", "cadre_id"),
        Index("ix_contracts_grid_code", "grid_code"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cadre_id: Mapped[int] = mapped_column(ForeignKey("cadres.id", ondelete="CASCADE"))
    grid_code: Mapped[str | None] = mapped_column(ForeignKey("grid_codes.code", ondelete="RESTRICT"))
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False), nullable=True)
    role: Mapped[str] = mapped_column(Text)
    valid_from: Mapped[dt.date] = mapped_column(Date, server_default=func.current_date())
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    # Set when the contracted grid is retired by a boundary edit and a person must re-assign it.
    flag: Mapped[str | None] = mapped_column(Text)

    cadre: Mapped[Cadre] = relationship()


class AuditEntry(Base):
    """Who changed what, when, with the before and after state."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(Text)
    before: Mapped[dict | None] = mapped_column(JSONB)
    after: Mapped[dict | None] = mapped_column(JSONB)


# -- Issue 5: cadres' contracted areas and coverage -------------------------------------------
# What "open" means for an event, in one place: every status except the two that end a case.
# Coverage ("uncovered grids by open events"), the map views and the workflow's counters all use
# it. Migration 0004 creates the SQL function event_is_open(status) from this same list, so SQL
# views can say it too; tests/test_coverage.py checks the two agree for every status. Changing
# the list means a migration that replaces that function.
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
         "postpone", "escalate", "deescalate", "note", "overdue")


class EventMove(Base):
    """One step of a case's timeline: who did what when, from which state and level to which."""

    __tablename__ = "event_moves"
    __table_args__ = (
        CheckConstraint(_in("move", MOVES), name="move"),
        CheckConstraint(_in("from_status", EVENT_STATUSES), name="from_status"),
        CheckConstraint(_in("to_status", EVENT_STATUSES), name="to_status"),
        CheckConstraint(f"from_level IS NULL OR {_in('from_level', LEVELS)}", name="from_level"),
        CheckConstraint(f"to_level IS NULL OR {_in('to_level', LEVELS)}", name="to_level"),
        Index("ix_event_moves_event_id_at", "event_id", "at"),
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
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    deadline_at: Mapped[dt.datetime | None]
    detail: Mapped[dict | None] = mapped_column(JSONB)


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


# -- Issue 7: planners redraw grid boundaries ---------------------------------------------------
# Every committed edit is one row of grid_edits; the versions it closed and opened are linked by
# grid_lineage (parent version → child version), so any grid's history can be walked both ways:
#   version   the same code's next version (a reshape, or a neighbour that gave or took area)
#   split     the child is one piece of the parent, which was retired
#   merged    the parent was merged with others into the child and retired
#   absorbed  the parent was retired and its area given to the child (an existing neighbour)
#   carved    the child took part of the parent's area; the parent lives on as a new version
GRID_EDIT_OPS = ("reshape", "move_vertices", "split", "merge", "create", "retire")
LINEAGE_RELATIONS = ("version", "split", "merged", "absorbed", "carved")


class GridEdit(Base):
    """One committed boundary edit: what, in which community, by whom, when, and what moved."""

    __tablename__ = "grid_edits"
    __table_args__ = (
        CheckConstraint(_in("op", GRID_EDIT_OPS), name="op"),
        Index("ix_grid_edits_community_id", "community_id"),
        Index("ix_grid_edits_at", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    op: Mapped[str] = mapped_column(String(16))
    community_id: Mapped[int] = mapped_column(ForeignKey("admin_areas.id", ondelete="RESTRICT"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The instant the closed versions end and the opened ones begin (valid_to = valid_from = at).
    at: Mapped[dt.datetime]
    note: Mapped[str | None] = mapped_column(Text)
    request: Mapped[dict] = mapped_column(JSONB)
    impact: Mapped[dict] = mapped_column(JSONB)


class GridLineage(Base):
    """Parent grid version → child grid version, created by one edit."""

    __tablename__ = "grid_lineage"
    __table_args__ = (
        CheckConstraint(_in("relation", LINEAGE_RELATIONS), name="relation"),
        CheckConstraint("parent_id <> child_id", name="not_self"),
        UniqueConstraint("parent_id", "child_id"),
        Index("ix_grid_lineage_child_id", "child_id"),
        Index("ix_grid_lineage_edit_id", "edit_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    edit_id: Mapped[int] = mapped_column(ForeignKey("grid_edits.id", ondelete="CASCADE"))
    parent_id: Mapped[int] = mapped_column(ForeignKey("grids.id", ondelete="CASCADE"))
    child_id: Mapped[int] = mapped_column(ForeignKey("grids.id", ondelete="CASCADE"))
    relation: Mapped[str] = mapped_column(String(16))
