"""OGC API – Features Part 1 documents built from the registry (no Flask): landing page,
conformance, collections, item pages and a self-contained OpenAPI 3.0 definition."""
from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.geojson import json_value
from layers.query import LayerQuery
from layers.registry import LayerSpec

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
TRS = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]
DEFAULT_LIMIT = 100
MAX_LIMIT = 10000
JSON, GEOJSON, HTML = "application/json", "application/geo+json", "text/html"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
SCHEMA = "application/schema+json"
TITLE = "gridgov 网格化管理 — OGC API Features"


def link(href: str, rel: str, type_: str, title: str | None = None) -> dict:
    """One link object."""
    out = {"href": href, "rel": rel, "type": type_}
    if title:
        out["title"] = title
    return out


def landing(base: str) -> dict:
    """The landing page: where the API definition, conformance and collections are."""
    return {
        "title": TITLE,
        "description": "Grids, administrative areas, buildings and events of the district as OGC API "
                       "Features (Part 1, GeoJSON, CRS84).",
        "links": [
            link(f"{base}/ogc", "self", JSON, "This document"),
            link(f"{base}/ogc?f=html", "alternate", HTML, "This document as HTML"),
            link(f"{base}/ogc/api", "service-desc", OPENAPI, "The API definition (OpenAPI 3.0)"),
            link(f"{base}/ogc/api?f=html", "service-doc", HTML, "The API definition as HTML"),
            link(f"{base}/ogc/conformance", "conformance", JSON, "Conformance classes"),
            link(f"{base}/ogc/collections", "data", JSON, "The collections"),
        ],
    }


def conformance() -> dict:
    """The conformance classes gridgov implements."""
    return {"conformsTo": CONFORMANCE}


def extent(session: Session, spec: LayerSpec) -> dict:
    """Spatial (CRS84) and temporal extent of the layer's default view (current versions)."""
    where, params = LayerQuery(spec).where()
    cols = [f"ST_Extent(t.{spec.geom_column})::geometry AS e"]
    time = spec.time
    if time is not None:
        cols += [f"min(t.{time.start}) AS lo", f"max(t.{time.end or time.start}) AS hi",
                 f"bool_or(t.{time.end} IS NULL) AS open_end" if time.end else "false AS open_end"]
    outer = "ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)" + (", lo, hi, open_end" if time else "")
    row = session.execute(text(f"SELECT {outer} FROM (SELECT {', '.join(cols)} "
                               f"FROM {spec.source} AS t WHERE {where}) s"), params).one()
    out: dict = {}
    if row[0] is not None:
        out["spatial"] = {"bbox": [[row[0], row[1], row[2], row[3]]], "crs": CRS84}
    if time is not None:
        hi = None if row[6] else row[5]
        out["temporal"] = {"interval": [[json_value(row[4]), json_value(hi)]], "trs": TRS}
    return out


def collection(base: str, spec: LayerSpec, ext: dict) -> dict:
    """One collection's description."""
    url = f"{base}/ogc/collections/{spec.name}"
    return {
        "id": spec.name, "title": spec.title, "description": spec.description, "itemType": "feature",
        "crs": [CRS84], "storageCrs": CRS84, "extent": ext,
        "links": [
            link(url, "self", JSON, "This collection"),
            link(f"{url}?f=html", "alternate", HTML, "This collection as HTML"),
            link(f"{url}/items", "items", GEOJSON, "The features"),
            link(f"{url}/items?f=html", "items", HTML, "The features as HTML"),
            link(f"{url}/schema", "describedby", SCHEMA, "The features' properties as JSON Schema"),
        ],
    }


def collections(base: str, entries: list[dict]) -> dict:
    """The collections document."""
    return {"links": [link(f"{base}/ogc/collections", "self", JSON, "The collections"),
                      link(f"{base}/ogc/collections?f=html", "alternate", HTML, "The collections as HTML")],
            "collections": entries}


def _json_schema_type(kind: str) -> dict:
    return {"string": {"type": "string"}, "integer": {"type": "integer"}, "number": {"type": "number"},
            "boolean": {"type": "boolean"}, "datetime": {"type": "string", "format": "date-time"},
            "date": {"type": "string", "format": "date"}}[kind]


def schema(base: str, spec: LayerSpec) -> dict:
    """JSON Schema of a collection's feature properties."""
    props = {name: {"title": name, **_json_schema_type(kind)} for name, kind in spec.properties.items()}
    return {"$schema": "https://json-schema.org/draft/2019-09/schema",
            "$id": f"{base}/ogc/collections/{spec.name}/schema", "title": spec.title, "type": "object",
            "properties": props}


def items_links(base: str, spec: LayerSpec, args: dict, offset: int, limit: int, returned: int,
                matched: int) -> list[dict]:
    """self / alternate / next / prev links of an items page (next only while features remain)."""
    url = f"{base}/ogc/collections/{spec.name}/items"

    def page(off: int, fmt: str | None = None) -> str:
        query = {k: v for k, v in args.items() if k not in ("offset", "limit", "f")}
        query.update(limit=limit, offset=off)
        if fmt:
            query["f"] = fmt
        return f"{url}?{urlencode(query)}"

    links = [link(page(offset, "json"), "self", GEOJSON, "This page"),
             link(page(offset, "html"), "alternate", HTML, "This page as HTML")]
    if offset + returned < matched:
        links.append(link(page(offset + limit, "json"), "next", GEOJSON, "Next page"))
    if offset > 0:
        links.append(link(page(max(0, offset - limit), "json"), "prev", GEOJSON, "Previous page"))
    links.append(link(f"{base}/ogc/collections/{spec.name}", "collection", JSON, "The collection"))
    return links


def timestamp(tz: dt.tzinfo) -> str:
    """Now, RFC 3339 with the district's offset (`tz`: gis.core.clock.zone_of)."""
    return dt.datetime.now(tz).replace(microsecond=0).isoformat()


# ---------------------------------------------------------------------------------------------
# The OpenAPI definition. Self-contained: every $ref points inside this document, because
# offline networks cannot fetch the OGC's schemas from schemas.opengis.net.

def openapi(base: str, specs: list[LayerSpec]) -> dict:
    """An OpenAPI 3.0 document for the collections `specs` (those the caller may read)."""
    link_schema = {"type": "object", "required": ["href", "rel"],
                   "properties": {"href": {"type": "string"}, "rel": {"type": "string"},
                                  "type": {"type": "string"}, "title": {"type": "string"}}}
    links = {"type": "array", "items": {"$ref": "#/components/schemas/link"}}
    geometry = {"type": "object", "required": ["type"], "properties": {
        "type": {"type": "string", "enum": ["Point", "MultiPoint", "LineString", "MultiLineString",
                                            "Polygon", "MultiPolygon"]},
        "coordinates": {"type": "array"}}}
    feature = {"type": "object", "required": ["type", "geometry", "properties"], "properties": {
        "type": {"type": "string", "enum": ["Feature"]},
        "geometry": {"nullable": True, "allOf": [{"$ref": "#/components/schemas/geometryGeoJSON"}]},
        "properties": {"type": "object", "nullable": True},
        "id": {"oneOf": [{"type": "string"}, {"type": "integer"}]}, "links": links}}
    fc = {"type": "object", "required": ["type", "features"], "properties": {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "features": {"type": "array", "items": {"$ref": "#/components/schemas/featureGeoJSON"}},
        "links": links, "timeStamp": {"type": "string", "format": "date-time"},
        "numberMatched": {"type": "integer", "minimum": 0}, "numberReturned": {"type": "integer", "minimum": 0}}}
    problem = {"type": "object", "required": ["title", "status"], "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "code": {"type": "string"},
        "status": {"type": "integer"}, "detail": {"type": "string"}, "instance": {"type": "string"}}}
    params = {
        "bbox": {"name": "bbox", "in": "query", "required": False, "style": "form", "explode": False,
                 "description": "minLon,minLat,maxLon,maxLat in CRS84; features intersecting it.",
                 "schema": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}},
        "datetime": {"name": "datetime", "in": "query", "required": False, "style": "form", "explode": False,
                     "description": "An RFC 3339 instant or interval (start/end, `..` for open ends).",
                     "schema": {"type": "string"}},
        "limit": {"name": "limit", "in": "query", "required": False, "style": "form", "explode": False,
                  "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}},
        "offset": {"name": "offset", "in": "query", "required": False, "style": "form", "explode": False,
                   "description": "Features to skip (ordered by id); the `next` link carries it.",
                   "schema": {"type": "integer", "minimum": 0, "default": 0}},
        "f": {"name": "f", "in": "query", "required": False, "style": "form", "explode": False,
              "schema": {"type": "string", "enum": ["json", "html"]}},
        "featureId": {"name": "featureId", "in": "path", "required": True, "schema": {"type": "string"}},
    }

    def ok(schema_ref: str, media: str = JSON) -> dict:
        return {"200": {"description": "OK", "content": {media: {"schema": {"$ref": schema_ref}},
                                                           HTML: {"schema": {"type": "string"}}}},
                "400": {"$ref": "#/components/responses/problem"},
                "401": {"$ref": "#/components/responses/problem"},
                "403": {"$ref": "#/components/responses/problem"},
                "404": {"$ref": "#/components/responses/problem"}}

    paths: dict = {
        "/": {"get": {"summary": "Landing page", "operationId": "getLandingPage", "tags": ["Capabilities"],
                      "parameters": [{"$ref": "#/components/parameters/f"}],
                      "responses": ok("#/components/schemas/landingPage")}},
        "/conformance": {"get": {"summary": "Conformance classes", "operationId": "getConformance",
                                 "tags": ["Capabilities"], "parameters": [{"$ref": "#/components/parameters/f"}],
                                 "responses": ok("#/components/schemas/confClasses")}},
        "/collections": {"get": {"summary": "The collections", "operationId": "getCollections",
                                 "tags": ["Capabilities"], "parameters": [{"$ref": "#/components/parameters/f"}],
                                 "responses": ok("#/components/schemas/collections")}},
    }
    for spec in specs:
        filters = [{"name": name, "in": "query", "required": False, "style": "form", "explode": False,
                    "description": f"Only features whose {name} is one of these (comma-separated).",
                    "schema": {"type": "string"}} for name in spec.filters]
        extra = []
        if spec.versioned:
            extra.append({"name": "at", "in": "query", "required": False,
                          "description": "The versions valid at this date (default: the current ones).",
                          "schema": {"type": "string", "format": "date"}})
        if spec.scope:
            extra.append({"name": "mine", "in": "query", "required": False,
                          "description": "Only the caller's grids (grid workers).", "schema": {"type": "boolean"}})
        common = [{"$ref": "#/components/parameters/f"}]
        item_params = [{"$ref": f"#/components/parameters/{p}"} for p in ("bbox", "datetime", "limit", "offset")]
        tag = spec.name
        paths[f"/collections/{spec.name}"] = {"get": {
            "summary": f"The {spec.name} collection", "operationId": f"describe_{spec.name}", "tags": [tag],
            "parameters": common, "responses": ok("#/components/schemas/collectionInfo")}}
        paths[f"/collections/{spec.name}/items"] = {"get": {
            "summary": f"Features of {spec.name}", "description": spec.description,
            "operationId": f"items_{spec.name}", "tags": [tag],
            "parameters": item_params + filters + extra + common,
            "responses": ok("#/components/schemas/featureCollectionGeoJSON", GEOJSON)}}
        paths[f"/collections/{spec.name}/items/{{featureId}}"] = {"get": {
            "summary": f"One feature of {spec.name}", "operationId": f"item_{spec.name}", "tags": [tag],
            "parameters": [{"$ref": "#/components/parameters/featureId"}] + common,
            "responses": ok("#/components/schemas/featureGeoJSON", GEOJSON)}}
    return {
        "openapi": "3.0.3",
        "info": {"title": TITLE, "version": "1.0.0",
                 "description": "Read-only OGC API – Features Part 1. Layers other than the public "
                                "boundaries need `Authorization: Bearer <token>`.",
                 "license": {"name": "Apache-2.0"}},
        "servers": [{"url": f"{base}/ogc"}],
        "tags": [{"name": "Capabilities"}, *({"name": s.name, "description": s.title} for s in specs)],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "parameters": params,
            "responses": {"problem": {"description": "A problem (RFC 9457)",
                                      "content": {"application/problem+json":
                                                  {"schema": {"$ref": "#/components/schemas/problem"}}}}},
            "schemas": {
                "link": link_schema,
                "landingPage": {"type": "object", "required": ["links"], "properties": {
                    "title": {"type": "string"}, "description": {"type": "string"}, "links": links}},
                "confClasses": {"type": "object", "required": ["conformsTo"], "properties": {
                    "conformsTo": {"type": "array", "items": {"type": "string"}}}},
                "collectionInfo": {"type": "object", "required": ["id", "links"], "properties": {
                    "id": {"type": "string"}, "title": {"type": "string"}, "description": {"type": "string"},
                    "links": links, "extent": {"type": "object"}, "itemType": {"type": "string"},
                    "crs": {"type": "array", "items": {"type": "string"}}}},
                "collections": {"type": "object", "required": ["links", "collections"], "properties": {
                    "links": links,
                    "collections": {"type": "array", "items": {"$ref": "#/components/schemas/collectionInfo"}}}},
                "geometryGeoJSON": geometry,
                "featureGeoJSON": feature,
                "featureCollectionGeoJSON": fc,
                "problem": problem,
            },
        },
        "security": [{}, {"bearer": []}],
    }
