"""Layers over HTTP: the catalog, GeoJSON by bbox and zoom, and vector tiles with ETags and a cache."""
from __future__ import annotations

import gzip

from flask import Blueprint, Response, jsonify, request

from api import db
from api.auth import current_user, scoped_grids
from api.hub import hub
from gis.core.errors import Forbidden, InvalidInput, Unauthenticated
from layers import mvt
from layers.cache import Tile
from layers.geojson import layer_geojson
from layers.query import parse_query, parse_zoom
from layers.registry import ANONYMOUS, LayerSpec, describe, get_layer, readable_layers

bp = Blueprint("layers", __name__)

GEOJSON = "application/geo+json"
GZIP_JSON_BYTES = 32 * 1024
MVT = "application/vnd.mapbox-vector-tile"


def readable(name: str) -> LayerSpec:
    """The layer called `name` if the caller may read it; 401/403/404 problems otherwise."""
    spec = get_layer(name)
    user = current_user()
    if not spec.readable_by(user.role if user else None):
        if user is None:
            raise Unauthenticated("Authentication required",
                                  f"Layer {name} is for signed-in users; send a bearer token or sign in at /login.")
        raise Forbidden("Layer not allowed", f"Layer {name} is not readable by the role {user.role}.")
    return spec


def caller_scope() -> list[str] | None:
    """The grid codes the caller is limited to, or None."""
    user = current_user()
    return None if user is None else scoped_grids(user)


def _private(spec: LayerSpec) -> bool:
    return ANONYMOUS not in spec.roles


@bp.get("/layers")
def catalog():
    """Every layer the caller may read, with its properties, filters, style and URLs."""
    user = current_user()
    return jsonify(layers=[describe(spec) for spec in readable_layers(user.role if user else None)])


@bp.get("/layers/<name>.geojson")
def layer_features(name: str):
    """Features in ?bbox= simplified for ?zoom= (per-grid aggregates below the layer's min zoom)."""
    spec = readable(name)
    args = request.args.to_dict()
    zoom = parse_zoom(args.pop("zoom", None))
    overflow = args.pop("overflow", "error")
    if overflow not in ("error", "aggregate"):
        raise InvalidInput("Invalid overflow", "`overflow` is error (the default) or aggregate.")
    q = parse_query(spec, args, scope=caller_scope())
    body = layer_geojson(db.session(), q, zoom=zoom, overflow=overflow).encode()
    headers = {"Cache-Control": "private, no-cache" if _private(spec) else "no-cache", "Vary": "Accept-Encoding"}
    if len(body) > GZIP_JSON_BYTES and "gzip" in request.headers.get("Accept-Encoding", ""):
        # A city's worth of features is megabytes of JSON and compresses five- to tenfold.
        body = gzip.compress(body, compresslevel=1, mtime=0)
        headers["Content-Encoding"] = "gzip"
    return Response(body, mimetype=GEOJSON, headers=headers)


@bp.get("/tiles/<name>/<int:z>/<int:x>/<int:y>.mvt")
def layer_tile(name: str, z: int, x: int, y: int):
    """One vector tile; cached per process until the layer's tables change; 304 for a known ETag."""
    spec = readable(name)
    mvt.check_tile(z, x, y)
    q = parse_query(spec, request.args.to_dict(), scope=caller_scope())
    the_hub = hub()
    generations = the_hub.generations.snapshot(spec.depends_on)
    key = (q.cache_key(), z, x, y, generations)
    tile = the_hub.tiles.get(key) if generations is not None else None
    if tile is None:
        tile = Tile.of(mvt.tile(db.session(), q, z, x, y))
        if generations is not None:
            the_hub.tiles.put(key, tile)
    # Revalidate every time (no-cache) and answer 304 when nothing changed: the map stays live.
    packed = tile.compressible and "gzip" in request.headers.get("Accept-Encoding", "")
    etag = tile.gzip_etag if packed else tile.etag
    headers = {"ETag": etag, "Cache-Control": "private, no-cache" if _private(spec) else "no-cache",
               "Vary": "Accept-Encoding, Authorization, Cookie" if _private(spec) else "Accept-Encoding"}
    if request.if_none_match.contains(etag.strip('"')):
        return Response(status=304, headers=headers)
    if packed:
        headers["Content-Encoding"] = "gzip"
        return Response(tile.gzipped, mimetype=MVT, headers=headers)
    return Response(tile.data, mimetype=MVT, headers=headers)
