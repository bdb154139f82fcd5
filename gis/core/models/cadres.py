"""The cadres room's tables: cadres and their contracts (包片) on grids or drawn areas."""
from __future__ import annotations

import datetime as dt

from geoalchemy2 import Geometry
from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gis.core.models.base import SRID, Base, check_in

CADRE_TYPES = ("镇街领导", "三官一律", "机关干部", "网格员", "下沉力量", "社会力量")


class Cadre(Base):
    """A cadre (干部) of one of the six types; name and phone are personal data."""

    __tablename__ = "cadres"
    __table_args__ = (CheckConstraint(check_in("type", CADRE_TYPES), name="type"),)

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
