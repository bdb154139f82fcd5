"""Small builders for hand-drawn test data: areas, grids, buildings placed by metres on a local plane."""
from __future__ import annotations

import math

from geoalchemy2.shape import from_shape
from shapely import LineString, MultiLineString, MultiPolygon, Point, Polygon, box
from shapely.geometry.base import BaseGeometry

from gis.core.models import AdminArea, BasePlace, BaseRoad, BaseWater, Grid

# An origin in Shanghai; hand-drawn shapes are given in metres east/north of it.
ORIGIN_LON, ORIGIN_LAT = 121.47, 31.23
M_PER_DEG_LAT = 111_320.0
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(ORIGIN_LAT))


def lonlat(x_m: float, y_m: float) -> tuple[float, float]:
    """The lon/lat of a point x metres east and y metres north of the origin."""
    return ORIGIN_LON + x_m / M_PER_DEG_LON, ORIGIN_LAT + y_m / M_PER_DEG_LAT


def rect(x0: float, y0: float, x1: float, y1: float) -> MultiPolygon:
    """A lon/lat rectangle from metre coordinates."""
    (a, b), (c, d) = lonlat(x0, y0), lonlat(x1, y1)
    return MultiPolygon([box(a, b, c, d)])


def multi(geom: BaseGeometry) -> MultiPolygon:
    """Wrap a polygon as a multipolygon."""
    return geom if isinstance(geom, MultiPolygon) else MultiPolygon([geom])


def area(session, level: str, code: str, geom, *, name: str | None = None, parent=None) -> AdminArea:
    """Insert an admin area."""
    obj = AdminArea(level=level, code=code, name=name or f"{level} {code}", parent=parent,
                    geom=from_shape(multi(geom), srid=4326))
    session.add(obj)
    session.flush()
    return obj


def hierarchy(session, geom=None):
    """A district ⊃ street ⊃ community over `geom` (default: a 400 m × 200 m rectangle)."""
    geom = geom if geom is not None else rect(0, 0, 400, 200)
    district = area(session, "district", "310101", geom, name="测试区")
    street = area(session, "street", "310101001", geom, name="测试街道", parent=district)
    community = area(session, "community", "310101001001", geom, name="测试社区", parent=street)
    return district, street, community


def grid(session, community: AdminArea, seq: int, geom, **kw) -> Grid:
    """Insert a current grid version with code community + seq."""
    obj = Grid(code=f"{community.code}{seq:03d}", name=kw.pop("name", f"网格{seq}"), community=community,
               geom=from_shape(multi(geom), srid=4326), **kw)
    session.add(obj)
    session.flush()
    return obj


def bowtie() -> Polygon:
    """A self-intersecting polygon (invalid)."""
    (a, b), (c, d) = lonlat(0, 0), lonlat(100, 100)
    return Polygon([(a, b), (c, d), (c, b), (a, d), (a, b)])


# -- issue 3: buildings, and files to import -------------------------------------------------
def building(session, code: str, geom, **kw):
    """Insert a building footprint (grid_id left as given, default NULL)."""
    from gis.core.models import Building

    obj = Building(code=code, geom=from_shape(multi(geom), srid=4326), **kw)
    session.add(obj)
    session.flush()
    return obj


def two_grids(session):
    """A community 200 m × 100 m split into grid 001 (west half) and grid 002 (east half)."""
    _, _, community = hierarchy(session, rect(0, 0, 200, 100))
    west = grid(session, community, 1, rect(0, 0, 100, 100))
    east = grid(session, community, 2, rect(100, 0, 200, 100))
    return community, west, east


def feature_collection(features: list[tuple[dict, BaseGeometry | None]]) -> str:
    """A GeoJSON FeatureCollection text from (properties, geometry) pairs."""
    import json

    from shapely.geometry import mapping

    return json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": props, "geometry": mapping(geom) if geom is not None else None}
        for props, geom in features]}, ensure_ascii=False)


# -- issue 4: event → grid assignment ----------------------------------------------------------
def geodesic_offset(lon: float, lat: float, azimuth_deg: float, metres: float) -> tuple[float, float]:
    """The point `metres` along the WGS84 geodesic from (lon, lat) at `azimuth_deg` (0 north, 90 east)."""
    from pyproj import Geod

    out_lon, out_lat, _ = Geod(ellps="WGS84").fwd(lon, lat, azimuth_deg, metres)
    return out_lon, out_lat


# -- issue 5: cadres, contracts, buildings and events for coverage ---------------------------------
import itertools  # noqa: E402  (kept with the builders that use it)

_building_seq = itertools.count(1)


def cadre(session, code: str, type_: str = "网格员", *, name: str | None = None, phone: str | None = None):
    """Insert a cadre of one of the six types."""
    from gis.core.models import Cadre

    obj = Cadre(code=code, name=name or f"干部{code}", type=type_, phone=phone)
    session.add(obj)
    session.flush()
    return obj


def contract(session, cadre_obj, *, grid_code: str | None = None, geom=None, role: str = "包片",
             valid_from=None, valid_to=None):
    """Insert a contract directly (no validation): a grid code or a lon/lat polygon."""
    import datetime as dt

    from gis.core.models import Contract

    obj = Contract(cadre_id=cadre_obj.id, grid_code=grid_code, role=role,
                   geom=from_shape(multi(geom), srid=4326) if geom is not None else None,
                   valid_from=valid_from or dt.date(2020, 1, 1), valid_to=valid_to)
    session.add(obj)
    session.flush()
    return obj


def three_grids(session):
    """A 400 m × 200 m community split into three grids with a shared edge and a shared corner.

        y=200 +-----------+-----------+
              |           |  C (003)  |
              |  A (001)  +-----------+ y=100   shared corner A|B|C at (200, 100)
              |           |  B (002)  |
        y=0   +-----------+-----------+
              x=0       x=200       x=400
    """
    district, street, community = hierarchy(session)
    a = grid(session, community, 1, rect(0, 0, 200, 200), name="网格A")
    b = grid(session, community, 2, rect(200, 0, 400, 100), name="网格B")
    c = grid(session, community, 3, rect(200, 100, 400, 200), name="网格C")
    return {"district": district, "street": street, "community": community, "a": a, "b": b, "c": c}


def grid_building(session, grid_obj, geom, *, code: str | None = None, households: int = 0,
                  population: int = 0):
    """Insert a building footprint assigned to a grid version, with an automatic code."""
    from gis.core.models import Building

    obj = Building(code=code or f"{grid_obj.code}{next(_building_seq):05d}", geom=from_shape(multi(geom), srid=4326),
                   households=households, population=population, grid_id=grid_obj.id)
    session.add(obj)
    session.flush()
    return obj


def event(session, grid_obj, x_m: float, y_m: float, *, status: str = "reported", category: str = "01001"):
    """Insert an event at a metre point, assigned to a grid version."""
    from shapely import Point

    from gis.core.models import Event

    obj = Event(geom=from_shape(Point(*lonlat(x_m, y_m)), srid=4326), category=category, title="测试事件",
                status=status, grid_id=grid_obj.id if grid_obj is not None else None)
    session.add(obj)
    session.flush()
    return obj


# --- issue 6: events anywhere and a 2 × 2 district for the layer tests ----------------------
def point_event(session, x_m: float, y_m: float, *, grid=None, status: str = "reported", category: str = "11001",
                title: str = "测试事件", **kw):
    """Insert an event at x, y metres from the origin by SQL (as the events API would store it)."""
    from shapely import Point

    from gis.core.models import Event

    obj = Event(geom=from_shape(Point(*lonlat(x_m, y_m)), srid=4326), category=category, title=title,
                status=status, grid_id=grid.id if grid else None, **kw)
    session.add(obj)
    session.flush()
    return obj


def four_grids(session):
    """A community of 2 × 2 grids, 200 m each (codes …001 to …004, west→east, north→south),
    one 20 m building in the middle of each, and one open event per grid plus a closed one in the first."""
    _, _, community = hierarchy(session, rect(0, 0, 400, 400))
    cells = [(0, 200), (200, 200), (0, 0), (200, 0)]  # NW, NE, SW, SE
    grids = [grid(session, community, i + 1, rect(x, y, x + 200, y + 200), households=100 * (i + 1))
             for i, (x, y) in enumerate(cells)]
    buildings = [building(session, f"B{i + 1:05d}", rect(x + 90, y + 90, x + 110, y + 110), grid_id=g.id,
                          households=10)
                 for i, ((x, y), g) in enumerate(zip(cells, grids))]
    events = [point_event(session, x + 50, y + 50, grid=g, title=f"事件{i + 1}")
              for i, ((x, y), g) in enumerate(zip(cells, grids))]
    events.append(point_event(session, 60, 260, grid=grids[0], status="closed", title="已结案"))
    return community, grids, buildings, events


# -- Issue #8: cases for the workflow and the indicators -------------------------------------
def reported_event(session, *, x: float = 50, y: float = 50, category: str = "16001", title: str = "测试事件",
                   grid=None, community=None, reported_at=None, reporter=None, status: str = "reported"):
    """Insert an event at (x, y) metres, assigned to `grid` (and its community, street and district)."""
    import datetime as dt

    from shapely import Point

    from gis.core.models import AdminArea, Event

    lon, lat = lonlat(x, y)
    community = community or (grid.community if grid is not None else None)
    street = session.get(AdminArea, community.parent_id) if community is not None else None
    obj = Event(geom=from_shape(Point(lon, lat), srid=4326), category=category, title=title, status=status,
                reported_at=reported_at or dt.datetime.now(dt.UTC), occurred_at=reported_at or dt.datetime.now(dt.UTC),
                reporter_id=reporter.id if reporter is not None else None,
                grid_id=grid.id if grid is not None else None,
                community_id=community.id if community is not None else None,
                street_id=street.id if street is not None else None,
                district_id=street.parent_id if street is not None else None, assign_status="inside")
    session.add(obj)
    session.flush()
    return obj


def person(session, role: str, name: str, *, grids=()):
    """Insert a user with a role (and a worker's grid codes); returns (user, token)."""
    from gis.core.users import create_user

    return create_user(session, name, role, grids=grids)


# -- issue 7: boundary edits ---------------------------------------------------------------------
def four_squares(session):
    """A 200 m × 200 m community cut into four 100 m squares that all share the vertex (100, 100).

        y=200 +--------+--------+
              | NW 001 | NE 002 |
        y=100 +--------o--------+   o: the vertex all four grids share
              | SW 003 | SE 004 |
        y=0   +--------+--------+
              x=0    x=100    x=200

    Every shared edge is an edge of both grids with the very same vertices (no T-junctions).
    """
    district, street, community = hierarchy(session, rect(0, 0, 200, 200))
    out = {"district": district, "street": street, "community": community}
    for key, seq, box_m in (("nw", 1, (0, 100, 100, 200)), ("ne", 2, (100, 100, 200, 200)),
                            ("sw", 3, (0, 0, 100, 100)), ("se", 4, (100, 0, 200, 100))):
        out[key] = grid(session, community, seq, rect(*box_m), name=f"网格{key.upper()}")
    return out


def gapped_grids(session):
    """A 300 m × 100 m community with grid 001 (west third), grid 002 (east third) and a gap between.

        +--------+ - - - - +--------+
        |  001   |   gap   |  002   |
        +--------+ - - - - +--------+
        x=0    x=100     x=200    x=300
    """
    district, street, community = hierarchy(session, rect(0, 0, 300, 100))
    west = grid(session, community, 1, rect(0, 0, 100, 100), name="西网格")
    east = grid(session, community, 2, rect(200, 0, 300, 100), name="东网格")
    return {"district": district, "street": street, "community": community, "west": west, "east": east}


def polygon_m(*points_m) -> Polygon:
    """A lon/lat polygon from metre points (x, y) east/north of the origin."""
    return Polygon([lonlat(x, y) for x, y in points_m])


def bent_pair(session):
    """A 200 m × 100 m community of two grids whose shared edge has a middle vertex (100, 50):

        +--------+--------+
        |  001   |  002   |
        |        o        |   o: (100, 50), a vertex of both grids and of no community edge
        |        |        |
        +--------+--------+
        x=0    x=100    x=200
    """
    _, _, community = hierarchy(session, rect(0, 0, 200, 100))
    west = grid(session, community, 1, polygon_m((0, 0), (100, 0), (100, 50), (100, 100), (0, 100), (0, 0)),
                name="西网格")
    east = grid(session, community, 2, polygon_m((100, 0), (200, 0), (200, 100), (100, 100), (100, 50), (100, 0)),
                name="东网格")
    return {"community": community, "west": west, "east": east}


# -- Issue 19: the basemap ------------------------------------------------------------------------
def basemap_rows(session) -> dict:
    """A road across the four grids' community, a lake in its north-east and a place name in its middle."""
    road = BaseRoad(class_="arterial", name="幸福大道",
                    geom=from_shape(MultiLineString([LineString([lonlat(0, 100), lonlat(400, 100)])]), srid=4326))
    lane = BaseRoad(class_="local", name="小巷", geom=from_shape(
        MultiLineString([LineString([lonlat(100, 0), lonlat(100, 400)])]), srid=4326))
    lake = BaseWater(kind="lake", name="镜湖", geom=from_shape(rect(300, 300, 380, 380), srid=4326))
    place = BasePlace(kind="neighbourhood", name="和坊社区", geom=from_shape(Point(*lonlat(200, 200)), srid=4326))
    session.add_all([road, lane, lake, place])
    session.flush()
    return {"roads": [road, lane], "water": [lake], "places": [place]}
