"""The basemap's tables: the district's roads, water and place names, imported or drawn by the demo."""
from __future__ import annotations

from geoalchemy2 import Geometry
from sqlalchemy import BigInteger, CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gis.core.models.base import SRID, Base, check_in, geom_checks

# By rank, widest first: the map draws them in these widths and colours (layers/registry.py).
ROAD_CLASSES = ("motorway", "arterial", "secondary", "local", "path")
WATER_KINDS = ("sea", "lake", "river", "canal")
PLACE_KINDS = ("district", "town", "village", "neighbourhood", "poi")


class BaseRoad(Base):
    """A road of the basemap: its class (how wide the map draws it) and name."""

    __tablename__ = "base_roads"
    __table_args__ = (
        CheckConstraint(check_in("class", ROAD_CLASSES), name="class"),
        *geom_checks(),
        Index("ix_base_roads_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    class_: Mapped[str] = mapped_column("class", String(16))
    name: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(Geometry("MULTILINESTRING", srid=SRID, spatial_index=False), nullable=False)


class BaseWater(Base):
    """Water of the basemap as an area: a sea, a lake, a river or canal (an imported line is buffered to its width)."""

    __tablename__ = "base_water"
    __table_args__ = (
        CheckConstraint(check_in("kind", WATER_KINDS), name="kind"),
        *geom_checks(),
        Index("ix_base_water_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False), nullable=False)


class BasePlace(Base):
    """A place name of the basemap, at the point its label is drawn."""

    __tablename__ = "base_places"
    __table_args__ = (
        CheckConstraint(check_in("kind", PLACE_KINDS), name="kind"),
        *geom_checks(),
        Index("ix_base_places_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(Text)
    geom = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False), nullable=False)
