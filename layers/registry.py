"""The layer registry: one LayerSpec per layer; GeoJSON, tiles, OGC API and the map pages read it.

Adding a layer is one entry in REGISTRY below. A spec names a table, a view or a parenthesised
SELECT (the *source*, always queried as `t`), which of its columns are exposed (never personal data:
events.contact and cadres.phone are simply not selectable), how the map styles it, from which zoom
raw features are served (below it: per-grid aggregates, never raw features), which roles may read it,
and how time applies to it (dated versions such as grids, or instants such as events).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from gis.core.errors import NotFound
from gis.core.models import ROLES

# "anonymous" in a spec's roles means anyone, signed in or not, may read the layer.
ANONYMOUS = "anonymous"
PUBLIC = (ANONYMOUS, *ROLES)
SIGNED_IN = ROLES
# Whether an event is open is the SQL function event_is_open(status) (migration 0004), also the
# predicate of the partial index ix_events_open_grid_id that the open-event counts read.

RENDERS = ("tiles", "geojson", "points", "basemap")

# Property types, as OGC API / JSON Schema know them ("datetime" is an RFC 3339 string).
PROPERTY_TYPES = ("string", "integer", "number", "boolean", "datetime", "date")


def _frozen(mapping: Mapping | None) -> Mapping:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Aggregate:
    """How a layer shows below its min zoom: one feature per grid with counts, not raw features."""

    # Column of the source holding the grid *version* id each row belongs to.
    group_column: str
    # Output property -> SQL aggregate over the source rows `t`, e.g. {"buildings": "count(*)"}.
    measures: Mapping[str, str]
    # "polygon": the grid itself (a density choropleth); "point": a point on its surface (heat, bubbles).
    shape: str = "polygon"

    def __post_init__(self) -> None:
        object.__setattr__(self, "measures", _frozen(self.measures))
        if self.shape not in ("polygon", "point"):
            raise ValueError(f"aggregate shape must be polygon or point, not {self.shape!r}")


@dataclass(frozen=True)
class Time:
    """The time columns of a layer: an instant (end None) or a half-open validity [start, end)."""

    start: str
    end: str | None = None

    @property
    def is_interval(self) -> bool:
        """True for dated versions (valid_from / valid_to), False for instants."""
        return self.end is not None


@dataclass(frozen=True)
class LayerSpec:
    """Everything gridgov needs to serve one layer as GeoJSON, MVT and OGC API, and to draw it."""

    name: str
    title: str
    source: str
    geometry_type: str  # GeoJSON type: Point, MultiPolygon, …
    properties: Mapping[str, str]  # exposed column -> one of PROPERTY_TYPES
    description: str = ""
    id_column: str = "id"
    geom_column: str = "geom"
    # Equality filters a client may send (?name=a,b); each must be an exposed property.
    filters: tuple[str, ...] = ()
    style: Mapping[str, Any] = field(default_factory=dict)
    # Below min_zoom the layer is served as `aggregate` (or refused when it has none).
    min_zoom: int = 0
    aggregate: Aggregate | None = None
    roles: tuple[str, ...] = PUBLIC
    time: Time | None = None
    # Dated versions (valid_to NULL = current): current rows by default, ?at=DATE picks the version.
    versioned: bool = False
    # The features tile the plane (grids, the areas of one level): simplify shared edges together.
    coverage: bool = False
    # SQL over `t` saying a row belongs to the grid codes in :scope (a grid worker's grids).
    scope: str | None = None
    # Workers see only their own rows (events), not only on request with ?mine=true (grids).
    scoped_for_workers: bool = False
    # Tables whose changes make cached tiles of this layer stale.
    depends_on: tuple[str, ...] = ()
    # GeoJSON answers with more features than this are refused with a problem that says what to do.
    max_features: int = 5000
    # How the command center draws it: "tiles" (vector tiles), "geojson" (bbox-loaded vectors),
    # "points" (clustered markers + heat map), "basemap" (under every other layer, by basemap.js).
    render: str = "geojson"
    # Order in the map's layer control and whether it is on when the page opens.
    shown: bool = False
    # SQL over `t` and the tile's zoom :z saying a row is in that zoom's tiles (minor roads only close up).
    tile_rule: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "properties", _frozen(self.properties))
        object.__setattr__(self, "style", _frozen(self.style))
        bad = {k: v for k, v in self.properties.items() if v not in PROPERTY_TYPES}
        if bad:
            raise ValueError(f"layer {self.name}: unknown property types {bad}")
        unknown = [f for f in self.filters if f not in self.properties]
        if unknown:
            raise ValueError(f"layer {self.name}: filters {unknown} are not exposed properties")
        if self.tile_rule and ":z" not in self.tile_rule:
            raise ValueError(f"layer {self.name}: tile_rule must compare with :z")
        if self.scope and ":scope" not in self.scope:
            raise ValueError(f"layer {self.name}: scope must compare with :scope")
        if self.render not in RENDERS:
            raise ValueError(f"layer {self.name}: render must be one of {', '.join(RENDERS)}")

    @property
    def is_point(self) -> bool:
        """True for point layers (never simplified)."""
        return self.geometry_type in ("Point", "MultiPoint")

    def readable_by(self, role: str | None) -> bool:
        """Whether a user of `role` (None: not signed in) may read this layer."""
        if ANONYMOUS in self.roles:
            return True
        return role is not None and (role == "admin" or role in self.roles)


# ---------------------------------------------------------------------------------------------
# Sources. Each is read as `FROM <source> AS t`; every exposed property is a column of it.
# Joins happen here so that the exposed columns are explicit and personal data cannot leak.

_GRIDS = """(
  SELECT g.id, g.geom, g.code, g.name, g.kind, c.code AS community_code, c.name AS community_name,
         g.area_m2, g.households, g.population, g.version, g.valid_from, g.valid_to,
         (SELECT count(*) FROM events e JOIN grids v ON v.id = e.grid_id
           WHERE v.code = g.code AND event_is_open(e.status))::int AS open_events
    FROM grids g JOIN admin_areas c ON c.id = g.community_id
)"""

# Buildings carry no grid code: looking it up costs a z15 tile of 3,000 footprints a fifth of its
# time (the map's click-identify shows the grid anyway). Scope goes through the grid id instead.
_BUILDINGS = """(
  SELECT b.id, b.geom, b.code, b.name, b.floors, b.households, b.population, b.grid_id FROM buildings b
)"""
_BY_GRID_ID = "t.grid_id IN (SELECT id FROM grids WHERE code = ANY(:scope))"

# No contact, no reporter, no description, phone and ID numbers in the title masked (migration 0012):
# what a map may show of a resident's report, to any role.
_EVENTS = """(
  SELECT e.id, e.geom, gridgov_mask_personal(e.title) AS title, e.category, c.name AS category_name,
         c.major_name AS major_category,
         e.status, event_is_open(e.status) AS open, e.occurred_at, e.reported_at, e.grid_id,
         -- issue #8: overdue as of the last tick (which also invalidates cached tiles by NOTIFY)
         e.level, e.deadline_at, (event_is_open(e.status) AND e.overdue_since IS NOT NULL) AS overdue,
         (SELECT g.code FROM grids g WHERE g.id = e.grid_id) AS grid_code, e.assign_status
    FROM events e LEFT JOIN categories c ON c.code = e.category
)"""


def _areas(level: str) -> str:
    return f"""(
  SELECT a.id, a.geom, a.code, a.name, a.area_m2, p.code AS parent_code
    FROM admin_areas a LEFT JOIN admin_areas p ON p.id = a.parent_id WHERE a.level = '{level}'
)"""


_AREA_PROPS = {"code": "string", "name": "string", "area_m2": "number", "parent_code": "string"}

# Status colours of the closed loop: new (red) → in hand (amber/blue) → done (green/grey).
# Pairs, not a dict: the legend keeps the order of the loop.
STATUS_COLORS = (
    ("reported", "#d32f2f"), ("registered", "#f57c00"), ("dispatched", "#fbc02d"), ("in_progress", "#1976d2"),
    ("handled", "#7b1fa2"), ("closed", "#388e3c"), ("rejected", "#757575"), ("merged", "#9e9e9e"),
)
# Major event classes (see data/categories.csv); anything else falls back to grey.
CATEGORY_COLORS = (
    ("市容环境", "#2e7d32"), ("宣传广告", "#6a1b9a"), ("施工管理", "#ef6c00"), ("街面秩序", "#1565c0"),
    ("突发事件", "#c62828"), ("矛盾纠纷", "#ad1457"), ("安全隐患", "#f9a825"), ("公共服务", "#00838f"),
    ("公用设施", "#4e342e"), ("道路交通", "#37474f"), ("园林绿化", "#558b2f"), ("房屋土地", "#8d6e63"),
    ("其他", "#757575"),
)
# Choropleth classes: colour i for values from breaks[i] up to breaks[i + 1].
OPEN_EVENT_BREAKS = (0, 1, 3, 6, 10)
OPEN_EVENT_COLORS = ("#f7f7f7", "#fee391", "#fec44f", "#fe9929", "#cc4c02")


LAYERS: tuple[LayerSpec, ...] = (
    LayerSpec(
        name="districts", title="区县 Districts", source=_areas("district"), geometry_type="MultiPolygon",
        properties=_AREA_PROPS, filters=("code",), coverage=True, depends_on=("admin_areas",),
        style={"color": "#263238", "weight": 3, "fill": False}, shown=True,
        description="County-level districts (6-digit GB/T 2260 codes).",
    ),
    LayerSpec(
        name="streets", title="街道/镇 Streets and towns", source=_areas("street"),
        geometry_type="MultiPolygon", properties=_AREA_PROPS, filters=("code", "parent_code"), coverage=True,
        depends_on=("admin_areas",), style={"color": "#455a64", "weight": 2, "fill": False, "dashArray": "6 4"},
        shown=True, description="Streets and towns (9-digit codes).",
    ),
    LayerSpec(
        name="communities", title="社区/村 Communities and villages", source=_areas("community"),
        geometry_type="MultiPolygon", properties=_AREA_PROPS, filters=("code", "parent_code"), coverage=True,
        depends_on=("admin_areas",), style={"color": "#607d8b", "weight": 1.5, "fill": False},
        description="Communities and villages (12-digit codes).",
    ),
    LayerSpec(
        name="grids", title="网格 Grids (open events)", source=_GRIDS, geometry_type="MultiPolygon",
        properties={"code": "string", "name": "string", "kind": "string", "community_code": "string",
                    "community_name": "string", "area_m2": "number", "households": "integer",
                    "population": "integer", "version": "integer", "valid_from": "datetime",
                    "valid_to": "datetime", "open_events": "integer"},
        filters=("code", "kind", "community_code"), time=Time("valid_from", "valid_to"), versioned=True,
        coverage=True, scope="t.code = ANY(:scope)", depends_on=("grids", "admin_areas", "events"),
        max_features=20000, render="tiles", shown=True,
        style={"color": "#1565c0", "weight": 1, "fillOpacity": 0.45,
               "choropleth": {"property": "open_events", "breaks": OPEN_EVENT_BREAKS,
                              "colors": OPEN_EVENT_COLORS}},
        description="Unit grids (15-digit codes), current versions unless ?at=DATE; coloured by open events.",
    ),
    LayerSpec(
        name="buildings", title="楼栋 Buildings", source=_BUILDINGS, geometry_type="MultiPolygon",
        properties={"code": "string", "name": "string", "floors": "integer", "households": "integer",
                    "population": "integer"},
        filters=("code",), min_zoom=15, scope=_BY_GRID_ID, roles=SIGNED_IN,
        aggregate=Aggregate("grid_id", {"buildings": "count(*)", "households": "sum(t.households)",
                                        "population": "sum(t.population)"}),
        depends_on=("buildings", "grids"), render="tiles", shown=True,
        style={"color": "#5d4037", "weight": 0.5, "fillColor": "#bcaaa4", "fillOpacity": 0.7,
               "aggregate": {"property": "buildings", "breaks": (0, 20, 50, 100, 200),
                             "colors": ("#efebe9", "#d7ccc8", "#bcaaa4", "#a1887f", "#6d4c41")}},
        description="Building footprints (楼栋) from zoom 15; below it, building counts per grid.",
    ),
    LayerSpec(
        name="events", title="事件 Events", source=_EVENTS, geometry_type="Point",
        properties={"title": "string", "category": "string", "category_name": "string",
                    "major_category": "string", "status": "string", "open": "boolean",
                    "occurred_at": "datetime", "reported_at": "datetime", "grid_code": "string",
                    "assign_status": "string", "level": "string", "deadline_at": "datetime", "overdue": "boolean"},
        filters=("category", "major_category", "status", "open", "grid_code", "overdue"), time=Time("occurred_at"),
        min_zoom=13, roles=("admin", "commander", "planner", "worker"), scope=_BY_GRID_ID,
        scoped_for_workers=True,
        aggregate=Aggregate("grid_id", {"events": "count(*)"}, shape="point"),
        depends_on=("events", "grids", "categories"), render="points", shown=True,
        style={"radius": 6, "weight": 1, "color": "#ffffff", "fillOpacity": 0.9,
               "status_colors": STATUS_COLORS, "category_colors": CATEGORY_COLORS,
               "overdue_color": "#d50000", "overdue_weight": 4},
        description="Reported events and cases; no personal data of reporters. Below zoom 13, counts per grid.",
    ),
    # The two coverage views of issue #5 (migration 0004): who holds what today, and what nobody holds.
    LayerSpec(
        name="contracted_areas", title="包片 Contracted areas", source="v_contracted_areas",
        geometry_type="MultiPolygon", id_column="cadre_id",
        properties={"cadre_code": "string", "cadre_name": "string", "cadre_type": "string",
                    "area_m2": "number", "grids": "number", "whole_grids": "integer"},
        filters=("cadre_code", "cadre_type"), roles=("admin", "planner", "commander"),
        depends_on=("contracts", "cadres", "grids"), render="geojson",
        style={"color": "#6a1b9a", "weight": 2, "fillColor": "#ce93d8", "fillOpacity": 0.25, "dashArray": "4 3"},
        description="Each cadre's contracted area (包片), dissolved from whole grids and drawn polygons "
                    "in force today; no phone numbers.",
    ),
    LayerSpec(
        name="uncovered_grids", title="无人包片网格 Uncovered grids", source="v_uncovered_grids",
        geometry_type="MultiPolygon",
        properties={"code": "string", "name": "string", "area_m2": "number", "open_events": "integer"},
        filters=("code",), roles=("admin", "planner", "commander"), coverage=True,
        depends_on=("contracts", "grids", "events"), render="tiles",
        style={"color": "#b71c1c", "weight": 2, "fillColor": "#ef5350", "fillOpacity": 0.35,
               "choropleth": {"property": "open_events", "breaks": OPEN_EVENT_BREAKS,
                              "colors": ("#ffebee", "#ffcdd2", "#ef9a9a", "#e57373", "#c62828")}},
        description="Current grids nobody holds today, with their open events (seen but not managed).",
    ),
)

# The basemap (issue 19): the district's own roads, water and place names, public (no personal
# data), drawn under every other layer by basemap.js; road widths and colours by class, widest first.
ROAD_STYLES = (
    ("motorway", "#e8925b", 6), ("arterial", "#f5c56b", 4.5), ("secondary", "#fde7a6", 3.5),
    ("local", "#ffffff", 2.5), ("path", "#d7ccc8", 1),
)
# From which zoom each class is in the tiles (basemap.js draws them from the same zooms): a city's
# footways at zoom 10 would be megabytes of tiles no one can read.
ROAD_MIN_ZOOM = (("secondary", 10), ("local", 13), ("path", 15))
_ROAD_ZOOMS = " AND ".join(f"(t.class <> '{c}' OR :z >= {z})" for c, z in ROAD_MIN_ZOOM)
BASEMAP_LAYERS: tuple[LayerSpec, ...] = (
    LayerSpec(
        name="water", title="水系 Water", source="base_water", geometry_type="MultiPolygon",
        properties={"kind": "string", "name": "string"}, filters=("kind",), depends_on=("base_water",),
        render="basemap", shown=True, max_features=20000,
        style={"color": "#8ab4d8", "weight": 3, "fillColor": "#aad3f2", "fillOpacity": 1},
        description="Sea, lakes, rivers and canals of the basemap.",
    ),
    LayerSpec(
        name="roads", title="道路 Roads", source="(SELECT id, geom, class, name FROM base_roads)",
        geometry_type="MultiLineString", properties={"class": "string", "name": "string"}, filters=("class",),
        depends_on=("base_roads",), render="basemap", shown=True, max_features=20000, tile_rule=_ROAD_ZOOMS,
        style={"color": "#ffffff", "weight": 2.5, "min_zoom": ROAD_MIN_ZOOM,
               "classes": tuple((c, colour, width) for c, colour, width in ROAD_STYLES)},
        description="Roads of the basemap by class (motorway, arterial, secondary, local, path) and name.",
    ),
    LayerSpec(
        name="places", title="地名 Place names", source="base_places", geometry_type="Point",
        properties={"kind": "string", "name": "string"}, filters=("kind",), depends_on=("base_places",),
        render="basemap", shown=True,
        # From which zoom each kind of name is labelled: the map stays readable as it zooms out.
        style={"label_zoom": (("district", 0), ("town", 11), ("village", 14), ("neighbourhood", 15),
                              ("poi", 16))},
        description="Place names of the basemap (district, towns, villages, neighbourhoods, points of interest).",
    ),
)
LAYERS += BASEMAP_LAYERS
REGISTRY: Mapping[str, LayerSpec] = MappingProxyType({spec.name: spec for spec in LAYERS})


def get_layer(name: str) -> LayerSpec:
    """The spec called `name`, or NotFound listing the layers there are."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise NotFound("Unknown layer", f"There is no layer {name!r}; the layers are: "
                       f"{', '.join(REGISTRY)}.") from None


def readable_layers(role: str | None, *, basemap: bool = True) -> list[LayerSpec]:
    """The layers a user of `role` (None: anonymous) may read, in registry order (basemap=False: the overlays)."""
    return [spec for spec in LAYERS if spec.readable_by(role) and (basemap or spec.render != "basemap")]


def basemap_layers() -> list[LayerSpec]:
    """The basemap's layers (public: no personal data), drawn under every other layer."""
    return [spec for spec in LAYERS if spec.render == "basemap"]


def describe(spec: LayerSpec) -> dict:
    """The catalog entry of a layer: what it exposes, how to draw it, and where to fetch it."""
    return {
        "name": spec.name, "title": spec.title, "description": spec.description,
        "geometry_type": spec.geometry_type, "properties": dict(spec.properties),
        "filters": list(spec.filters), "min_zoom": spec.min_zoom,
        "aggregate": None if spec.aggregate is None else
        {"shape": spec.aggregate.shape, "properties": ["grid_code", "grid_name", *spec.aggregate.measures]},
        "time": None if spec.time is None else {"start": spec.time.start, "end": spec.time.end},
        "versioned": spec.versioned, "coverage": spec.coverage, "scoped": spec.scope is not None,
        "max_features": spec.max_features, "render": spec.render, "shown": spec.shown,
        "style": _plain(spec.style),
        "links": {"geojson": f"/layers/{spec.name}.geojson", "tiles": f"/tiles/{spec.name}/{{z}}/{{x}}/{{y}}.mvt",
                  "ogc": f"/ogc/collections/{spec.name}"},
    }


def _plain(value):
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value
