"""Contracts (包片): a cadre's responsibility for whole grids or a drawn polygon over a period.

Rules, in one place:
- A contract names either a grid *code* (codes survive boundary edits, so the contract follows the
  grid through its versions) or a drawn polygon (a 包片 cutting across grids). Never both.
- Its dates are a half-open range [valid_from, valid_to): it is in force on day D when
  valid_from <= D < valid_to; valid_to NULL means open-ended. "Ending" a contract on day E sets
  valid_to = E: it no longer holds on E. Today is the district's today (gis.core.clock, one clock
  for every contract rule and both importers; CURRENT_DATE on gridgov's connections is the same day).
- A cadre holds a grid at most once at any time (an exclusion constraint enforces it, so two
  planners adding the same contract at once cannot both succeed). Different cadres may share a
  grid: coverage reports that as a shared grid, it is not an error.
- A grid contract needs a version of that grid in force at some time during the contract; a
  polygon must be a valid (Multi)Polygon in lon/lat (WGS84 / CGCS2000) that overlaps some grid.
- Changes never silently overwrite: change and end take the ETag the caller read (If-Match).
- Imports are all or nothing: every row is checked, every error is reported with its row, and a
  file with one bad row changes nothing.

This module holds those rules as code (dates, cadre types, polygons); rows checks contracts against the
database, queries reads them, writes makes and changes one, importing writes many.
"""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from gis.core import clock, dated
from gis.core.errors import InvalidGeometry, InvalidInput
from gis.core.models import CADRE_TYPES, Contract

CSV_COLUMNS = ("cadre_code", "grid_code", "role", "valid_from", "valid_to")
ROLE_MAX = 64
MAX_ERRORS = 200  # report this many row errors at most; enough to fix a file in a few rounds

# The rule "in force on :day" as SQL over a contracts alias `k` (used by coverage too).
IN_FORCE_SQL = dated.in_force("k", ":day", open_start=False)


def in_force(day: Any) -> Any:
    """SQLAlchemy clause: the contract is in force on `day` (a date or a SQL date expression)."""
    return dated.in_force_clause(Contract, day)


def today(session: Session) -> dt.date:
    """The district's today (gis.core.clock.today): the one clock contract dates are compared with."""
    return clock.today(session)


def parse_date(value: Any, name: str = "date", *, required: bool = False) -> dt.date | None:
    """An ISO date (YYYY-MM-DD) from text or a date; InvalidInput saying what was wrong."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidInput(f"Missing {name}", f"Give `{name}` as a date, YYYY-MM-DD.", parameter=name)
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise InvalidInput(f"Invalid {name}", f"`{name}` must be a date string YYYY-MM-DD.", parameter=name)
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"Invalid {name}",
                           f"`{name}` must be a date YYYY-MM-DD (e.g. 2025-03-01); got {value[:40]!r}.",
                           parameter=name) from None


def check_cadre_type(value: str | None) -> str | None:
    """A cadre type from the fixed list, or InvalidInput naming the list."""
    if value is None or value == "":
        return None
    if value not in CADRE_TYPES:
        raise InvalidInput("Unknown cadre type",
                           f"`cadre_type` must be one of {', '.join(CADRE_TYPES)}; got {str(value)[:40]!r}.",
                           parameter="cadre_type")
    return value


def polygon_from_geojson(value: Any) -> MultiPolygon:
    """A valid lon/lat (Multi)Polygon from GeoJSON (or shapely); InvalidGeometry says why not."""
    if isinstance(value, BaseGeometry):
        geom = value
    else:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise InvalidGeometry("Malformed geometry", "`geometry` must be a GeoJSON object.") from None
        if isinstance(value, Mapping) and value.get("type") == "Feature":
            value = value.get("geometry")
        if not isinstance(value, Mapping) or value.get("type") not in ("Polygon", "MultiPolygon"):
            got = value.get("type") if isinstance(value, Mapping) else type(value).__name__
            raise InvalidGeometry("Wrong geometry type",
                                  f"A drawn contract must be a GeoJSON Polygon or MultiPolygon; got {got}.")
        try:
            geom = shape(value)
        except Exception as exc:  # shapely raises several types for malformed coordinates
            raise InvalidGeometry("Malformed geometry", f"The coordinates cannot be read: {exc}.") from None
    if isinstance(geom, Polygon):
        geom = MultiPolygon([geom])
    if not isinstance(geom, MultiPolygon):
        raise InvalidGeometry("Wrong geometry type",
                              f"A drawn contract must be a Polygon or MultiPolygon; got {geom.geom_type}.")
    if geom.is_empty:
        raise InvalidGeometry("Empty geometry", "The polygon has no coordinates.")
    if shapely.has_z(geom):
        geom = shapely.force_2d(geom)
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InvalidGeometry("Coordinates out of range",
                              "Coordinates must be longitude, latitude in WGS84 / CGCS2000 degrees "
                              f"(lon −180…180, lat −90…90); the bounds are {geom.bounds}. "
                              "Are longitude and latitude swapped, or is the file in a projected CRS?")
    if not geom.is_valid:
        raise InvalidGeometry("Invalid geometry", f"The polygon is not valid: {shapely.is_valid_reason(geom)}.")
    if geom.area == 0:
        raise InvalidGeometry("Empty geometry", "The polygon has no area.")
    return geom
