"""Checking a layer file before anything is written: fields, types, duplicates, geometry type, coordinate
range, validity, lon/lat swaps, and (on staged rows) nesting in parents and grid overlaps."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from data.io.layers import Layer
from data.io.read import Table
from gis.core import dated
from gis.core.errors import InvalidInput

MAX_ERRORS = 1000
POLYGONAL = ("Polygon", "MultiPolygon")
# Overlaps and parts outside a parent smaller than this are digitising noise, not errors.
TOLERANCE_M2 = 1.0
# How far outside the districts' bounding box (degrees) a feature may lie before a swap is suspected.
SWAP_MARGIN_DEG = 0.5


class RowErrors:
    """Problems found in a file, by row, reported all at once."""

    def __init__(self, line_offset: int | None = None):
        self.items: list[tuple[int, str]] = []
        self.line_offset = line_offset

    def add(self, index: int, message: str) -> None:
        """A problem on the row at 0-based `index`."""
        self.items.append((int(index), message))

    def extend(self, problems: dict[int, str]) -> None:
        """Problems keyed by 0-based row index."""
        for i, m in problems.items():
            self.add(i, m)

    def where(self, index: int) -> str:
        """'row 3' or, for CSV, 'row 3 (line 4)'."""
        row = index + 1
        return f"row {row}" + (f" (line {row + self.line_offset})" if self.line_offset is not None else "")

    def raise_if_any(self, path: str, layer: str) -> None:
        """Raise InvalidInput listing every problem, rows in order, when there is any."""
        if not self.items:
            return
        self.items.sort(key=lambda x: x[0])
        lines = [f"{self.where(i)}: {m}" for i, m in self.items]
        rows = len({i for i, _ in self.items})
        shown = lines[:MAX_ERRORS]
        more = f" (first {MAX_ERRORS} listed)" if len(lines) > MAX_ERRORS else ""
        raise InvalidInput(
            f"{layer} file has {len(lines)} problem(s) in {rows} row(s); nothing was imported",
            f"{path}: {lines[0]}" + (f"; and {len(lines) - 1} more{more}" if len(lines) > 1 else ""),
            errors=shown, errors_omitted=len(lines) - len(shown))


# -- fields: required, choices, lengths, types, dates and times ---------------------------------
def _has_offset(texts: np.ndarray) -> np.ndarray:
    """True where a date-time text ends in Z, ±hh:mm or ±hhmm after a time (numpy over code points)."""
    u = np.asarray(texts, dtype=str)
    n = len(u)
    width = u.dtype.itemsize // 4
    if n == 0 or width == 0:
        return np.zeros(n, dtype=bool)
    cp = np.ascontiguousarray(u).view(np.uint32).reshape(n, width)
    length = np.char.str_len(u)
    rows = np.arange(n)

    def back(k: int) -> np.ndarray:
        i = length - k
        return np.where(i >= 0, cp[rows, np.maximum(i, 0)], 0)

    def sign(c):
        return (c == ord("+")) | (c == ord("-"))

    def digit(c):
        return (c >= ord("0")) & (c <= ord("9"))

    timed = np.char.find(u, ":") >= 0
    zulu = (back(1) == ord("Z")) | (back(1) == ord("z"))
    colon = sign(back(6)) & (back(3) == ord(":")) & digit(back(2))
    compact = sign(back(5)) & digit(back(4)) & digit(back(3)) & digit(back(1)) & (back(3) != ord(":"))
    return timed & (zulu | colon | compact)


def parse_datetimes(values: np.ndarray, naive_tz: str) -> np.ndarray:
    """ISO 8601 (or common spreadsheet forms) to UTC datetime64[us]; naive times are in zone `naive_tz`
    (the district's)."""
    s = pd.Series(values, dtype=object).fillna("")
    out = np.full(len(s), np.datetime64("NaT"), dtype="datetime64[us]")
    aware = pd.Series(_has_offset(s.to_numpy(dtype=str)), index=s.index)
    naive = ~aware & (s != "")
    for sel, kw in ((aware, {"utc": True}), (naive, {})):
        if not sel.any():
            continue
        part = s[sel]
        parsed = pd.to_datetime(part, format="ISO8601", errors="coerce", **kw)
        retry = parsed.isna()
        if retry.any():
            parsed[retry] = pd.to_datetime(part[retry], format="mixed", errors="coerce", **kw)
        if not kw:
            parsed = parsed.dt.tz_localize(naive_tz, ambiguous="NaT", nonexistent="NaT")
        out[sel.to_numpy()] = parsed.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[us]")
    return out


def check_fields(layer: Layer, t: Table, errors: RowErrors, tz: dt.tzinfo) -> dict[str, np.ndarray]:
    """Required fields, choices, lengths and types; returns parsed int/date/datetime columns
    (`tz`: the district's zone, for naive times and "the future")."""
    parsed: dict[str, np.ndarray] = {}
    for f in layer.fields:
        v = t.values[f.name]
        empty = v == ""
        if f.required:
            for i in np.flatnonzero(empty):
                errors.add(i, f"{f.name} is required")
        if f.choices:
            bad = ~empty & ~np.isin(v, f.choices)
            for i in np.flatnonzero(bad):
                errors.add(i, f"{f.name} {v[i]!r} is not one of {', '.join(f.choices)}")
        if f.max_len:
            lens = np.fromiter((len(x) for x in v), int, len(v))
            for i in np.flatnonzero(lens > f.max_len):
                errors.add(i, f"{f.name} is longer than {f.max_len} characters")
        if f.kind == "int":
            num = pd.to_numeric(pd.Series(v, dtype=object).replace("", np.nan), errors="coerce").to_numpy(float)
            bad = ~empty & (np.isnan(num) | (np.mod(np.nan_to_num(num), 1) != 0))
            for i in np.flatnonzero(bad):
                errors.add(i, f"{f.name} {v[i]!r} is not a whole number")
            for i in np.flatnonzero(~bad & ~empty & (num < 0)):
                errors.add(i, f"{f.name} {v[i]} must not be negative")
            parsed[f.name] = num
        elif f.kind == "date":
            d = pd.to_datetime(pd.Series(v, dtype=object).replace("", None), format="ISO8601",
                               errors="coerce").to_numpy("datetime64[D]")
            for i in np.flatnonzero(~empty & np.isnat(d)):
                errors.add(i, f"{f.name} {v[i]!r} is not a date (YYYY-MM-DD)")
            parsed[f.name] = d
        elif f.kind == "datetime":
            d = parse_datetimes(v, tz.key)
            for i in np.flatnonzero(~empty & np.isnat(d)):
                errors.add(i, f"{f.name} {v[i]!r} is not a date and time (ISO 8601, e.g. 2024-05-01T08:30:00+08:00)")
            future = np.datetime64(dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=1), "us")
            for i in np.flatnonzero(~np.isnat(d) & (d > future)):
                errors.add(i, f"{f.name} {v[i]} is in the future")
            parsed[f.name] = d
    return parsed


def check_duplicates(values: np.ndarray, name: str, errors: RowErrors, skip_empty: bool = True) -> None:
    s = pd.Series(values)
    dup = s.duplicated(keep=False) & ((s != "") if skip_empty else True)
    if not dup.any():
        return
    for value, idx in s[dup].groupby(s[dup]).groups.items():
        idx = sorted(idx)
        rows = ", ".join(str(i + 1) for i in idx[:10]) + (f" and {len(idx) - 10:,} more" if len(idx) > 10 else "")
        for i in idx[1:]:
            errors.add(i, f"duplicate {name} {value}: rows {rows} all have it")


def check_geometries(layer: Layer, t: Table, errors: RowErrors, session: Session) -> None:
    if layer.geometry is None:
        return
    errors.extend(t.errors)
    if t.geoms is None and t.lonlat is not None:  # points from lon/lat columns: no geometry objects needed
        lon, lat = t.lonlat
        read = np.zeros(t.n, dtype=bool)
        read[list(t.errors)] = True
        bounds = np.column_stack([lon, lat, lon, lat])
        problems = {i: m for i, m in coordinate_problems(bounds).items() if not read[i]}
    else:
        want = "point" if layer.geometry == "point" else "polygon"
        problems = {i: m for i, m in geometry_problems(t.geoms, want, optional=layer.geometry == "optional polygon")
                    .items() if i not in t.errors}
        present = ~(shapely.is_missing(t.geoms) | shapely.is_empty(t.geoms))
        bounds = np.full((t.n, 4), np.nan)
        bounds[present] = shapely.bounds(t.geoms[present])
    for i, m in problems.items():
        errors.add(i, m)
    if layer.name != "areas":
        ok = np.ones(t.n, dtype=bool)
        ok[list(problems) + list(t.errors)] = False
        idx = np.flatnonzero(ok)
        for i, m in swapped_coordinates(bounds[idx], district_extent(session)).items():
            errors.add(idx[i], m)


# -- geometry: type, validity, coordinate range, lon/lat swaps ---------------------------------
def coordinate_problems(bounds: np.ndarray) -> dict[int, str]:
    """Per row of (minx, miny, maxx, maxy), why the coordinates cannot be WGS84 longitude/latitude.

    Longitude must lie in −180…180 and latitude in −90…90; a latitude out of range whose
    longitude would fit as a latitude is reported as a likely lon/lat swap.
    """
    out: dict[int, str] = {}
    finite = np.isfinite(bounds).all(axis=1)
    for i in np.flatnonzero(~finite):
        out[int(i)] = "coordinates are not finite numbers (NaN or infinite)"
    with np.errstate(invalid="ignore"):
        minx, miny, maxx, maxy = bounds.T
        bad_lat = finite & ((miny < -90) | (maxy > 90))
        bad_lon = finite & ~bad_lat & ((minx < -180) | (maxx > 180))
    for i in np.flatnonzero(bad_lat):
        lat = maxy[i] if maxy[i] > 90 else miny[i]
        hint = " — are lon and lat swapped?" if -90 <= minx[i] and maxx[i] <= 90 else ""
        out[int(i)] = f"latitude {lat:g} is out of range (−90…90){hint}"
    for i in np.flatnonzero(bad_lon):
        lon = maxx[i] if maxx[i] > 180 else minx[i]
        out[int(i)] = f"longitude {lon:g} is out of range (−180…180)"
    return out


def geometry_problems(geoms: np.ndarray, want: str, *, optional: bool = False) -> dict[int, str]:
    """Per index, why a geometry cannot be stored: missing, wrong type, out of range, invalid.

    `want` is 'polygon' (Polygon or MultiPolygon) or 'point'. Coordinates are checked by
    coordinate_problems. Validity is GEOS's, with its reason (the same rule as the tables'
    CHECK ST_IsValid).
    """
    out: dict[int, str] = {}
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    types = shapely.get_type_id(geoms)
    names = np.array(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString",
                      "MultiPolygon", "GeometryCollection"])
    allowed = {"polygon": (3, 6), "point": (0,)}[want]
    wanted = "Polygon or MultiPolygon" if want == "polygon" else "Point"
    for i in np.flatnonzero(missing):
        if not optional:
            out[int(i)] = f"has no geometry (needs a {wanted})"
    bad_type = ~missing & ~np.isin(types, allowed)
    for i in np.flatnonzero(bad_type):
        out[int(i)] = f"geometry is a {names[types[i]] if types[i] >= 0 else 'nothing'}; it must be a {wanted}"
    idx = np.flatnonzero(~missing & ~bad_type)
    for j, m in coordinate_problems(shapely.bounds(geoms[idx])).items():
        out[int(idx[j])] = m
    idx = np.array([i for i in idx if i not in out], dtype=int)
    if len(idx):
        valid = shapely.is_valid(geoms[idx])
        for i in idx[~valid]:
            out[int(i)] = f"invalid geometry: {shapely.is_valid_reason(geoms[i])}"
    return out


def district_extent(session: Session) -> tuple[float, float, float, float] | None:
    """The bounding box (lon/lat) around every district in the database, or None."""
    row = session.execute(text("""
        SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
        FROM (SELECT ST_Extent(geom) AS e FROM admin_areas WHERE level = 'district') x
    """)).one()
    return None if row[0] is None else tuple(row)


def swapped_coordinates(bounds: np.ndarray, extent: tuple[float, float, float, float] | None) -> dict[int, str]:
    """Per row of (minx, miny, maxx, maxy), a message when a feature lies far from every district
    (more than SWAP_MARGIN_DEG outside their bounding box) but would lie inside it swapped.

    Helsinki read as (lat, lon) lands in the Indian Ocean, well inside the valid range, so the
    range check cannot see it; the districts already in the database can.
    """
    if extent is None or len(bounds) == 0:
        return {}
    x0, y0, x1, y1 = extent
    m = SWAP_MARGIN_DEG
    b = np.asarray(bounds, dtype=float)
    known = np.isfinite(b).all(axis=1)
    minx, miny, maxx, maxy = b.T

    def inside(ax0, ay0, ax1, ay1):
        return (ax0 >= x0 - m) & (ax1 <= x1 + m) & (ay0 >= y0 - m) & (ay1 <= y1 + m)

    with np.errstate(invalid="ignore"):
        far = known & ~inside(minx, miny, maxx, maxy)
        swapped = far & inside(miny, minx, maxy, maxx)
    return {int(i): (f"lies at lon {minx[i]:.5f}, lat {miny[i]:.5f}, far from every district; with lon and lat "
                     f"swapped it would lie inside — are lon and lat swapped?")
            for i in np.flatnonzero(swapped)}


# -- staged rows against the database: nesting in parents, grid overlaps ---------------------
def outside_parent(session: Session, stage: str, parent_code_col: str, tolerance_m2: float = TOLERANCE_M2
                   ) -> list[tuple[int, str, str, float]]:
    """Staged features sticking out of their parent area by more than `tolerance_m2` (geodesic m²).

    `stage` has columns row, code, geom and `parent_code_col`; the parent is the admin area
    with that code (in the database, or staged in `stage` itself when it holds areas).
    Returns (row, code, parent code, m² outside).
    """
    return [tuple(r) for r in session.execute(text(f"""
        WITH parents AS (
            SELECT code, geom FROM admin_areas WHERE code NOT IN (SELECT code FROM {stage})
            UNION ALL SELECT code, geom FROM {stage}
        )
        SELECT s.row, s.code, p.code, ST_Area(ST_Difference(s.geom, p.geom)::geography) AS outside_m2
        FROM {stage} s JOIN parents p ON p.code = s.{parent_code_col}
        WHERE NOT ST_Covers(p.geom, s.geom)
          AND ST_Area(ST_Difference(s.geom, p.geom)::geography) > :tol
        ORDER BY s.row
    """), {"tol": tolerance_m2})]


def grid_overlaps(session: Session, stage: str, tolerance_m2: float = TOLERANCE_M2
                  ) -> list[tuple[int, str, int | None, str, float]]:
    """Staged grids overlapping another staged grid or a current grid the file does not replace.

    Two grids overlap when their interiors share more than `tolerance_m2` (geodesic m²);
    sharing an edge or a corner is how grids should meet. Returns (row, code, other row or
    None for a grid already in the database, other code, overlap m²), each pair once.
    """
    return [tuple(r) for r in session.execute(text(f"""
        WITH others AS (
            SELECT s.row, s.code, s.geom FROM {stage} s
            UNION ALL
            SELECT NULL, g.code, g.geom FROM grids g
            WHERE {dated.current('g')} AND g.code NOT IN (SELECT code FROM {stage})
        )
        SELECT a.row, a.code, o.row, o.code, ST_Area(ST_Intersection(a.geom, o.geom)::geography) AS m2
        FROM {stage} a JOIN others o
          ON a.geom && o.geom AND a.code <> o.code AND (o.row IS NULL OR o.row > a.row)
         AND ST_Relate(a.geom, o.geom, '2********')
        WHERE ST_Area(ST_Intersection(a.geom, o.geom)::geography) > :tol
        ORDER BY a.row, o.row
    """), {"tol": tolerance_m2})]
