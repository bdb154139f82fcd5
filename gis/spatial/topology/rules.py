"""The topology rules for grids, their tolerances and bounds, and the problems a check reports.

The rules (docs/editing.md says the same):

- **Metres, not degrees.** Every check runs in a Lambert azimuthal equal-area frame on the WGS84
  ellipsoid centred on the data (`Frame`): areas there are the geodesic areas (the projection is
  equal-area), and distances within a district are true to about 10⁻⁵.
- **Snapping** (`snap`): a vertex the planner drew within `snap_m` (default 0.5 m) of a vertex of
  the community boundary or of a neighbouring grid moves onto that vertex (the very same
  coordinates, so the shared edge is exact); otherwise within `snap_m` of a neighbour's edge it
  moves onto the edge; and a neighbour's vertex within `snap_m` of a drawn edge is inserted into
  it. Vertices farther away are kept exactly as drawn.
- **Noise.** Overlaps, gaps and parts outside the community smaller than `noise_m2` (default
  0.01 m², a 10 cm square) are floating-point residue of intersecting edges, not problems.
- **Errors** (an edit with any of them cannot be saved): invalid geometry (with GEOS's reason),
  not a polygon, parts outside the community (m²), overlaps with a sibling grid (which, m², where),
  gaps left in the community (where, m²), slivers — a polygon part smaller than `min_part_m2`
  (default 100 m²) or thinner than `min_width_m` (default 2 m mean width, 2·area/perimeter).
- **Warnings** (shown, not blocking), for basic grids only (special grids — parks, schools — are
  as big as they are): area outside `area_m2` (default 5,000–20,000 m², around the 10,000 m² unit
  grid), households outside `households` (default 300–500, the governance grid), and grids made
  of several separate parts.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

SNAP_TOLERANCE_M = 0.5
NOISE_M2 = 0.01
MIN_PART_M2 = 100.0
MIN_WIDTH_M = 2.0
AREA_BOUNDS_M2 = (5_000.0, 20_000.0)
HOUSEHOLD_BOUNDS = (300, 500)
# A report lists at most this many problems of each severity (the counts are always complete).
MAX_LISTED = 500


@dataclass(frozen=True)
class Rules:
    """Tolerances and bounds of the topology checks (see the module docstring)."""

    snap_m: float = SNAP_TOLERANCE_M
    noise_m2: float = NOISE_M2
    min_part_m2: float = MIN_PART_M2
    min_width_m: float = MIN_WIDTH_M
    area_m2: tuple[float, float] | None = AREA_BOUNDS_M2
    households: tuple[int, int] | None = HOUSEHOLD_BOUNDS

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Rules:
        """Rules from app config (GRIDGOV_EDIT_SNAP_M, GRIDGOV_GRID_AREA_M2="5000,20000", …)."""
        out = cls()
        numbers = {"EDIT_SNAP_M": "snap_m", "EDIT_NOISE_M2": "noise_m2", "GRID_MIN_PART_M2": "min_part_m2",
                   "GRID_MIN_WIDTH_M": "min_width_m"}
        for key, name in numbers.items():
            if config.get(key) not in (None, ""):
                out = replace(out, **{name: _positive(config[key], key)})
        for key, name in (("GRID_AREA_M2", "area_m2"), ("GRID_HOUSEHOLDS", "households")):
            if key in config:
                out = replace(out, **{name: _bounds(config[key], key)})
        return out

    def to_dict(self) -> dict:
        """The rules as JSON-ready values (every report states the tolerances it used)."""
        return {"snap_m": self.snap_m, "noise_m2": self.noise_m2, "min_part_m2": self.min_part_m2,
                "min_width_m": self.min_width_m, "area_m2": list(self.area_m2) if self.area_m2 else None,
                "households": list(self.households) if self.households else None}


def _positive(value: Any, key: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if not (math.isfinite(number) and number >= 0):
        raise ValueError(f"GRIDGOV_{key} must be a number >= 0; got {value!r}")
    return number


def _bounds(value: Any, key: str) -> tuple[float, float] | None:
    if value in (None, "", "none", "off"):
        return None
    parts = value.split(",") if isinstance(value, str) else list(value)
    if len(parts) != 2:
        raise ValueError(f"GRIDGOV_{key} must be 'min,max' (or 'off'); got {value!r}")
    lo, hi = (_positive(p, key) for p in parts)
    if lo > hi:
        raise ValueError(f"GRIDGOV_{key}: min {lo} is above max {hi}")
    return lo, hi


# -- problems -------------------------------------------------------------------------------------
@dataclass
class Problem:
    """One thing wrong (error) or worth a look (warning), with where and how much."""

    rule: str
    detail: str
    severity: str = "error"
    grid: str | None = None
    other: str | None = None
    area_m2: float | None = None
    where: BaseGeometry | None = None  # lon/lat
    values: dict[str, Any] = field(default_factory=dict)  # the figures of its sentence (parts, households, bounds)

    def to_dict(self) -> dict:
        """JSON: rule, severity, grid, other, area_m2, detail, values, at ([lon, lat] inside), where (GeoJSON)."""
        out: dict[str, Any] = {"rule": self.rule, "severity": self.severity, "grid": self.grid, "other": self.other,
                               "area_m2": None if self.area_m2 is None else round(self.area_m2, 2),
                               "detail": self.detail, "values": dict(self.values), "at": None, "where": None}
        where = self.where
        if where is not None and not where.is_empty:
            if where.is_valid:
                point = where.point_on_surface()
                where = shapely.set_precision(where, 1e-9)
            else:  # an invalid shape, reported as drawn: any of its points will do
                point = shapely.Point(shapely.get_coordinates(where)[0])
            out["at"] = [round(point.x, 9), round(point.y, 9)]
            out["where"] = mapping(where)
        return out


def error(rule: str, detail: str, **kw) -> Problem:
    """A problem that blocks the edit."""
    return Problem(rule, detail, "error", **kw)


def warning(rule: str, detail: str, **kw) -> Problem:
    """A problem shown, never blocking."""
    return Problem(rule, detail, "warning", **kw)


def fmt_m2(m2: float) -> str:
    """An area for a sentence: 12,345.6 m²."""
    return f"{m2:,.1f} m²" if m2 < 1e6 else f"{m2 / 1e6:,.3f} km²"
