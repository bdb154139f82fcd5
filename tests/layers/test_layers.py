"""Layers as GeoJSON and vector tiles: validity, bbox, versions, zoom, caps, roles, caching."""
from __future__ import annotations

import mapbox_vector_tile
import pytest
import shapely
from shapely.geometry import shape
from sqlalchemy import text

from layers.registry import REGISTRY
from tests.conftest import auth, live_hub, wait_for_change
from tests.factories import basemap_rows, cadre, contract, four_grids, grid, hierarchy, lonlat, point_event, rect
from webmap import catalog

PHONE = "13800138000"
CADRE_PHONE = "13900139000"


@pytest.fixture
def district(session):
    community, grids, buildings, events = four_grids(session)
    # Personal data that must never come out of a layer.
    events[0].contact = {"name": "张三", "phone": PHONE}
    # A cadre holding the two northern grids; the southern two are nobody's.
    holder = cadre(session, "C001", name="李四", phone=CADRE_PHONE)
    for g in grids[:2]:
        contract(session, holder, grid_code=g.code)
    basemap_rows(session)
    session.commit()
    return {"community": community, "grids": grids, "buildings": buildings, "events": events}


@pytest.fixture
def commander(make_user):
    return auth(make_user("commander"))


def bbox_m(x0, y0, x1, y1) -> str:
    (a, b), (c, d) = lonlat(x0, y0), lonlat(x1, y1)
    return f"{a},{b},{c},{d}"


def codes(fc) -> list[str]:
    return sorted(f["properties"].get("code") or f["properties"].get("grid_code") for f in fc["features"])


# ---- GeoJSON ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_layer_is_valid_geojson_with_exactly_its_properties(client, commander, district, name):
    response = client.get(f"/layers/{name}.geojson", headers=commander)
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    fc = response.json
    assert fc["type"] == "FeatureCollection" and fc["features"], name
    spec = REGISTRY[name]
    for feature in fc["features"]:
        assert feature["type"] == "Feature" and isinstance(feature["id"], int)
        geom = shape(feature["geometry"])
        assert geom.is_valid and geom.geom_type == spec.geometry_type
        assert set(feature["properties"]) == set(spec.properties)
    body = response.get_data(as_text=True)
    assert PHONE not in body and CADRE_PHONE not in body and "contact" not in body


def test_coverage_layers_from_issue_5(client, commander, district, make_user):
    held = client.get("/layers/contracted_areas.geojson", headers=commander).json["features"]
    assert [(f["properties"]["cadre_code"], f["properties"]["whole_grids"]) for f in held] == [("C001", 2)]
    north = shapely.union(*(shape(f["geometry"]) for f in
                            client.get("/layers/grids.geojson?code="
                                       + ",".join(g.code for g in district["grids"][:2])).json["features"]))
    assert shape(held[0]["geometry"]).symmetric_difference(north).area < 1e-12
    nobody = client.get("/layers/uncovered_grids.geojson", headers=commander).json["features"]
    assert {f["properties"]["code"]: f["properties"]["open_events"] for f in nobody} == \
        {district["grids"][2].code: 1, district["grids"][3].code: 1}
    viewer = auth(make_user("viewer"))
    assert client.get("/layers/contracted_areas.geojson", headers=viewer).status_code == 403


def test_bbox_selects_what_it_touches(client, commander, district):
    inside_nw = client.get(f"/layers/grids.geojson?bbox={bbox_m(20, 220, 180, 380)}", headers=commander).json
    assert codes(inside_nw) == [district["grids"][0].code]
    across_edge = client.get(f"/layers/grids.geojson?bbox={bbox_m(150, 250, 250, 300)}", headers=commander).json
    assert codes(across_edge) == [district["grids"][0].code, district["grids"][1].code]
    # Events: the open one at (50, 250) and the closed one at (60, 260) are in the NW grid.
    events = client.get(f"/layers/events.geojson?bbox={bbox_m(0, 200, 200, 400)}", headers=commander).json
    assert sorted(f["properties"]["title"] for f in events["features"]) == ["事件1", "已结案"]
    open_only = client.get(f"/layers/events.geojson?bbox={bbox_m(0, 200, 200, 400)}&open=true", headers=commander).json
    assert [f["properties"]["title"] for f in open_only["features"]] == ["事件1"]
    nothing = client.get(f"/layers/grids.geojson?bbox={bbox_m(1000, 1000, 1100, 1100)}", headers=commander).json
    assert nothing["features"] == []


def test_grids_are_current_by_default_and_dated_versions_by_at(client, session):
    _, _, community = hierarchy(session)
    old = grid(session, community, 1, rect(0, 0, 100, 100), valid_to="2024-01-01T00:00:00+00:00")
    session.flush()
    new = grid(session, community, 1, rect(0, 0, 150, 100), valid_from="2024-01-01T00:00:00+00:00", version=2)
    session.commit()

    def ids(query=""):
        return [f["id"] for f in client.get(f"/layers/grids.geojson{query}").json["features"]]

    assert ids() == [new.id]
    assert ids("?at=2023-06-01") == [old.id]
    assert ids("?at=2024-01-01T00:00:00Z") == [new.id]  # valid_from <= at < valid_to
    assert ids("?at=2023-12-31T23:59:59Z") == [old.id]
    assert sorted(ids("?datetime=2023-01-01/2025-01-01")) == sorted([old.id, new.id])


def test_zoom_simplifies_a_coverage_without_gaps_or_overlaps(client, session):
    # Two grids share a wavy edge (a 12 m sine with 3 m teeth). At zoom 13 a pixel is about 16 m:
    # simplified together they still meet exactly; simplified one by one they would overlap and gap.
    import math

    _, _, community = hierarchy(session, rect(0, 0, 400, 200))
    edge = [lonlat(200 + 3 * (i % 2) + 12 * math.sin(i / 40 * 3 * math.pi), i * 5) for i in range(41)]
    west = shapely.Polygon([lonlat(0, 0), *edge, lonlat(0, 200)]).normalize()
    east = shapely.Polygon([*edge, lonlat(400, 200), lonlat(400, 0)]).normalize()
    grid(session, community, 1, west)
    grid(session, community, 2, east)
    session.commit()

    fc = client.get("/layers/grids.geojson?zoom=13").json
    a, b = (shape(f["geometry"]) for f in fc["features"])
    assert shapely.get_num_coordinates(a) < shapely.get_num_coordinates(west) / 3
    seam = 1e-9  # square degrees, about 10 m²
    assert a.intersection(b).area < seam  # no overlap
    union = shapely.union(a, b)
    assert union.geom_type == "Polygon" and len(union.interiors) == 0  # no gap along the seam
    assert abs(union.area - west.union(east).area) < 0.01 * west.union(east).area  # outline: within 1 %
    # The same tolerance, each polygon alone: neighbours overlap and part (why coverage_simplify).
    tol = 360 / (256 * 2 ** 13) / 2
    sa, sb = shapely.simplify(west, tol), shapely.simplify(east, tol)
    assert sa.intersection(sb).area > 10 * seam
    assert west.union(east).area - shapely.union(sa, sb).area > 10 * seam


def test_below_min_zoom_buildings_come_as_counts_per_grid(client, commander, district, session):
    fc = client.get("/layers/buildings.geojson?zoom=12", headers=commander).json
    assert fc["aggregated"] is True
    counted = {f["properties"]["grid_code"]: f["properties"]["buildings"] for f in fc["features"]}
    expected = dict(session.execute(text(
        "SELECT g.code, count(*) FROM buildings b JOIN grids g ON g.id = b.grid_id GROUP BY g.code")).all())
    assert counted == expected
    raw = client.get("/layers/buildings.geojson?zoom=16", headers=commander).json
    assert raw["aggregated"] is False and len(raw["features"]) == 4


def test_feature_cap_is_a_clear_problem_or_aggregates_on_request(client, commander, district, session):
    session.execute(text(
        "INSERT INTO events (geom, category, title, grid_id) "
        "SELECT ST_SetSRID(ST_MakePoint(121.4705 + i * 1e-7, 31.2305), 4326), '11001', 'bulk', :g "
        "FROM generate_series(1, :n) i"), {"g": district["grids"][2].id, "n": REGISTRY["events"].max_features})
    session.commit()
    response = client.get("/layers/events.geojson?zoom=16", headers=commander)
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    assert response.json["title"] == catalog.t("problem.too_many_features")
    assert "narrow the bbox" in response.json["detail"] and response.json["limit"] == 5000
    fallback = client.get("/layers/events.geojson?zoom=16&overflow=aggregate", headers=commander).json
    assert fallback["aggregated"] is True
    assert sum(f["properties"]["events"] for f in fallback["features"]) == 5000 + 5


def test_big_geojson_is_gzipped_for_clients_that_accept_it(client, commander, district, session):
    import gzip
    import json

    session.execute(text(
        "INSERT INTO events (geom, category, title, grid_id) "
        "SELECT ST_SetSRID(ST_MakePoint(121.4705 + i * 1e-6, 31.2305), 4326), '11001', 'bulk', :g "
        "FROM generate_series(1, 1000) i"), {"g": district["grids"][2].id})
    session.commit()
    plain = client.get("/layers/events.geojson?zoom=16", headers=commander)
    packed = client.get("/layers/events.geojson?zoom=16", headers={**commander, "Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in plain.headers and len(plain.json["features"]) == 1005
    assert packed.headers["Content-Encoding"] == "gzip" and len(packed.data) < len(plain.data) / 3
    assert json.loads(gzip.decompress(packed.data)) == plain.json


@pytest.mark.parametrize("query, title", [
    ("bbox=1,2,3", "Invalid bbox"), ("bbox=a,b,c,d", "Invalid bbox"), ("bbox=10,10,5,5", "Invalid bbox"),
    ("bbox=0,0,200,10", "Invalid bbox"), ("zoom=99", "Invalid zoom"), ("zoom=x", "Invalid zoom"),
    ("at=yesterday", "Invalid at"), ("datetime=2024-02-01/2024-01-01", "Invalid datetime"),
    ("colour=red", "Unknown parameter"), ("kind=basic&mine=maybe", "Invalid mine"),
])
def test_bad_parameters_are_problems_that_say_what_to_send(client, query, title):
    response = client.get(f"/layers/grids.geojson?{query}")
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    assert response.json["title"] == catalog.problem_title(title, "zh")[1] and response.json["detail"]


def test_unknown_layer_is_404(client):
    response = client.get("/layers/parcels.geojson")
    assert response.status_code == 404 and "grids" in response.json["detail"]


def test_roles_and_worker_scope(client, make_user, district):
    assert client.get("/layers/grids.geojson").status_code == 200  # boundaries are public
    assert client.get("/layers/events.geojson").status_code == 401
    assert client.get("/layers/buildings.geojson").status_code == 401
    viewer = auth(make_user("viewer"))
    assert client.get("/layers/buildings.geojson", headers=viewer).status_code == 200
    assert client.get("/layers/events.geojson", headers=viewer).status_code == 403
    assert "events" not in [layer["name"] for layer in client.get("/layers", headers=viewer).json["layers"]]
    nw, ne = district["grids"][0].code, district["grids"][1].code
    worker = auth(make_user("worker", grids=[nw]))
    events = client.get("/layers/events.geojson", headers=worker).json
    assert {f["properties"]["grid_code"] for f in events["features"]} == {nw}
    assert len(client.get("/layers/grids.geojson", headers=worker).json["features"]) == 4
    assert codes(client.get("/layers/grids.geojson?mine=true", headers=worker).json) == [nw]
    mine = client.get("/layers/buildings.geojson?mine=true", headers=worker).json["features"]
    assert [f["properties"]["code"] for f in mine] == [district["buildings"][0].code]
    assert ne not in client.get("/tiles/events/16/0/0.mvt", headers=worker).get_data(as_text=True)


def test_catalog_describes_each_readable_layer(client, commander):
    layers = {layer["name"]: layer for layer in client.get("/layers", headers=commander).json["layers"]}
    assert set(layers) == set(REGISTRY)
    assert layers["buildings"]["min_zoom"] == 15 and layers["grids"]["versioned"] is True
    assert layers["grids"]["links"]["tiles"] == "/tiles/grids/{z}/{x}/{y}.mvt"
    for layer in layers.values():
        assert "contact" not in layer["properties"] and "phone" not in layer["properties"]


# ---- vector tiles -------------------------------------------------------------------------
def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    import math

    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def decode(data: bytes) -> dict:
    return mapbox_vector_tile.decode(data)


def sql_count(session, table_sql: str, z: int, x: int, y: int) -> int:
    return session.execute(text(
        f"SELECT count(*) FROM {table_sql} t WHERE ST_Intersects(t.geom, "
        "ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => 64.0 / 4096), 4326))"),
        {"z": z, "x": x, "y": y}).scalar_one()


@pytest.mark.parametrize("name, table_sql, z", [
    ("grids", "(SELECT * FROM grids WHERE valid_to IS NULL)", 16),
    ("buildings", "buildings", 16),
    ("events", "events", 16),
    ("grids", "(SELECT * FROM grids WHERE valid_to IS NULL)", 18),
])
def test_tile_feature_counts_match_sql(client, commander, district, session, name, table_sql, z):
    for dx, dy in ((50, 50), (350, 350)):
        x, y = tile_of(*lonlat(dx, dy), z)
        response = client.get(f"/tiles/{name}/{z}/{x}/{y}.mvt", headers=commander)
        assert response.status_code == 200 and response.mimetype == "application/vnd.mapbox-vector-tile"
        features = decode(response.data).get(name, {"features": []})["features"]
        assert len(features) == sql_count(session, table_sql, z, x, y) > 0
        assert PHONE.encode() not in response.data


def test_buildings_below_z15_are_counts_per_grid_never_footprints(client, commander, district):
    x, y = tile_of(*lonlat(200, 200), 12)
    layer = decode(client.get(f"/tiles/buildings/12/{x}/{y}.mvt", headers=commander).data)["buildings"]
    assert sorted(f["properties"]["grid_code"] for f in layer["features"]) == sorted(g.code for g in district["grids"])
    assert all(f["properties"]["buildings"] == 1 and "code" not in f["properties"] for f in layer["features"])


def test_tiles_have_etags_and_revalidate(client, commander, district):
    x, y = tile_of(*lonlat(100, 100), 16)
    url = f"/tiles/grids/16/{x}/{y}.mvt"
    first = client.get(url)
    assert first.headers["ETag"] and "no-cache" in first.headers["Cache-Control"]
    again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    private = client.get(f"/tiles/events/16/{x}/{y}.mvt", headers=commander)
    assert "private" in private.headers["Cache-Control"] and "Authorization" in private.headers["Vary"]


def test_big_tiles_are_gzipped_for_clients_that_accept_it(client, commander, session):
    import gzip

    _, _, community = hierarchy(session, rect(0, 0, 400, 400))
    for i in range(40):  # enough grids that the tile is worth compressing
        grid(session, community, i + 1, rect((i % 8) * 50, (i // 8) * 50, (i % 8) * 50 + 50, (i // 8) * 50 + 50))
    session.commit()
    x, y = tile_of(*lonlat(100, 100), 16)
    url = f"/tiles/grids/16/{x}/{y}.mvt"
    plain = client.get(url)
    packed = client.get(url, headers={"Accept-Encoding": "gzip, deflate"})
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.data) == plain.data and len(packed.data) < len(plain.data)
    assert packed.headers["ETag"] != plain.headers["ETag"]
    assert client.get(url, headers={"Accept-Encoding": "gzip",
                                    "If-None-Match": packed.headers["ETag"]}).status_code == 304


@pytest.mark.parametrize("url", ["/tiles/grids/3/8/1.mvt", "/tiles/grids/25/0/0.mvt", "/tiles/grids/2/1/4.mvt"])
def test_tiles_that_do_not_exist_are_400(client, url):
    response = client.get(url)
    assert response.status_code == 400 and response.mimetype == "application/problem+json"


def test_tile_cache_serves_repeats_and_forgets_on_change(app, client, district, session):
    x, y = tile_of(*lonlat(100, 100), 16)
    url = f"/tiles/grids/16/{x}/{y}.mvt"
    the_hub = live_hub(app)
    before = client.get(url)
    hits = the_hub.tiles.hits
    assert client.get(url).data == before.data and the_hub.tiles.hits == hits + 1

    # A new open event in the SW grid changes its choropleth value: the cached tile must go.
    point_event(session, 20, 20, grid=district["grids"][2])
    session.commit()
    after = wait_for_change(client, url, before)
    values = {f["properties"]["code"]: f["properties"]["open_events"] for f in decode(after.data)["grids"]["features"]}
    assert values[district["grids"][2].code] == 2
    assert after.headers["ETag"] != before.headers["ETag"]
