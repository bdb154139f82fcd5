"""The basemap's layers: public vector tiles and GeoJSON of roads, water and place names, with their classes."""
from __future__ import annotations

import math

import mapbox_vector_tile
import pytest

from layers.registry import REGISTRY, basemap_layers, readable_layers
from tests.factories import basemap_rows, four_grids, lonlat


@pytest.fixture
def basemap(session):
    four_grids(session)
    rows = basemap_rows(session)
    session.commit()
    return rows


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def test_the_basemap_layers_are_public_and_apart_from_the_overlays():
    assert [spec.name for spec in basemap_layers()] == ["water", "roads", "places"]
    assert all(spec.readable_by(None) for spec in basemap_layers())
    assert not {"water", "roads", "places"} & {spec.name for spec in readable_layers("admin", basemap=False)}
    assert REGISTRY["roads"].geometry_type == "MultiLineString"


@pytest.mark.parametrize("z", [14, 17])
def test_basemap_tiles_decode_with_their_features(client, basemap, z):
    # Every tile over the community (one at z14, a few at z17), each feature once by its properties.
    (x0, y1), (x1, y0) = tile_of(*lonlat(0, 0), z), tile_of(*lonlat(400, 400), z)
    found = {"roads": set(), "water": set(), "places": set()}
    shapes = set()
    for name in found:
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                response = client.get(f"/tiles/{name}/{z}/{x}/{y}.mvt")  # not signed in: the basemap is public
                assert response.status_code == 200 and response.mimetype == "application/vnd.mapbox-vector-tile"
                for f in mapbox_vector_tile.decode(response.data).get(name, {"features": []})["features"]:
                    found[name].add((f["properties"].get("class") or f["properties"]["kind"], f["properties"]["name"]))
                    shapes.add((name, f["geometry"]["type"]))
    assert found == {"roads": {("arterial", "幸福大道"), ("local", "小巷")}, "water": {("lake", "镜湖")},
                     "places": {("neighbourhood", "和坊社区")}}
    assert shapes == {("roads", "LineString"), ("water", "Polygon"), ("places", "Point")}


def test_places_geojson_filters_by_kind_for_the_labels(client, basemap):
    fc = client.get("/layers/places.geojson?kind=neighbourhood,town").json
    assert [f["properties"]["name"] for f in fc["features"]] == ["和坊社区"]
    assert client.get("/layers/places.geojson?kind=district").json["features"] == []
    roads = client.get("/layers/roads.geojson?class=arterial").json
    assert [f["properties"]["name"] for f in roads["features"]] == ["幸福大道"]


def test_minor_roads_are_left_out_of_tiles_zoomed_out(client, basemap):
    x, y = tile_of(*lonlat(200, 200), 12)
    roads = mapbox_vector_tile.decode(client.get(f"/tiles/roads/12/{x}/{y}.mvt").data)["roads"]["features"]
    assert [f["properties"]["name"] for f in roads] == ["幸福大道"]  # the lane is local: in tiles from zoom 13
    x, y = tile_of(*lonlat(200, 200), 13)
    roads = mapbox_vector_tile.decode(client.get(f"/tiles/roads/13/{x}/{y}.mvt").data)["roads"]["features"]
    assert sorted(f["properties"]["name"] for f in roads) == ["小巷", "幸福大道"]
