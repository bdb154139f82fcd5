"""The edit as the planner asked for it: the JSON request parsed into an Edit, and the ETags of If-Match.

- **Edits.** `reshape` (new boundaries for one or more grids of a community), `move_vertices`
  (a vertex shared by neighbours moves, and every grid having it changes in the same edit), `split`
  (a grid cut by a drawn line into pieces), `merge` (adjacent grids into one), `create` (a new grid
  inside a community) and `retire` (a grid's area goes to a neighbour). `reshape` and `create` may
  `take_from_neighbours`: siblings lose whatever the new boundary covers of them.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from gis.core.errors import InvalidGeometry, InvalidInput
from gis.core.models import GRID_EDIT_OPS, GRID_KINDS
from gis.spatial.codes import GRID_CODE_LENGTH

NAME_MAX = 100
NOTE_MAX = 2000
MAX_MOVES = 500


# -- ETags --------------------------------------------------------------------------------------
def grid_etag(code: str, version: int) -> str:
    """The strong ETag of a grid version: its code and version number."""
    return f'"{code}.v{version}"'


def parse_if_match(header: str | None) -> set[str] | None:
    """The ETags of an If-Match header (a comma-separated list), or None when absent."""
    if header is None or not header.strip():
        return None
    return {tag.strip() for tag in re.findall(r'(?:W/)?"[^"]*"|\*', header)}


# -- the edit as asked ------------------------------------------------------------------------------
@dataclass
class Edit:
    """One edit as the planner asked for it (parsed, not yet checked against the database)."""

    op: str
    grids: list[str] = field(default_factory=list)
    geometries: dict[str, BaseGeometry] = field(default_factory=dict)
    moves: list[tuple[tuple[float, float], tuple[float, float]]] = field(default_factory=list)
    line: BaseGeometry | None = None
    geometry: BaseGeometry | None = None
    community: str | None = None
    into: str | None = None
    name: str | None = None
    names: list[str] = field(default_factory=list)
    kind: str | None = None
    take_from_neighbours: bool = False
    note: str | None = None
    raw: dict = field(default_factory=dict)


def _geojson(value: Any, what: str) -> BaseGeometry:
    if isinstance(value, BaseGeometry):
        return value
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise InvalidGeometry("Malformed geometry", f"`{what}` must be a GeoJSON object.") from None
    if isinstance(value, Mapping) and value.get("type") == "Feature":
        value = value.get("geometry")
    if not isinstance(value, Mapping) or "type" not in value:
        raise InvalidGeometry("Malformed geometry", f"`{what}` must be a GeoJSON geometry, e.g. "
                              '{"type": "Polygon", "coordinates": [[[lon, lat], …]]}.')
    try:
        geom = shape(value)
    except Exception as exc:  # shapely raises several types for malformed coordinates
        raise InvalidGeometry("Malformed geometry", f"`{what}`: the coordinates cannot be read ({exc}).") from None
    return shapely.force_2d(geom) if shapely.has_z(geom) else geom


def _code(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.isdigit() or len(value) != GRID_CODE_LENGTH:
        raise InvalidInput(f"Invalid {what}", f"`{what}` must be a 15-digit grid code; got {str(value)[:40]!r}.",
                           parameter=what)
    return value


def _text(value: Any, what: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > limit:
        raise InvalidInput(f"Invalid {what}", f"`{what}` must be text of 1 to {limit} characters.", parameter=what)
    return value.strip()


def _point(value: Any, what: str) -> tuple[float, float]:
    ok = (isinstance(value, (list, tuple)) and len(value) == 2
          and all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in value))
    if not ok or not (-180 <= value[0] <= 180 and -90 <= value[1] <= 90):
        raise InvalidInput(f"Invalid {what}", f"`{what}` must be [lon, lat] in WGS84 degrees.", parameter=what)
    return float(value[0]), float(value[1])


def parse_edit(body: Mapping[str, Any]) -> Edit:
    """An Edit from a JSON request; InvalidInput / InvalidGeometry say what is malformed.

    Shapes are parsed, not judged: an invalid polygon is reported by the checks with the others.
    """
    if not isinstance(body, Mapping):
        raise InvalidInput("Malformed edit", "The edit must be a JSON object with an `op`.")
    op = body.get("op")
    if op not in GRID_EDIT_OPS:
        raise InvalidInput("Unknown op", f"`op` must be one of {', '.join(GRID_EDIT_OPS)}; got {str(op)[:40]!r}.",
                           parameter="op")
    edit = Edit(op=op, raw=json.loads(json.dumps(body, default=str)))
    edit.note = _text(body.get("note"), "note", NOTE_MAX)
    edit.name = _text(body.get("name"), "name", NAME_MAX)
    kind = body.get("kind")
    if kind is not None and kind not in GRID_KINDS:
        raise InvalidInput("Invalid kind", f"`kind` must be one of {', '.join(GRID_KINDS)}.", parameter="kind")
    edit.kind = kind
    take = body.get("take_from_neighbours", False)
    if not isinstance(take, bool):
        raise InvalidInput("Invalid take_from_neighbours", "`take_from_neighbours` must be true or false.")
    edit.take_from_neighbours = take
    if op == "reshape":
        grids = body.get("grids")
        if not isinstance(grids, list) or not grids:
            raise InvalidInput("Missing grids", 'A reshape needs `grids`: [{"code": …, "geometry": GeoJSON}, …].',
                               parameter="grids")
        for i, item in enumerate(grids):
            if not isinstance(item, Mapping):
                raise InvalidInput("Invalid grids", f"grids[{i}] must be an object with `code` and `geometry`.")
            code = _code(item.get("code"), f"grids[{i}].code")
            if code in edit.geometries:
                raise InvalidInput("Duplicate grid", f"Grid {code} appears twice in `grids`.")
            edit.geometries[code] = _geojson(item.get("geometry"), f"grids[{i}].geometry")
        edit.grids = list(edit.geometries)
    elif op == "move_vertices":
        moves = body.get("moves")
        if not isinstance(moves, list) or not moves or len(moves) > MAX_MOVES:
            raise InvalidInput("Missing moves", f'`moves` must list 1 to {MAX_MOVES} {{"from": [lon, lat], '
                               '"to": [lon, lat]}.', parameter="moves")
        for i, move in enumerate(moves):
            if not isinstance(move, Mapping):
                raise InvalidInput("Invalid moves", f'moves[{i}] must be {{"from": [lon, lat], "to": [lon, lat]}}.')
            edit.moves.append((_point(move.get("from"), f"moves[{i}].from"), _point(move.get("to"), f"moves[{i}].to")))
        if body.get("grids") is not None:
            edit.grids = [_code(c, "grids") for c in body.get("grids") or []]
        if body.get("community") is not None:
            edit.community = _text(body.get("community"), "community", 12)
    elif op == "split":
        edit.grids = [_code(body.get("grid"), "grid")]
        edit.line = _geojson(body.get("line"), "line")
        names = body.get("names") or []
        if not isinstance(names, list):
            raise InvalidInput("Invalid names", "`names` must be a list of names, in reading order.")
        edit.names = [_text(n, "names", NAME_MAX) for n in names]
    elif op == "merge":
        grids = body.get("grids")
        if not isinstance(grids, list) or len(grids) < 2:
            raise InvalidInput("Missing grids", "A merge needs `grids`: two or more adjacent grid codes.",
                               parameter="grids")
        edit.grids = list(dict.fromkeys(_code(c, "grids") for c in grids))
        if len(edit.grids) < 2:
            raise InvalidInput("Missing grids", "A merge needs two different grids.", parameter="grids")
    elif op == "create":
        community = body.get("community")
        if not isinstance(community, str) or not community.isdigit() or len(community) != 12:
            raise InvalidInput("Invalid community", "`community` must be the 12-digit community code.",
                               parameter="community")
        edit.community = community
        edit.geometry = _geojson(body.get("geometry"), "geometry")
        if edit.name is None:
            raise InvalidInput("Missing name", "A new grid needs a `name`.", parameter="name")
    elif op == "retire":
        edit.grids = [_code(body.get("grid"), "grid")]
        if body.get("into") is None:
            raise InvalidInput("Missing into", "Say which neighbouring grid takes the retired grid's area: `into`. "
                               "(A grid cannot simply vanish: its community would have a gap.)", parameter="into")
        edit.into = _code(body.get("into"), "into")
        if edit.into == edit.grids[0]:
            raise InvalidInput("Invalid into", "`into` must be another grid.", parameter="into")
    return edit
