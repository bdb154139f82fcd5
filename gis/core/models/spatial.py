"""The spatial room's tables: administrative areas, grid codes and dated grid versions, buildings,
boundary edits and their lineage."""
from __future__ import annotations

import datetime as dt

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gis.core.models.base import SRID, Base, check_in, geom_checks

AREA_LEVELS = ("district", "street", "community")
AREA_CODE_LENGTH = {"district": 6, "street": 9, "community": 12}
GRID_KINDS = ("basic", "special")


class AdminArea(Base):
    """A district, street/town or community/village, with its GB/T 2260-style code."""

    __tablename__ = "admin_areas"
    __table_args__ = (
        CheckConstraint(check_in("level", AREA_LEVELS), name="level"),
        CheckConstraint(
            "(level = 'district' AND code ~ '^[0-9]{6}$' AND parent_id IS NULL)"
            " OR (level = 'street' AND code ~ '^[0-9]{9}$' AND parent_id IS NOT NULL)"
            " OR (level = 'community' AND code ~ '^[0-9]{12}$' AND parent_id IS NOT NULL)",
            name="code_fits_level",
        ),
        *geom_checks(),
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
        CheckConstraint(check_in("kind", GRID_KINDS), name="kind"),
        CheckConstraint("households >= 0 AND population >= 0", name="counts_nonnegative"),
        CheckConstraint("valid_to IS NULL OR valid_from IS NULL OR valid_to > valid_from", name="validity_order"),
        CheckConstraint("version >= 1", name="version_positive"),
        UniqueConstraint("code", "version"),
        *geom_checks(),
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
        *geom_checks(),
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
        CheckConstraint(check_in("op", GRID_EDIT_OPS), name="op"),
        # Why the edit was made; NOT VALID in migration 0019, so edits saved before the rule keep no note.
        CheckConstraint("note IS NOT NULL AND btrim(note) <> ''", name="note"),
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
        CheckConstraint(check_in("relation", LINEAGE_RELATIONS), name="relation"),
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
