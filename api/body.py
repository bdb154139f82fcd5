"""JSON request bodies: size, nesting depth, UTF-8, NaN/Infinity and repeated keys checked before anyone parses them."""
from __future__ import annotations

import json
import math
import re
from itertools import accumulate

from flask import Flask, current_app, g, request

from gis.core.errors import InvalidInput

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Python's json module recurses once per level: 100,000 nested brackets end in RecursionError, a
# 500, before any route sees the body. So depth is measured on the raw bytes first, by a scanner
# that drops strings (a bracket inside a string is no nesting) and counts brackets without
# recursing; only a body within the limit reaches the parser.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")
_DEPTH = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def install(app: Flask) -> None:
    """Check every JSON body of a write before the route runs (the route then parses it with `parsed`)."""
    app.before_request(_check_body)


def depth(raw: bytes) -> int:
    """How deep the arrays and objects of a JSON text nest (brackets inside strings do not count)."""
    brackets = _BRACKET.findall(_STRING.sub(b"", raw))
    if not brackets:
        return 0
    return max(0, max(accumulate(_DEPTH[b[0]] for b in brackets)))


def parsed() -> object:
    """The request's JSON body parsed strictly (checked by `_check_body` already); None for an empty body."""
    if "json_body" not in g:
        raw = request.get_data(cache=True)
        g.json_body = _parse(raw) if raw.strip() else None
    return g.json_body


def _check_body() -> None:
    if request.method in SAFE_METHODS or not request.is_json:
        return
    raw = request.get_data(cache=True)  # over MAX_CONTENT_LENGTH: werkzeug's 413, a problem too
    limit = int(current_app.config["MAX_JSON_DEPTH"])
    if depth(raw) > limit:
        raise InvalidInput("JSON nested too deep",
                           f"JSON 数组和对象最多嵌套 {limit} 层 — arrays and objects may nest at most {limit} "
                           "levels deep; send a flatter body.")
    g.json_body = _parse(raw) if raw.strip() else None


_check_body.writes_only = True  # it returns at once for GET: the locate fast path may skip it


def _parse(raw: bytes) -> object:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput("JSON is not valid UTF-8",
                           f"请求正文须为 UTF-8 编码 — the body must be UTF-8 (RFC 8259); byte {exc.start} "
                           "is not.") from None
    try:
        value = json.loads(text, object_pairs_hook=_no_repeated_keys)
    except ValueError as exc:  # JSONDecodeError, or an integer of more digits than Python converts
        raise InvalidInput("Malformed JSON", f"正文不是有效的 JSON — the body is not valid JSON: "
                           f"{str(exc)[:120]}.") from None
    where = _non_finite(value)
    if where is not None:
        name = ".".join(where) or "body"
        raise InvalidInput("NaN and Infinity are not JSON",
                           f"`{name}` 不是 JSON 数值 — `{name}` is NaN or Infinity, not a JSON number (RFC 8259); "
                           "send a finite number or null.", **({"parameter": where[0]} if where else {}))
    return value


def _non_finite(value: object, path: tuple[str, ...] = ()) -> tuple[str, ...] | None:
    """Where the first NaN or ±Infinity sits, as a path of keys and indexes (the depth is bounded already)."""
    if isinstance(value, float):
        return None if math.isfinite(value) else path
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _non_finite(item, (*path, str(key)))
        if found is not None:
            return found
    return None


def _no_repeated_keys(pairs: list[tuple[str, object]]) -> dict:
    seen = dict(pairs)
    if len(seen) != len(pairs):
        names = sorted({k for k, _ in pairs if sum(1 for j, _ in pairs if j == k) > 1})
        raise InvalidInput("JSON key repeated",
                       f"同一对象中的键只能出现一次 — a key may appear once per object; repeated: "
                       f"{', '.join(names)[:200]}.")
    return seen

