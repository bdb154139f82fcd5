"""Parsing request input into plain values, with problem details that say what to fix."""
from __future__ import annotations

import math

from flask import request

from gis.errors import InvalidInput


def json_body() -> dict:
    """The request's JSON object, or a 400 that says what was wrong with it."""
    if not request.is_json:
        raise InvalidInput("JSON body required", "Send a JSON object with Content-Type: application/json.")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("Malformed JSON", "The body must be one JSON object, e.g. {\"name\": \"…\"}.")
    return body


def number(source: dict, name: str, *, required: bool = True, lo: float | None = None,
           hi: float | None = None) -> float | None:
    """A finite number from a query string or JSON body, within [lo, hi]."""
    raw = source.get(name)
    if raw is None or raw == "":
        if required:
            raise InvalidInput(f"Missing {name}", f"Give `{name}` as a number.", parameter=name)
        return None
    if isinstance(raw, bool):
        raise InvalidInput(f"Invalid {name}", f"`{name}` must be a number, not true/false.", parameter=name)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise InvalidInput(f"Invalid {name}", f"`{name}` must be a number; got {str(raw)[:40]!r}.",
                           parameter=name) from None
    if not math.isfinite(value):
        raise InvalidInput(f"Invalid {name}", f"`{name}` must be a finite number.", parameter=name)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise InvalidInput(f"{name} out of range", f"`{name}` must be between {lo} and {hi}; got {value}.",
                           parameter=name)
    return value
