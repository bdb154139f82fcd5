"""OGC API – Features at /ogc, read by GDAL's OAPIF driver and by OWSLib as QGIS would read it."""
from __future__ import annotations

import os
import re
import subprocess

import pytest
from sqlalchemy import text

from tests.conftest import auth
from tests.factories import building, cadre, contract, four_grids, rect

CORE = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"


@pytest.fixture
def district(session):
    community, grids, buildings, events = four_grids(session)
    # Enough buildings that paging with small pages takes several requests.
    for i in range(13):
        building(session, f"X{i:04d}", rect(5 + i * 10, 5, 12 + i * 10, 12), grid_id=grids[2].id)
    contract(session, cadre(session, "C001"), grid_code=grids[0].code)
    session.commit()
    return {"community": community, "grids": grids}


def refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                yield v
            else:
                yield from refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs(v)


def test_landing_conformance_and_a_self_contained_openapi(client):
    landing = client.get("/ogc").json
    rels = {link["rel"]: link["href"] for link in landing["links"]}
    assert {"self", "service-desc", "service-doc", "conformance", "data"} <= set(rels)
    assert CORE in client.get("/ogc/conformance").json["conformsTo"]
    api = client.get("/ogc/api")
    assert api.mimetype == "application/vnd.oai.openapi+json"
    doc = api.json
    assert doc["openapi"].startswith("3.0")
    all_refs = list(refs(doc))
    assert all_refs and all(r.startswith("#/") for r in all_refs)  # nothing outside the document
    for ref in all_refs:  # and every internal reference resolves
        node = doc
        for part in ref[2:].split("/"):
            node = node[part]
    assert "/collections/grids/items" in doc["paths"] and "/collections/events/items" not in doc["paths"]


def test_items_page_with_links_and_number_matched(client, make_user, district, session):
    token = auth(make_user("viewer"))
    total = session.execute(text("SELECT count(*) FROM buildings")).scalar_one()
    first = client.get("/ogc/collections/buildings/items?limit=5", headers=token).json
    assert first["numberMatched"] == total and first["numberReturned"] == 5
    links = {link["rel"]: link["href"] for link in first["links"]}
    assert "prev" not in links and "offset=5" in links["next"]
    last = client.get(f"/ogc/collections/buildings/items?limit=5&offset={total - 2}", headers=token).json
    rels = {link["rel"] for link in last["links"]}
    assert last["numberReturned"] == 2 and "next" not in rels and "prev" in rels


def test_items_bbox_datetime_and_filters(client, make_user, district, session):
    token = auth(make_user("commander"))
    session.execute(text("UPDATE events SET occurred_at = '2024-03-01T10:00:00+08' WHERE title = '事件1'"))
    session.commit()
    day = client.get("/ogc/collections/events/items?datetime=2024-03-01T00:00:00%2B08:00/2024-03-02T00:00:00%2B08:00",
                     headers=token).json
    assert [f["properties"]["title"] for f in day["features"]] == ["事件1"] and day["numberMatched"] == 1
    since = client.get("/ogc/collections/events/items?datetime=2024-03-02T00:00:00Z/..", headers=token).json
    assert since["numberMatched"] == 4
    nw = district["grids"][0]
    by_code = client.get(f"/ogc/collections/grids/items?code={nw.code}").json
    assert [f["id"] for f in by_code["features"]] == [nw.id]


def test_single_item_html_and_errors(client, district):
    grid = district["grids"][1]
    item = client.get(f"/ogc/collections/grids/items/{grid.id}")
    assert item.mimetype == "application/geo+json" and item.json["properties"]["code"] == grid.code
    html = client.get(f"/ogc/collections/grids/items/{grid.id}", headers={"Accept": "text/html,*/*;q=0.8"})
    assert html.mimetype == "text/html" and grid.code in html.get_data(as_text=True)
    assert client.get("/ogc/collections/grids/items?f=html").mimetype == "text/html"
    for url, status in [("/ogc/collections/grids/items/999999", 404), ("/ogc/collections/grids/items/abc", 404),
                        ("/ogc/collections/parcels", 404), ("/ogc/collections/grids/items?limit=x", 400),
                        ("/ogc/collections/grids/items?offset=-1", 400), ("/ogc/collections/grids/items?f=xml", 400),
                        ("/ogc/collections/events/items", 401)]:
        response = client.get(url)
        assert response.status_code == status and response.mimetype == "application/problem+json", url


def test_owslib_reads_and_pages_through_every_layer(live_server, make_user, district, session):
    from owslib.ogcapi.features import Features

    token = make_user("commander")
    api = Features(live_server + "/ogc", headers={"Authorization": f"Bearer {token}"})
    ids = {c["id"] for c in api.collections()["collections"]}
    assert {"grids", "buildings", "events", "districts", "streets", "communities"} <= ids
    counts = {"grids": "SELECT count(*) FROM grids WHERE valid_to IS NULL",
              "buildings": "SELECT count(*) FROM buildings", "events": "SELECT count(*) FROM events"}
    for name, sql in counts.items():
        seen, offset = [], 0
        while True:
            page = api.collection_items(name, limit=4, offset=offset)
            seen += [f["id"] for f in page["features"]]
            if not any(link["rel"] == "next" for link in page["links"]):
                break
            offset += 4
        assert len(seen) == len(set(seen)) == session.execute(text(sql)).scalar_one(), name


def ogr_ids(url: str, layer: str, token: str | None = None) -> list[int]:
    env = dict(os.environ, GDAL_HTTP_UNSAFESSL="NO", CPL_DEBUG="OFF")
    if token:
        env["GDAL_HTTP_HEADERS"] = f"Authorization: Bearer {token}"
    out = subprocess.run(["ogrinfo", "-ro", "-al", "-oo", "PAGE_SIZE=3", f"OAPIF:{url}/ogc", layer],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "ERROR" not in out.stderr, out.stderr
    return [int(m) for m in re.findall(r"^OGRFeature\(\w+\):(\d+)$", out.stdout, re.M)]


def test_gdal_reads_every_collection_through_ogc_api(live_server, make_user, district, session):
    token = make_user("commander")
    sql = {"grids": "SELECT id FROM grids WHERE valid_to IS NULL", "buildings": "SELECT id FROM buildings",
           "events": "SELECT id FROM events", "districts": "SELECT id FROM admin_areas WHERE level = 'district'",
           "streets": "SELECT id FROM admin_areas WHERE level = 'street'",
           "communities": "SELECT id FROM admin_areas WHERE level = 'community'",
           "contracted_areas": "SELECT cadre_id FROM v_contracted_areas",
           "uncovered_grids": "SELECT id FROM v_uncovered_grids"}
    for layer, query in sql.items():
        expected = sorted(session.execute(text(query)).scalars())
        assert expected and sorted(ogr_ids(live_server, layer, token)) == expected, layer
    # Without a token GDAL still reads the public boundaries.
    assert len(ogr_ids(live_server, "grids")) == 4
