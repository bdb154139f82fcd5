"""OGC API – Features Part 1 at /ogc, in JSON and HTML, for QGIS, GDAL's OAPIF driver and OWSLib."""
from __future__ import annotations

import json

from flask import Blueprint, Response, request

from api import db
from api.auth import current_user
from api.hub import hub
from api.lang import request_lang, tr
from api.layers import caller_scope, readable
from gis.core import clock
from gis.core.errors import InvalidInput, NotFound
from layers import ogc
from layers.geojson import collection_text, count, feature_texts, fetch, json_value
from layers.query import LayerQuery, parse_query
from layers.registry import readable_layers
from webmap.render import render

bp = Blueprint("ogc", __name__, url_prefix="/ogc")


def _base() -> str:
    return request.host_url.rstrip("/")


def _wants_html() -> bool:
    f = request.args.get("f")
    if f is not None:
        if f not in ("json", "geojson", "html"):
            raise InvalidInput("Invalid f", f"`f` is json or html; got {f[:20]!r}.", parameter="f")
        return f == "html"
    best = request.accept_mimetypes.best_match(["application/json", "application/geo+json", "text/html"])
    return best == "text/html"


def _json(doc: dict, mimetype: str = ogc.JSON) -> Response:
    return Response(json.dumps(doc, ensure_ascii=False), mimetype=mimetype)


def _role() -> str | None:
    user = current_user()
    return user.role if user else None


def _int_arg(args: dict, name: str, default: int, lo: int, hi: int | None = None) -> int:
    raw = args.pop(name, None)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"Invalid {name}", f"`{name}` must be a whole number; got {raw[:20]!r}.",
                           parameter=name) from None
    if value < lo:
        raise InvalidInput(f"Invalid {name}", f"`{name}` must be at least {lo}.", parameter=name)
    return min(value, hi) if hi is not None else value


@bp.get("")
@bp.get("/")
def landing():
    """The landing page."""
    doc = ogc.landing(_base())
    if _wants_html():
        return _page(doc["title"], doc["description"], links=doc["links"])
    return _json(doc)


@bp.get("/conformance")
def conformance():
    """The conformance classes."""
    doc = ogc.conformance()
    if _wants_html():
        return _page(tr("ogc.conformance", current_user()), "", rows=[{"class": c} for c in doc["conformsTo"]])
    return _json(doc)


@bp.get("/api")
def api_definition():
    """The OpenAPI 3.0 definition (self-contained) of the collections the caller may read."""
    doc = ogc.openapi(_base(), readable_layers(_role()))
    if _wants_html():
        rows = [{"path": "/ogc" + path.rstrip("/"), "summary": op["get"]["summary"]}
                for path, op in doc["paths"].items()]
        return _page(tr("ogc.api", current_user()), tr("ogc.api_intro", current_user()), rows=rows,
                     links=[ogc.link(f"{_base()}/ogc/api?f=json", "alternate", ogc.OPENAPI, "OpenAPI JSON")])
    return _json(doc, ogc.OPENAPI)


def _extent(spec) -> dict:
    return hub().memo.get(("extent", spec.name), spec.depends_on, lambda: ogc.extent(db.session(), spec))


@bp.get("/collections")
def collections():
    """The collections the caller may read."""
    base = _base()
    doc = ogc.collections(base, [ogc.collection(base, spec, _extent(spec)) for spec in readable_layers(_role())])
    if _wants_html():
        rows = [{"id": _a(f"{base}/ogc/collections/{c['id']}?f=html", c["id"]),
                 "title": tr(f"layer.{c['id']}", current_user()), "description": c["description"]}
                for c in doc["collections"]]
        return _page(tr("ogc.collections", current_user()), "", rows=rows, links=doc["links"])
    return _json(doc)


@bp.get("/collections/<name>")
def collection(name: str):
    """One collection."""
    spec = readable(name)
    doc = ogc.collection(_base(), spec, _extent(spec))
    if _wants_html():
        bbox = doc["extent"].get("spatial", {}).get("bbox", [[]])[0]
        rows = [{"property": k, "type": v} for k, v in spec.properties.items()]
        user = current_user()
        return _page(tr(f"layer.{spec.name}", user), tr("ogc.extent", user, description=spec.description, bbox=bbox),
                     rows=rows, links=doc["links"])
    return _json(doc)


@bp.get("/collections/<name>/schema")
def collection_schema(name: str):
    """JSON Schema of the collection's properties."""
    spec = readable(name)
    return _json(ogc.schema(_base(), spec), ogc.SCHEMA)


@bp.get("/collections/<name>/items")
def items(name: str):
    """A page of features: bbox, datetime, filters, limit and offset; next/prev links and numberMatched."""
    spec = readable(name)
    args = request.args.to_dict()
    html = _wants_html()
    args.pop("f", None)
    page_args = dict(args)
    limit = _int_arg(args, "limit", ogc.DEFAULT_LIMIT, 1, ogc.MAX_LIMIT)
    offset = _int_arg(args, "offset", 0, 0)
    q = parse_query(spec, args, scope=caller_scope())
    session = db.session()
    matched = hub().memo.get(("count", q.cache_key()), spec.depends_on, lambda: count(session, q))
    rows = fetch(session, q, limit=limit, offset=offset)
    links = ogc.items_links(_base(), spec, page_args, offset, limit, len(rows), matched)
    if html:
        names = list(spec.properties)
        table = [{"id": _a(f"{_base()}/ogc/collections/{name}/items/{r[0]}?f=html", r[0]),
                  **{n: json_value(v) for n, v in zip(names, r[2:])}} for r in rows]
        return _page(f"{spec.title} — features {offset + 1}–{offset + len(rows)} of {matched}", "",
                     rows=table, links=links)
    features = feature_texts(spec, rows, single_slice=q.interval is None)
    body = collection_text(features, numberMatched=matched, numberReturned=len(features),
                           timeStamp=ogc.timestamp(clock.zone_of(session)), links=links)
    return Response(body, mimetype=ogc.GEOJSON)


@bp.get("/collections/<name>/items/<fid>")
def item(name: str, fid: str):
    """One feature by id (any version of a dated layer)."""
    spec = readable(name)
    if not fid.isdigit():
        raise NotFound("No such feature", f"{name} features have whole-number ids; got {fid[:30]!r}.")
    scope = caller_scope()
    q = LayerQuery(spec, any_time=True,
                   scope=tuple(scope) if scope is not None and spec.scoped_for_workers else None)
    rows = fetch(db.session(), q, ids=[int(fid)])
    if not rows:
        raise NotFound("No such feature", f"{name} has no feature {fid} that you may see.")
    url = f"{_base()}/ogc/collections/{name}"
    links = [ogc.link(f"{url}/items/{fid}", "self", ogc.GEOJSON, "This feature"),
             ogc.link(f"{url}/items/{fid}?f=html", "alternate", ogc.HTML, "This feature as HTML"),
             ogc.link(url, "collection", ogc.JSON, "The collection")]
    if _wants_html():
        props = {n: json_value(v) for n, v in zip(spec.properties, rows[0][2:])}
        return _page(f"{spec.title} #{fid}", "", rows=[{"property": k, "value": v} for k, v in props.items()],
                     links=links)
    text = feature_texts(spec, rows)[0]
    body = text[:-1] + ',"links":' + json.dumps(links) + "}"
    return Response(body, mimetype=ogc.GEOJSON)


class _a(str):
    """A cell that renders as a link."""

    def __new__(cls, href: str, label):
        obj = super().__new__(cls, str(label))
        obj.href = href
        return obj


def _page(title: str, intro: str, *, rows: list[dict] | None = None, links: list[dict] | None = None) -> Response:
    html = render("ogc.html", request_lang(current_user()), title=title, intro=intro, rows=rows or [],
                  links=links or [])
    return Response(html, mimetype="text/html")
