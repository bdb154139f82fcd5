"""What each layer file holds: its fields, its geometry and the field that identifies a row."""
from __future__ import annotations

from dataclasses import dataclass

from data import LAYER_NAMES
from gis.core.models import AREA_LEVELS, CADRE_TYPES, EVENT_STATUSES, GRID_KINDS


@dataclass(frozen=True)
class Field:
    """A column of a layer file."""

    name: str
    required: bool = False
    kind: str = "text"  # text, int, date, datetime
    choices: tuple[str, ...] | None = None
    default: str | None = None
    max_len: int | None = None
    doc: str = ""


@dataclass(frozen=True)
class Layer:
    """What a layer file holds: its fields, its geometry and the field that identifies a row."""

    name: str
    fields: tuple[Field, ...]
    geometry: str | None  # 'polygon', 'point', 'optional polygon' or None
    key: str | None
    derived: tuple[str, ...] = ()  # written by export for reading, ignored by import
    doc: str = ""

    def field(self, name: str) -> Field:
        """The field called `name`."""
        return next(f for f in self.fields if f.name == name)


LAYERS: dict[str, Layer] = {
    "areas": Layer("areas", (
        Field("level", True, choices=AREA_LEVELS, doc="district, street or community"),
        Field("code", True, doc="6 digits (district), 9 (street), 12 (community), GB/T 2260 style"),
        Field("name", True, doc="e.g. 幸福湾区, 云山街道, 和坊社区"),
        Field("parent_code", doc="the street's district / the community's street; empty for a district"),
    ), "polygon", "code", doc="Polygon or MultiPolygon"),
    "grids": Layer("grids", (
        Field("code", True, doc="15 digits: community code + 3-digit sequence"),
        Field("name", True),
        Field("community_code", True, doc="12-digit code of an existing community"),
        Field("kind", choices=GRID_KINDS, default="basic", doc="basic or special (park, school, …)"),
        Field("households", kind="int", doc="whole number ≥ 0"),
        Field("population", kind="int", doc="whole number ≥ 0 (optional)"),
    ), "polygon", "code", derived=("area_m2",), doc="Polygon or MultiPolygon; must lie in its community and "
                                                     "not overlap other grids"),
    "buildings": Layer("buildings", (
        Field("code", True, max_len=32, doc="unique, e.g. grid code + 5-digit sequence"),
        Field("name"),
        Field("floors", kind="int"),
        Field("households", kind="int"),
        Field("population", kind="int"),
    ), "polygon", "code", derived=("grid_code",), doc="Polygon or MultiPolygon footprint; the grid is derived"),
    "events": Layer("events", (
        Field("category", True, doc="a code of the categories table, e.g. 11001"),
        Field("title", True),
        Field("description"),
        Field("occurred_at", True, kind="datetime", doc="ISO 8601; without an offset it is the district's local time"),
        # A merged report needs the case it joined, which a file cannot name: not importable.
        Field("status", choices=tuple(s for s in EVENT_STATUSES if s != "merged"), default="reported"),
        Field("id", kind="int", doc="optional: an existing event's id updates that event"),
    ), "point", "id", doc="Point geometry, or `lon` / `lat` columns in a CSV"),
    "cadres": Layer("cadres", (
        Field("code", True, max_len=32),
        Field("name", True),
        Field("type", True, choices=CADRE_TYPES),
        Field("organisation"),
        Field("phone", max_len=32),
    ), None, "code", doc="no geometry"),
    "contracts": Layer("contracts", (
        Field("cadre_code", True, doc="code of an existing cadre"),
        Field("grid_code", doc="15-digit grid code; leave empty for a drawn area"),
        Field("role", True, doc="e.g. 包片领导, 专职网格员, 驻村法官"),
        Field("valid_from", kind="date", doc="YYYY-MM-DD, default today"),
        Field("valid_to", kind="date", doc="YYYY-MM-DD, first day it no longer holds; empty: open"),
    ), "optional polygon", None, doc="none for a whole-grid contract; a Polygon for a drawn area"),
}
assert tuple(LAYERS) == LAYER_NAMES
