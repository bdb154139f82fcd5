"""Import and export of the district's layers: common GIS files in, checked row by row, all or nothing."""
from __future__ import annotations

# How an import runs. The file is read whole (pyogrio for GeoJSON, GeoPackage, Shapefile,
# zipped Shapefile and FlatGeobuf; pandas for CSV), reprojected to WGS84, and every row is
# checked before anything is written: required fields, types, choices, codes against the
# hierarchy, duplicates, geometry type, range and validity (with GEOS's reason), then the
# database-side rules (parents exist, grids inside their community and not overlapping).
# All problems are reported together by row number. Only a clean file is written, inside
# the caller's transaction, so a failure anywhere leaves the database as it was. Rows whose
# key (code) exists are updated, others added; a grid whose boundary changes gets a new
# dated version. `dry_run` runs everything, reports what would change and rolls nothing in.
import datetime as dt
import json
import re
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from data import LAYER_NAMES
from data.bulk import (
    Progress,
    copy_columns,
    copy_frame,
    deferred_foreign_keys,
    deferred_indexes,
    enc_fixed,
    enc_points,
    enc_text,
    ewkb_hex,
    pg_micros,
)
from gis.core import clock
from gis.spatial.assign import insert_assigned
from gis.spatial.buildings import footprint_grids_sql
from gis.spatial.checks import (
    coordinate_problems,
    district_extent,
    geometry_problems,
    grid_overlaps,
    outside_parent,
    swapped_coordinates,
)
from gis.spatial.codes import code_problem
from gis.core.errors import InvalidInput
from gis.core.models import AREA_LEVELS, ASSIGN_STATUSES, CADRE_TYPES, EVENT_STATUSES, GRID_KINDS

MAX_ERRORS = 1000
PROGRESS_ROWS = 5_000  # files with more rows than this get a progress bar
BULK_EVENT_ROWS = 50_000  # an events import this large (and ≥ 1/4 of the table) rebuilds indexes once at the end
# pandas < 3 parses floats fast but up to one ulp off unless asked; pandas 3 is exact and deprecates asking.
EXACT_FLOATS = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}
LON_NAMES = ("lon", "lng", "long", "longitude", "x")
LAT_NAMES = ("lat", "latitude", "y")
WKT_NAMES = ("wkt", "geometry", "geom", "the_geom", "shape")
OGR_SUFFIXES = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG", ".shp": "ESRI Shapefile",
                ".fgb": "FlatGeobuf"}


@dataclass(frozen=True)
class Field:
    """A column of a layer file."""

    name: str
    required: bool = False
    kind: str = "text"  # text, int, date, datetime
    choices: tuple[str, ...] | None = None
    default: str | None = None
    max_len: int | None = None
    doc: str = ""


@dataclass(frozen=True)
class Layer:
    """What a layer file holds: its fields, its geometry and the field that identifies a row."""

    name: str
    fields: tuple[Field, ...]
    geometry: str | None  # 'polygon', 'point', 'optional polygon' or None
    key: str | None
    derived: tuple[str, ...] = ()  # written by export for reading, ignored by import
    doc: str = ""

    def field(self, name: str) -> Field:
        """The field called `name`."""
        return next(f for f in self.fields if f.name == name)


LAYERS: dict[str, Layer] = {
    "areas": Layer("areas", (
        Field("level", True, choices=AREA_LEVELS, doc="district, street or community"),
        Field("code", True, doc="6 digits (district), 9 (street), 12 (community), GB/T 2260 style"),
        Field("name", True, doc="e.g. 幸福湾区, 云山街道, 和坊社区"),
        Field("parent_code", doc="the street's district / the community's street; empty for a district"),
    ), "polygon", "code", doc="Polygon or MultiPolygon"),
    "grids": Layer("grids", (
        Field("code", True, doc="15 digits: community code + 3-digit sequence"),
        Field("name", True),
        Field("community_code", True, doc="12-digit code of an existing community"),
        Field("kind", choices=GRID_KINDS, default="basic", doc="basic or special (park, school, …)"),
        Field("households", kind="int", doc="whole number ≥ 0"),
        Field("population", kind="int", doc="whole number ≥ 0 (optional)"),
    ), "polygon", "code", derived=("area_m2",), doc="Polygon or MultiPolygon; must lie in its community and "
                                                     "not overlap other grids"),
    "buildings": Layer("buildings", (
        Field("code", True, max_len=32, doc="unique, e.g. grid code + 5-digit sequence"),
        Field("name"),
        Field("floors", kind="int"),
        Field("households", kind="int"),
        Field("population", kind="int"),
    ), "polygon", "code", derived=("grid_code",), doc="Polygon or MultiPolygon footprint; the grid is derived"),
    "events": Layer("events", (
        Field("category", True, doc="a code of the categories table, e.g. 11001"),
        Field("title", True),
        Field("description"),
        Field("occurred_at", True, kind="datetime", doc="ISO 8601; without an offset it is the district's local time"),
        # A merged report needs the case it joined, which a file cannot name: not importable.
        Field("status", choices=tuple(s for s in EVENT_STATUSES if s != "merged"), default="reported"),
        Field("id", kind="int", doc="optional: an existing event's id updates that event"),
    ), "point", "id", doc="Point geometry, or `lon` / `lat` columns in a CSV"),
    "cadres": Layer("cadres", (
        Field("code", True, max_len=32),
        Field("name", True),
        Field("type", True, choices=CADRE_TYPES),
        Field("organisation"),
        Field("phone", max_len=32),
    ), None, "code", doc="no geometry"),
    "contracts": Layer("contracts", (
        Field("cadre_code", True, doc="code of an existing cadre"),
        Field("grid_code", doc="15-digit grid code; leave empty for a drawn area"),
        Field("role", True, doc="e.g. 包片领导, 专职网格员, 驻村法官"),
        Field("valid_from", kind="date", doc="YYYY-MM-DD, default today"),
        Field("valid_to", kind="date", doc="YYYY-MM-DD, first day it no longer holds; empty: open"),
    ), "optional polygon", None, doc="none for a whole-grid contract; a Polygon for a drawn area"),
}
assert tuple(LAYERS) == LAYER_NAMES


# -- results ---------------------------------------------------------------------------------
@dataclass
class ImportReport:
    """What an import did (or, with dry_run, would do)."""

    layer: str
    path: str
    rows: int
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    new_versions: int = 0
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False
    seconds: float = 0.0

    def summary(self) -> str:
        """Human lines for the CLI."""
        verb = "would import" if self.dry_run else "imported"
        rate = f", {self.rows / self.seconds:,.0f} rows/s" if self.seconds > 0 and self.rows >= PROGRESS_ROWS else ""
        head = (f"{verb} {self.layer} from {self.path}: {self.rows:,} rows — {self.added:,} new, "
                f"{self.updated:,} changed, {self.unchanged:,} unchanged"
                + (f" ({self.new_versions:,} new grid versions)" if self.new_versions else "")
                + f" in {self.seconds:.1f} s{rate}")
        lines = [head] + [f"  note: {n}" for n in self.notes] + [f"  warning: {w}" for w in self.warnings]
        if self.dry_run:
            lines.append("  dry run: nothing was written")
        return "\n".join(lines)


@dataclass
class ExportReport:
    """What an export wrote."""

    layer: str
    path: str
    rows: int
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """Human lines for the CLI."""
        return "\n".join([f"exported {self.rows:,} {self.layer} to {self.path}"] + [f"  note: {n}" for n in self.notes])


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
            f"{layer} file has {len(lines)} problem{'s' * (len(lines) != 1)} in {rows} row{'s' * (rows != 1)}"
            f"; nothing was imported",
            f"{path}: {lines[0]}" + (f"; and {len(lines) - 1} more{more}" if len(lines) > 1 else ""),
            errors=shown, errors_omitted=len(lines) - len(shown))


# -- reading files ---------------------------------------------------------------------------
@dataclass
class Table:
    """A layer file read into memory: text values per field, WGS84 geometries, notes."""

    path: str
    n: int
    values: dict[str, np.ndarray]
    present: set[str]
    geoms: np.ndarray | None
    source_xy: tuple[np.ndarray, np.ndarray] | None
    source_crs: str
    line_offset: int | None
    lonlat: tuple[np.ndarray, np.ndarray] | None = None  # point layers: WGS84 coordinates
    notes: list[str] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)  # geometry read problems (bad WKT, lon)


def parse_crs(crs: str | None):
    """A pyproj CRS from 'wgs84', 'cgcs2000', 'EPSG:n' or any pyproj input; None stays None."""
    if not crs:
        return None
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    from gis.spatial.crs import BD09_NAMES, GCJ02_NAMES

    alias = {"wgs84": "EPSG:4326", "cgcs2000": "EPSG:4490"}.get(crs.strip().lower(), crs.strip())
    # GCJ-02 / BD-09 (coordinates from AMap, Tencent or Baidu maps) are WGS84 moved by an obscuring
    # offset, not projections pyproj knows: they stay names, and gis.spatial.crs inverts them point by point.
    if crs.strip().lower() in GCJ02_NAMES:
        return "gcj02"
    if crs.strip().lower() in BD09_NAMES:
        return "bd09"
    try:
        return CRS.from_user_input(alias)
    except CRSError as exc:
        raise InvalidInput("Unknown CRS", f"{crs!r} is not a CRS pyproj knows ({exc}); give e.g. EPSG:4326, "
                           "EPSG:4490 or EPSG:4547.") from exc


def _crs_label(crs) -> str:
    if crs is None:
        return "wgs84"
    if isinstance(crs, str):
        return crs
    epsg = crs.to_epsg()
    return {4326: "wgs84", 4490: "cgcs2000"}.get(epsg, f"EPSG:{epsg}" if epsg else crs.name[:32])


def _is_wgs84_like(crs) -> bool:
    return crs is None or not isinstance(crs, str) and crs.to_epsg() in (4326, 4490)


def read_table(path: str | Path, layer: Layer, crs: str | None = None) -> Table:
    """Read a layer file: CSV (lon/lat or WKT columns) or any vector format pyogrio reads."""
    p = Path(path)
    if not p.exists():
        raise InvalidInput("File not found", f"{p} does not exist.")
    if p.is_file() and p.stat().st_size == 0:
        raise InvalidInput("Empty file", f"{p} is 0 bytes: nothing to import (was the upload or copy cut short?).")
    given = parse_crs(crs)
    if p.suffix.lower() in (".csv", ".txt", ".tsv"):
        table = _read_csv(p, layer, given)
    else:
        table = _read_ogr(p, layer, given)
    if table.n == 0:
        raise InvalidInput("No rows", f"{p} holds no rows or features: nothing to import.")
    return table


def _read_csv(p: Path, layer: Layer, given) -> Table:
    import csv

    with p.open("rb") as f:
        head = f.readline()
    try:
        encoding, note, first = "utf-8-sig", None, head.decode("utf-8-sig")
    except UnicodeDecodeError:
        encoding, note = "gb18030", "read as GB18030 (not UTF-8), as Excel saves Chinese CSV"
        first = head.decode(encoding, errors="replace")
    sep = max((",", "\t", ";"), key=first.count)
    header = next(csv.reader([first], delimiter=sep), [])
    lower = [h.strip().lower() for h in header]
    # Fast path for point files: lon/lat parsed as correctly rounded floats by the C parser.
    # A cell that is not a number makes it fail; the text path then names the rows.
    xy = [header[lower.index(c)] for group in (LON_NAMES, LAT_NAMES) for c in group if c in lower][:2] \
        if layer.geometry == "point" else []
    frame = None
    options = dict(keep_default_na=False, sep=sep, skipinitialspace=True, encoding=encoding)
    try:
        if len(xy) == 2 and xy[0] != xy[1]:
            try:
                frame = pd.read_csv(p, dtype={h: (np.float64 if h in xy else str) for h in header},
                                    na_values={h: [""] for h in xy}, **EXACT_FLOATS, **options)
            except UnicodeDecodeError:
                raise
            except ValueError:
                frame = None
        if frame is None:
            frame = pd.read_csv(p, dtype=str, **options)
    except UnicodeDecodeError:
        if encoding == "gb18030":
            raise InvalidInput("Unreadable text", f"{p} is neither UTF-8 nor GB18030 text.") from None
        note = "read as GB18030 (not UTF-8), as Excel saves Chinese CSV"
        try:
            frame = pd.read_csv(p, dtype=str, **dict(options, encoding="gb18030"))
        except UnicodeDecodeError:
            raise InvalidInput("Unreadable text", f"{p} is neither UTF-8 nor GB18030 text.") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InvalidInput("Cannot read CSV", f"{p}: {exc}".replace("\n", " ")) from exc
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    if frame.empty:
        raise InvalidInput("No rows", f"{p} holds no rows: nothing to import.")
    table = _columns(p, layer, frame, line_offset=1)
    if note:
        table.notes.append(note)
    if layer.geometry is None:
        return table
    cols = set(frame.columns)
    lon = next((c for c in LON_NAMES if c in cols), None)
    lat = next((c for c in LAT_NAMES if c in cols), None)
    wkt = next((c for c in WKT_NAMES if c in cols), None)
    n = len(frame)
    if lon and lat and layer.geometry == "point":
        x, y = (frame[c].to_numpy(np.float64) if frame[c].dtype.kind == "f" else _floats(frame[c]) for c in (lon, lat))
        for i in np.flatnonzero(np.isnan(x) | np.isnan(y)):
            bad = frame[lon].iat[i] if np.isnan(x[i]) else frame[lat].iat[i]
            which = lon if np.isnan(x[i]) else lat
            table.errors[int(i)] = (f"{which} is empty" if not str(bad).strip() else
                                    f"{which} {str(bad)!r} is not a number")
        table.lonlat, table.source_xy = _to_wgs84(x, y, given), (x, y)
    elif wkt:
        raw = frame[wkt].to_numpy(dtype=object)
        geoms = shapely.from_wkt(np.where(raw == "", None, raw), on_invalid="ignore")
        for i in np.flatnonzero(shapely.is_missing(geoms) & (raw != "")):
            table.errors[int(i)] = f"{wkt} {raw[i][:40]!r}… is not readable WKT"
        if not _is_wgs84_like(given):
            geoms = shapely.transform(geoms, lambda xy: np.column_stack(_to_wgs84(xy[:, 0], xy[:, 1], given)))
        table.geoms = shapely.force_2d(geoms)
    elif layer.geometry == "optional polygon":
        table.geoms = np.full(n, None, dtype=object)
    else:
        need = "`lon` and `lat` columns (or a `wkt` column)" if layer.geometry == "point" else "a `wkt` column"
        raise InvalidInput("No geometry columns", f"{p}: a CSV of {layer.name} needs {need}; it has "
                           f"{', '.join(frame.columns) or 'no columns'}.")
    table.source_crs = _crs_label(given)
    if given is None:
        table.notes.append("no CRS given: coordinates read as WGS84 (use --crs for others)")
    return table


def _floats(column: pd.Series) -> np.ndarray:
    """Numbers from text, correctly rounded (pandas' fast parser can be one ulp off); NaN where not a number."""
    raw = column.str.strip()
    out = pd.to_numeric(raw, errors="coerce").to_numpy(float, copy=True)
    ok = ~np.isnan(out)
    out[ok] = raw.to_numpy(dtype=str)[ok].astype(np.float64)
    return out


def _to_wgs84(x: np.ndarray, y: np.ndarray, given) -> tuple[np.ndarray, np.ndarray]:
    if _is_wgs84_like(given):
        return x, y
    if isinstance(given, str):  # gcj02 / bd09
        from gis.spatial.crs import bd09_to_wgs84, gcj02_to_wgs84

        invert = gcj02_to_wgs84 if given == "gcj02" else bd09_to_wgs84
        x, y = np.asarray(x, float), np.asarray(y, float)
        lon, lat = np.full(x.shape, np.nan), np.full(y.shape, np.nan)
        for i in np.flatnonzero((np.abs(x) <= 180) & (np.abs(y) <= 90)):  # NaN fails too
            lon[i], lat[i] = invert(float(x[i]), float(y[i]))
        return lon, lat
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(given, "EPSG:4326", always_xy=True).transform(x, y)
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    bad = ~(np.isfinite(lon) & np.isfinite(lat))
    lon[bad], lat[bad] = np.nan, np.nan
    return lon, lat


def _read_ogr(p: Path, layer: Layer, given) -> Table:
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError

    if p.suffix.lower() in (".geojson", ".json"):
        _strict_json(p)  # GDAL forgives trailing commas and truncation; a planner should hear about them
    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(p)]
        name = layer.name if layer.name in layers else layers[0] if layers else None
        if name is None:
            raise InvalidInput("No layers", f"{p} holds no layers: nothing to import.")
        gdf = pyogrio.read_dataframe(p, layer=name)
    except (DataSourceError, DataLayerError, OSError, ValueError) as exc:
        raise _unreadable(p, exc) from exc
    if gdf.empty:
        raise InvalidInput("No rows", f"{p} holds no features: nothing to import.")
    import geopandas as gpd

    spatial = isinstance(gdf, gpd.GeoDataFrame) and gdf._geometry_column_name in gdf.columns
    geom_col = gdf.geometry.name if spatial else None
    frame = pd.DataFrame({str(c).strip().lower(): gdf[c] for c in gdf.columns if c != geom_col})
    table = _columns(p, layer, frame, line_offset=None)
    if len(layers) > 1:
        table.notes.append(f"read layer {name!r} of {', '.join(layers)}")
    if not layer.geometry:
        return table
    if not spatial:
        if layer.geometry != "optional polygon":
            raise InvalidInput("No geometry", f"{p} has no geometry; {layer.name} need a {layer.doc.split(';')[0]}.")
        table.geoms = np.full(len(frame), None, dtype=object)
        return table
    file_crs = gdf.crs
    if given is not None:
        if file_crs is not None and (isinstance(given, str) or not file_crs.equals(given)):
            table.notes.append(f"--crs {_crs_label(given)} overrides the file's {_crs_label(file_crs)}")
        # A GCJ-02 / BD-09 file is lon/lat to GDAL; the offset is undone below.
        gdf = gdf.set_crs("EPSG:4326" if isinstance(given, str) else given, allow_override=True)
    elif file_crs is None:
        table.notes.append("the file names no CRS: coordinates read as WGS84 (use --crs for others)")
        gdf = gdf.set_crs("EPSG:4326")
    source = given if isinstance(given, str) else gdf.crs
    table.source_crs = _crs_label(source)
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    if not _is_wgs84_like(source):
        table.notes.append(f"reprojected from {_crs_label(source)} to WGS84")
        if layer.geometry == "point":
            table.source_xy = (shapely.get_x(geoms), shapely.get_y(geoms))
        if isinstance(source, str):
            geoms = shapely.transform(geoms, lambda xy: np.column_stack(_to_wgs84(xy[:, 0], xy[:, 1], source)))
        else:
            geoms = np.asarray(gdf.to_crs("EPSG:4326").geometry.values, dtype=object)
    table.geoms = shapely.force_2d(geoms)
    if layer.geometry == "point":
        table.lonlat = (shapely.get_x(table.geoms), shapely.get_y(table.geoms))
    return table


def _strict_json(p: Path) -> None:
    try:
        json.loads(p.read_bytes().decode("utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise InvalidInput("Broken JSON", f"{p} is not valid JSON: {exc.msg} at line {exc.lineno}, column "
                           f"{exc.colno}. Fix the file (or export it again) and retry.") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInput("Broken JSON", f"{p} is not UTF-8 text ({exc}); GeoJSON is always UTF-8.") from exc


def _unreadable(p: Path, exc: Exception) -> InvalidInput:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return InvalidInput("Cannot read file", f"{p}: {msg}. gridgov reads GeoJSON, GeoPackage, Shapefile (.shp with "
                        ".dbf and .shx, or all zipped), FlatGeobuf and CSV.")


def _text_values(series: pd.Series) -> np.ndarray:
    """Column values as strings: '' for missing, whole floats without '.0', dates in ISO form."""
    s = series
    if pd.api.types.is_bool_dtype(s):
        return np.where(s.isna(), "", s.astype(str).str.lower()).astype(object)
    if pd.api.types.is_integer_dtype(s):
        return s.astype(str).to_numpy(dtype=object)
    if pd.api.types.is_float_dtype(s):
        v = s.to_numpy(float)
        out = np.full(len(v), "", dtype=object)
        ok = ~np.isnan(v)
        whole = ok & (np.mod(v, 1) == 0) & (np.abs(v) < 1e15)
        out[whole] = v[whole].astype(np.int64).astype(str)
        out[ok & ~whole] = v[ok & ~whole].astype(str)
        return out
    if pd.api.types.is_datetime64_any_dtype(s):
        return np.array(["" if pd.isna(v) else pd.Timestamp(v).isoformat() for v in s], dtype=object)
    if pd.api.types.infer_dtype(s, skipna=True) == "string":
        out = s.to_numpy(dtype=object, copy=True)  # text as read (CSV, GDAL string fields)
        out[s.isna().to_numpy()] = ""
        return out
    out = np.empty(len(s), dtype=object)
    for i, v in enumerate(s.to_numpy(dtype=object)):
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT:
            out[i] = ""
        elif isinstance(v, float) and v.is_integer():
            out[i] = str(int(v))
        elif isinstance(v, (dt.date, dt.datetime, pd.Timestamp)):
            out[i] = v.isoformat()
        elif isinstance(v, bytes):
            out[i] = v.decode("utf-8", "replace").strip()
        else:
            out[i] = str(v).strip()
    return out


def _columns(p: Path, layer: Layer, frame: pd.DataFrame, line_offset: int | None) -> Table:
    cols = list(frame.columns)
    mapping: dict[str, str] = {}
    for f in layer.fields:
        if f.name in cols:
            mapping[f.name] = f.name
        else:  # Shapefiles cut field names to 10 characters (community_code → community_)
            cut = next((c for c in cols if len(c) == 10 and f.name.startswith(c)), None)
            if cut:
                mapping[f.name] = cut
    geometry_cols = set(LON_NAMES + LAT_NAMES + WKT_NAMES) if layer.geometry else set()
    known = set(mapping.values()) | geometry_cols | set(layer.derived)
    ignored = [c for c in cols if c not in known and not c.startswith("unnamed:")]
    missing = [f.name for f in layer.fields if f.required and f.name not in mapping]
    if missing:
        raise InvalidInput(
            "Missing columns",
            f"{p}: the {layer.name} file needs the column{'s' * (len(missing) > 1)} {', '.join(missing)}; "
            f"it has {', '.join(cols) or 'none'}. The {layer.name} fields are: "
            f"{', '.join(f.name for f in layer.fields)}.")
    n = len(frame)
    values = {}
    for f in layer.fields:
        if f.name in mapping:
            values[f.name] = _text_values(frame[mapping[f.name]])
        else:
            values[f.name] = np.full(n, f.default or "", dtype=object)
    table = Table(str(p), n, values, set(mapping), None, None, "wgs84", line_offset)
    if ignored:
        table.notes.append(f"ignored columns: {', '.join(ignored)}")
    return table


# -- checking rows ---------------------------------------------------------------------------
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


def _check_fields(layer: Layer, t: Table, errors: RowErrors, tz: dt.tzinfo) -> dict[str, np.ndarray]:
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


def _check_duplicates(values: np.ndarray, name: str, errors: RowErrors, skip_empty: bool = True) -> None:
    s = pd.Series(values)
    dup = s.duplicated(keep=False) & ((s != "") if skip_empty else True)
    if not dup.any():
        return
    for value, idx in s[dup].groupby(s[dup]).groups.items():
        idx = sorted(idx)
        rows = ", ".join(str(i + 1) for i in idx[:10]) + (f" and {len(idx) - 10:,} more" if len(idx) > 10 else "")
        for i in idx[1:]:
            errors.add(i, f"duplicate {name} {value}: rows {rows} all have it")


def _check_geometries(layer: Layer, t: Table, errors: RowErrors, session: Session) -> None:
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


# -- importing -------------------------------------------------------------------------------
def import_file(session: Session, layer_name: str, path: str | Path, *, crs: str | None = None,
                dry_run: bool = False, progress: bool = False) -> ImportReport:
    """Check a whole layer file and write it into the session's transaction (the caller commits).

    Raises InvalidInput listing every problem by row when the file is not clean; nothing is
    written then. With dry_run, reports what would change and rolls the session back.
    """
    if layer_name not in LAYERS:
        raise InvalidInput("Unknown layer", f"Layer must be one of: {', '.join(LAYERS)}.")
    layer = LAYERS[layer_name]
    started = time.perf_counter()
    t = read_table(path, layer, crs)
    errors = RowErrors(t.line_offset)
    parsed = _check_fields(layer, t, errors, clock.zone_of(session))
    if layer.key and layer.name != "events":
        _check_duplicates(t.values[layer.key], layer.key, errors)
    _check_geometries(layer, t, errors, session)
    report = ImportReport(layer.name, str(path), t.n, dry_run=dry_run, notes=list(t.notes))
    apply = {"areas": _import_areas, "grids": _import_grids, "buildings": _import_buildings,
             "events": _import_events, "cadres": _import_cadres, "contracts": _import_contracts}[layer.name]
    show = progress and t.n > PROGRESS_ROWS
    try:
        apply(session, t, parsed, errors, report, show)
        if dry_run:
            session.rollback()
    except BaseException:
        session.rollback()
        raise
    report.seconds = time.perf_counter() - started
    return report


def _where_rows(rows: list[int], limit: int = 8) -> str:
    shown = ", ".join(str(r + 1) for r in rows[:limit])
    return f"row{'s' * (len(rows) > 1)} {shown}" + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def _stage(session: Session, name: str, ddl: str, frame: pd.DataFrame, progress: Progress | None = None) -> None:
    session.execute(text(f"DROP TABLE IF EXISTS {name}"))
    session.execute(text(f"CREATE TEMP TABLE {name} ({ddl}) ON COMMIT DROP"))
    copy_frame(session, name, frame, progress=progress)
    if "geom" in frame.columns and len(frame) > 1000:
        session.execute(text(f"CREATE INDEX ON {name} USING gist (geom)"))
    session.execute(text(f"ANALYZE {name}"))


def _geom_hex(geoms: np.ndarray) -> np.ndarray:
    """Hex EWKB with polygons promoted to multipolygons (the columns' type); '' for no geometry."""
    g = np.array(geoms, dtype=object)
    present = ~shapely.is_missing(g)
    single = present & (shapely.get_type_id(g) == 3)
    g[single] = [shapely.MultiPolygon([p]) for p in g[single]]
    out = np.full(len(g), "", dtype=object)
    out[present] = ewkb_hex(g[present])
    return out


def _ints(parsed: dict, name: str, default: int | None = 0) -> pd.array:
    v = parsed[name]
    return pd.array([default if np.isnan(x) else int(x) for x in v], dtype="Int64")


def _import_areas(session, t: Table, parsed, errors: RowErrors, report: ImportReport, progress: bool) -> None:
    v = t.values
    existing = dict(session.execute(text("SELECT code, level FROM admin_areas")).all())
    in_file = {c: lv for c, lv in zip(v["code"], v["level"], strict=True) if c}
    for i in range(t.n):
        level, code, parent = v["level"][i], v["code"][i], v["parent_code"][i] or None
        if not level or not code or level not in AREA_LEVELS:
            continue
        problem = code_problem(level, code, parent)
        if problem:
            errors.add(i, problem)
            continue
        if code in existing and existing[code] != level:
            errors.add(i, f"code {code} is already a {existing[code]}, not a {level}")
        if parent:
            want = {"street": "district", "community": "street"}[level]
            have = in_file.get(parent) or existing.get(parent)
            if have is None:
                errors.add(i, f"unknown parent code {parent}: no {want} has it in this file or the database")
            elif have != want:
                errors.add(i, f"parent {parent} is a {have}; a {level}'s parent must be a {want}")
    errors.raise_if_any(t.path, "areas")
    frame = pd.DataFrame({"row": np.arange(t.n), "level": v["level"], "code": v["code"], "name": v["name"],
                          "parent_code": v["parent_code"], "geom": _geom_hex(t.geoms)})
    _stage(session, "stage_areas", "row int, level text, code text, name text, parent_code text, "
           "geom geometry(MultiPolygon, 4326)", frame)
    for row, code, parent, m2 in outside_parent(session, "stage_areas", "parent_code"):
        report.warnings.append(f"row {row + 1}: {code} extends {m2:,.0f} m² outside its parent {parent}")
    _count_changes(session, report, """
        SELECT count(*) FILTER (WHERE a.id IS NULL),
               count(*) FILTER (WHERE a.id IS NOT NULL AND (a.name IS DISTINCT FROM s.name
                   OR a.parent_id IS DISTINCT FROM p.id OR NOT ST_Equals(a.geom, s.geom))),
               count(*) FILTER (WHERE a.id IS NOT NULL AND a.name = s.name AND a.parent_id IS NOT DISTINCT FROM p.id
                   AND ST_Equals(a.geom, s.geom))
        FROM stage_areas s LEFT JOIN admin_areas a ON a.code = s.code
        LEFT JOIN admin_areas p ON p.code = s.parent_code
    """)
    for level in AREA_LEVELS:  # parents first, so children find them
        session.execute(text("""
            INSERT INTO admin_areas (level, code, name, parent_id, geom)
            SELECT s.level, s.code, s.name, p.id, s.geom
            FROM stage_areas s LEFT JOIN admin_areas p ON p.code = NULLIF(s.parent_code, '')
            WHERE s.level = :level ORDER BY s.row
            ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, parent_id = EXCLUDED.parent_id,
                geom = EXCLUDED.geom
            WHERE admin_areas.name IS DISTINCT FROM EXCLUDED.name
               OR admin_areas.parent_id IS DISTINCT FROM EXCLUDED.parent_id
               OR NOT ST_Equals(admin_areas.geom, EXCLUDED.geom)
        """), {"level": level})


def _count_changes(session, report: ImportReport, sql: str) -> None:
    added, updated, unchanged = session.execute(text(sql)).one()
    report.added, report.updated, report.unchanged = added, updated, unchanged


def _import_grids(session, t: Table, parsed, errors: RowErrors, report: ImportReport, progress: bool) -> None:
    v = t.values
    communities = set(session.scalars(text("SELECT code FROM admin_areas WHERE level = 'community'")))
    current = dict(session.execute(text("""
        SELECT g.code, a.code FROM grids g JOIN admin_areas a ON a.id = g.community_id WHERE g.valid_to IS NULL
    """)).all())
    issued = set(session.scalars(text("SELECT code FROM grid_codes")))
    for i in range(t.n):
        code, comm = v["code"][i], v["community_code"][i]
        if not code or not comm:
            continue
        problem = code_problem("grid", code, comm)
        if problem:
            errors.add(i, problem)
        elif comm not in communities:
            errors.add(i, f"unknown community code {comm}: import the areas first")
        elif code in current and current[code] != comm:
            errors.add(i, f"grid {code} belongs to community {current[code]}; a grid cannot move to another community")
        elif code in issued and code not in current:
            errors.add(i, f"grid code {code} was issued before and retired; codes are never reused — pick a new one")
    if errors.items:
        errors.raise_if_any(t.path, "grids")
    frame = pd.DataFrame({"row": np.arange(t.n), "code": v["code"], "name": v["name"],
                          "community_code": v["community_code"], "kind": v["kind"],
                          "households": _ints(parsed, "households", None),
                          "population": _ints(parsed, "population", None), "geom": _geom_hex(t.geoms)})
    _stage(session, "stage_grids", "row int, code text, name text, community_code text, kind text, "
           "households int, population int, geom geometry(MultiPolygon, 4326)", frame)
    for row, code, comm, m2 in outside_parent(session, "stage_grids", "community_code"):
        errors.add(row, f"grid {code} extends {m2:,.1f} m² outside its community {comm}")
    for row, code, other_row, other, m2 in grid_overlaps(session, "stage_grids"):
        where = f"grid {other} on row {other_row + 1}" if other_row is not None else f"current grid {other}"
        errors.add(row, f"grid {code} overlaps {where} by {m2:,.1f} m²")
    errors.raise_if_any(t.path, "grids")
    hh = "households" in t.present
    pop = "population" in t.present
    classify = f"""
        SELECT s.*, g.id AS gid, g.version,
               (g.id IS NOT NULL AND NOT ST_Equals(g.geom, s.geom)) AS reshaped,
               (g.id IS NOT NULL AND (g.name IS DISTINCT FROM s.name OR g.kind IS DISTINCT FROM s.kind
                  OR ({'g.households IS DISTINCT FROM s.households' if hh else 'false'})
                  OR ({'g.population IS DISTINCT FROM s.population' if pop else 'false'}))) AS renamed
        FROM stage_grids s LEFT JOIN grids g ON g.code = s.code AND g.valid_to IS NULL
    """
    session.execute(text(f"CREATE TEMP TABLE plan_grids ON COMMIT DROP AS {classify}"))
    added, reshaped, renamed, same = session.execute(text("""
        SELECT count(*) FILTER (WHERE gid IS NULL), count(*) FILTER (WHERE reshaped),
               count(*) FILTER (WHERE renamed AND NOT reshaped),
               count(*) FILTER (WHERE gid IS NOT NULL AND NOT reshaped AND NOT renamed) FROM plan_grids
    """)).one()
    report.added, report.updated, report.unchanged, report.new_versions = added, reshaped + renamed, same, reshaped
    affected = set(session.scalars(text("SELECT gid FROM plan_grids WHERE reshaped")))
    # A new boundary closes the current version and opens the next, both at this instant.
    session.execute(text("UPDATE grids g SET valid_to = now() FROM plan_grids p WHERE p.reshaped AND g.id = p.gid"))
    new_ids = session.scalars(text("""
        INSERT INTO grids (code, name, kind, community_id, geom, households, population, valid_from, version)
        SELECT p.code, p.name, p.kind, a.id, p.geom,
               COALESCE(p.households, old.households, 0), COALESCE(p.population, old.population, 0),
               CASE WHEN p.reshaped THEN now() END, COALESCE(p.version + 1, 1)
        FROM plan_grids p JOIN admin_areas a ON a.code = p.community_code
        LEFT JOIN grids old ON old.id = p.gid
        WHERE p.gid IS NULL OR p.reshaped
        ORDER BY p.row
        RETURNING id
    """)).all()
    session.execute(text(f"""
        UPDATE grids g SET name = p.name, kind = p.kind
            {', households = COALESCE(p.households, g.households)' if hh else ''}
            {', population = COALESCE(p.population, g.population)' if pop else ''}
        FROM plan_grids p WHERE g.id = p.gid AND p.renamed AND NOT p.reshaped
    """))
    if affected or new_ids:
        from gis.spatial.buildings import assign_buildings

        assign_buildings(session, grid_ids=affected | set(new_ids))


def _import_buildings(session, t: Table, parsed, errors: RowErrors, report: ImportReport, progress: bool) -> None:
    errors.raise_if_any(t.path, "buildings")
    v = t.values
    frame = pd.DataFrame({"id": np.arange(t.n), "code": v["code"], "name": v["name"],
                          "floors": _ints(parsed, "floors", None), "households": _ints(parsed, "households", None),
                          "population": _ints(parsed, "population", None), "geom": _geom_hex(t.geoms)})
    bar = Progress("buildings", t.n, progress) if progress else None
    _stage(session, "stage_buildings", "id bigint, code text, name text, floors int, households int, "
           "population int, geom geometry(MultiPolygon, 4326)", frame, bar)
    if bar:
        bar.close()
    # The grid of every footprint in the file, by the rule of gis.spatial.buildings.
    session.execute(text(f"""
        CREATE TEMP TABLE plan_buildings ON COMMIT DROP AS
        SELECT s.*, m.grid_id, b.id AS bid,
               (b.id IS NOT NULL AND (NOT ST_Equals(b.geom, s.geom) OR b.name IS DISTINCT FROM NULLIF(s.name, '')
                   OR b.floors IS DISTINCT FROM COALESCE(s.floors, b.floors)
                   OR b.households IS DISTINCT FROM COALESCE(s.households, b.households)
                   OR b.population IS DISTINCT FROM COALESCE(s.population, b.population))) AS changed
        FROM stage_buildings s
        LEFT JOIN ({footprint_grids_sql('stage_buildings')}) m ON m.id = s.id
        LEFT JOIN buildings b ON b.code = s.code
    """))
    outside = list(session.scalars(text("SELECT id FROM plan_buildings WHERE grid_id IS NULL ORDER BY id")))
    if outside:
        many = len(outside) > 1
        report.warnings.append(f"{len(outside):,} building{'s lie' if many else ' lies'} outside every current "
                               f"grid and get{'' if many else 's'} no grid ({_where_rows(outside)})")
    _count_changes(session, report, """
        SELECT count(*) FILTER (WHERE bid IS NULL), count(*) FILTER (WHERE changed),
               count(*) FILTER (WHERE bid IS NOT NULL AND NOT changed) FROM plan_buildings
    """)
    session.execute(text("""
        UPDATE buildings b SET name = NULLIF(p.name, ''), geom = p.geom, floors = COALESCE(p.floors, b.floors),
            households = COALESCE(p.households, b.households), population = COALESCE(p.population, b.population),
            grid_id = p.grid_id
        FROM plan_buildings p WHERE b.id = p.bid AND p.changed
    """))
    session.execute(text("""
        INSERT INTO buildings (code, name, geom, floors, households, population, grid_id)
        SELECT code, NULLIF(name, ''), geom, floors, COALESCE(households, 0), COALESCE(population, 0), grid_id
        FROM plan_buildings WHERE bid IS NULL ORDER BY id
    """))


def _import_events(session, t: Table, parsed, errors: RowErrors, report: ImportReport, progress: bool) -> None:
    v = t.values
    cats = dict(session.execute(text("SELECT code, name FROM categories")).all())
    by_name = {name: code for code, name in cats.items()}
    unknown = ~pd.Series(v["category"]).isin(list(cats)).to_numpy() & (v["category"] != "")
    for i in np.flatnonzero(unknown):
        c = v["category"][i]
        hint = f"; its code is {by_name[c]}" if c in by_name else " (see the categories table, e.g. 11001 暴露垃圾)"
        errors.add(i, f"unknown category {c!r}{hint}")
    ids = parsed["id"]
    has_id = ~np.isnan(ids)
    known_ids: set[int] = set()
    if has_id.any():
        _check_duplicates(v["id"], "id", errors)
        known_ids = set(session.scalars(text("SELECT id FROM events WHERE id = ANY(:ids)"),
                                        {"ids": [int(x) for x in ids[has_id]]}))
    errors.raise_if_any(t.path, "events")
    update = has_id & np.isin(np.nan_to_num(ids).astype(np.int64), list(known_ids)) if known_ids else \
        np.zeros(t.n, dtype=bool)
    insert = ~update
    report.added, report.updated = int(insert.sum()), int(update.sum())
    lon, lat = t.lonlat
    sx, sy = t.source_xy if t.source_xy is not None else (lon, lat)
    occurred = parsed["occurred_at"]
    status = np.where(v["status"] == "", "reported", v["status"])
    if update.any():
        _update_events(session, np.flatnonzero(update), ids, v, status, occurred, lon, lat, report)
    idx = np.flatnonzero(insert)
    if not len(idx) or report.dry_run:  # every row is checked already: new events would all be added
        return
    bar = Progress("events", len(idx), progress) if progress else None
    # Rebuilding the indexes costs a pass over the whole table; growing them costs per new row.
    existing = session.execute(text("SELECT GREATEST(reltuples, 0) FROM pg_class WHERE oid = 'events'::regclass")
                               ).scalar() or 0
    bulk = len(idx) >= BULK_EVENT_ROWS and len(idx) >= 0.25 * existing
    sx, sy = np.asarray(sx, float), np.asarray(sy, float)

    def chunks(step: int = 100_000):
        for start in range(0, len(idx), step):
            j = idx[start:start + step]
            occ = enc_fixed(pg_micros(occurred[j]), ">i8")
            yield [enc_points(lon[j], lat[j]), enc_text(v["category"][j]), enc_text(v["title"][j]),
                   enc_text(v["description"][j]), enc_text(status[j]), occ, occ,
                   enc_text([t.source_crs] * len(j)), enc_fixed(sx[j], ">f8"), enc_fixed(sy[j], ">f8")]

    columns = ["geom", "category", "title", "description", "status", "occurred_at", "reported_at", "source_crs",
               "source_x", "source_y"]
    # New events go through a staging table: assigned there (gis.spatial.assign.insert_assigned), then
    # written to events once, grid and all.
    session.execute(text("CREATE TEMP TABLE stage_new_events (LIKE events INCLUDING DEFAULTS) ON COMMIT DROP"))
    copy_columns(session, "stage_new_events", columns, chunks(), progress=bar)
    if bar:
        bar.close()
    if bulk:
        # Big files: rebuild the secondary indexes and check the foreign keys once, not row by row.
        # Keys go back after the indexes, so their checks can use them.
        with deferred_foreign_keys(session, "events"), deferred_indexes(session, ["events"]):
            placed = insert_assigned(session, "stage_new_events", columns)
        report.notes.append("large file: the events table was locked, its indexes and foreign keys "
                            "rebuilt once after loading")
    else:
        placed = insert_assigned(session, "stage_new_events", columns)
    session.execute(text("DROP TABLE stage_new_events"))
    report.notes.append("assigned: " + ", ".join(f"{placed[k]:,} {k}" for k in ASSIGN_STATUSES if placed.get(k)))


def _update_events(session, idx, ids, v, status, occurred, lon, lat, report) -> None:
    frame = pd.DataFrame({"id": ids[idx].astype(np.int64), "category": v["category"][idx], "title": v["title"][idx],
                          "description": v["description"][idx], "status": status[idx],
                          "occurred_at": [f"{x}Z" for x in occurred[idx].astype("datetime64[us]").astype(str)],
                          "lon": lon[idx], "lat": lat[idx]})
    _stage(session, "stage_events", "id bigint, category text, title text, description text, status text, "
           "occurred_at timestamptz, lon float8, lat float8", frame)
    changed = session.execute(text("""
        UPDATE events e SET category = s.category, title = s.title, description = COALESCE(s.description, ''),
            status = s.status, occurred_at = s.occurred_at, geom = ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326),
            updated_at = now(),
            -- Moved or re-timed: the old assignment no longer holds (reassigned below).
            assign_status = CASE WHEN ST_Equals(e.geom, ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326))
                                  AND e.occurred_at = s.occurred_at THEN e.assign_status END
        FROM stage_events s
        WHERE e.id = s.id AND (e.category, e.title, e.description, e.status, e.occurred_at)
              IS DISTINCT FROM (s.category, s.title, COALESCE(s.description, ''), s.status, s.occurred_at)
           OR e.id = s.id AND NOT ST_Equals(e.geom, ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326))
    """)).rowcount
    report.unchanged = report.updated - changed
    report.updated = changed
    if changed:
        from gis.spatial.assign import assign_events

        assign_events(session, scope="unassigned")


def _import_cadres(session, t: Table, parsed, errors: RowErrors, report: ImportReport, progress: bool) -> None:
    v = t.values
    for i in np.flatnonzero(v["phone"] != ""):
        if not re.fullmatch(r"[0-9+\-() ]{3,32}", v["phone"][i]):
            errors.add(i, f"phone {v['phone'][i]!r} is not a phone number (digits, spaces, + - ( ))")
    errors.raise_if_any(t.path, "cadres")
    frame = pd.DataFrame({"row": np.arange(t.n), "code": v["code"], "name": v["name"], "type": v["type"],
                          "organisation": v["organisation"], "phone": v["phone"]})
    _stage(session, "stage_cadres", "row int, code text, name text, type text, organisation text, phone text", frame)
    org, phone = "organisation" in t.present, "phone" in t.present
    differs = ["c.name IS DISTINCT FROM s.name", "c.type IS DISTINCT FROM s.type"]
    if org:
        differs.append("c.organisation IS DISTINCT FROM NULLIF(s.organisation, '')")
    if phone:
        differs.append("c.phone IS DISTINCT FROM NULLIF(s.phone, '')")
    _count_changes(session, report, f"""
        SELECT count(*) FILTER (WHERE c.id IS NULL),
               count(*) FILTER (WHERE c.id IS NOT NULL AND ({' OR '.join(differs)})),
               count(*) FILTER (WHERE c.id IS NOT NULL AND NOT ({' OR '.join(differs)}))
        FROM stage_cadres s LEFT JOIN cadres c ON c.code = s.code
    """)
    session.execute(text(f"""
        INSERT INTO cadres (code, name, type, organisation, phone)
        SELECT code, name, type, NULLIF(organisation, ''), NULLIF(phone, '') FROM stage_cadres ORDER BY row
        ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, type = EXCLUDED.type
            {', organisation = EXCLUDED.organisation' if org else ''}{', phone = EXCLUDED.phone' if phone else ''}
    """))


def _import_contracts(session, t: Table, parsed, errors: RowErrors, report: ImportReport, progress: bool) -> None:
    v = t.values
    cadres = set(session.scalars(text("SELECT code FROM cadres")))
    codes = set(session.scalars(text("SELECT code FROM grid_codes")))
    has_geom = ~shapely.is_missing(t.geoms) & ~shapely.is_empty(t.geoms)
    today = np.datetime64(clock.today(session), "D")
    start = np.where(np.isnat(parsed["valid_from"]), today, parsed["valid_from"])
    end = parsed["valid_to"]
    for i in range(t.n):
        cadre, grid = v["cadre_code"][i], v["grid_code"][i]
        if cadre and cadre not in cadres:
            errors.add(i, f"unknown cadre code {cadre}: import the cadres first")
        if grid and has_geom[i]:
            errors.add(i, "give either a grid_code or a drawn polygon, not both")
        elif not grid and not has_geom[i]:
            errors.add(i, "needs a grid_code or a drawn polygon")
        elif grid and grid not in codes:
            errors.add(i, f"unknown grid code {grid}")
        if not np.isnat(end[i]) and end[i] <= start[i]:
            errors.add(i, f"valid_to {end[i]} must be after valid_from {start[i]}")
    errors.raise_if_any(t.path, "contracts")
    frame = pd.DataFrame({"row": np.arange(t.n), "cadre_code": v["cadre_code"], "grid_code": v["grid_code"],
                          "role": v["role"], "valid_from": start.astype(str),
                          "valid_to": np.where(np.isnat(end), "", end.astype(str)), "geom": _geom_hex(t.geoms)})
    _stage(session, "stage_contracts", "row int, cadre_code text, grid_code text, role text, valid_from date, "
           "valid_to date, geom geometry(MultiPolygon, 4326)", frame)
    # A contract is the same one when cadre, grid (or drawn area) and start date match.
    session.execute(text("""
        CREATE TEMP TABLE plan_contracts ON COMMIT DROP AS
        SELECT s.*, c.id AS cadre_id, k.id AS kid, k.role AS old_role, k.valid_to AS old_valid_to,
               (k.id IS NOT NULL AND (k.role, k.valid_to) IS DISTINCT FROM (s.role, s.valid_to)) AS changed
        FROM stage_contracts s JOIN cadres c ON c.code = s.cadre_code
        LEFT JOIN LATERAL (
            SELECT k.id, k.role, k.valid_to FROM contracts k
            WHERE k.cadre_id = c.id AND k.valid_from = s.valid_from
              AND (k.grid_code = NULLIF(s.grid_code, '') OR (s.geom IS NOT NULL AND k.geom IS NOT NULL
                   AND ST_Equals(k.geom, s.geom)))
            ORDER BY k.id LIMIT 1) k ON true
    """))
    # Issue 5: a cadre holds a grid at most once at a time (exclusion constraint on contracts);
    # overlapping rows, with each other or with stored contracts, are row errors, not a crash.
    clashes = session.execute(text("""
        SELECT p.row, 'cadre ' || p.cadre_code || ' already holds grid ' || p.grid_code || ' from '
               || k.valid_from || coalesce(' to ' || k.valid_to, '') || ' (contract ' || k.id || ')'
        FROM plan_contracts p JOIN contracts k ON k.cadre_id = p.cadre_id AND k.grid_code = p.grid_code
        WHERE k.id IS DISTINCT FROM p.kid
          AND daterange(p.valid_from, p.valid_to) && daterange(k.valid_from, k.valid_to)
        UNION ALL
        SELECT b.row, 'cadre ' || b.cadre_code || ' holds grid ' || b.grid_code
               || ' twice over overlapping dates (see row ' || (a.row + 1) || ')'
        FROM plan_contracts a JOIN plan_contracts b
          ON a.cadre_id = b.cadre_id AND a.grid_code = b.grid_code AND a.grid_code <> '' AND a.row < b.row
        WHERE daterange(a.valid_from, a.valid_to) && daterange(b.valid_from, b.valid_to)
    """)).all()
    for row, message in clashes:
        errors.add(row, message)
    errors.raise_if_any(t.path, "contracts")
    _count_changes(session, report, """
        SELECT count(*) FILTER (WHERE kid IS NULL), count(*) FILTER (WHERE changed),
               count(*) FILTER (WHERE kid IS NOT NULL AND NOT changed) FROM plan_contracts
    """)
    # Who holds what is accountable: every contract the import makes or changes gets an audit
    # entry, as contracts made through `gridgov contract` and the API do (gis/cadres/contracts.py).
    session.execute(text("""
        WITH changed AS (
            UPDATE contracts k SET role = p.role, valid_to = p.valid_to FROM plan_contracts p
            WHERE k.id = p.kid AND p.changed
            RETURNING k.id, p.old_role, p.old_valid_to, k.role, k.valid_to
        )
        INSERT INTO audit_log (action, entity, entity_id, before, after)
        SELECT 'contract.import', 'contract', id::text,
               jsonb_build_object('role', old_role, 'valid_to', old_valid_to),
               jsonb_build_object('role', role, 'valid_to', valid_to)
        FROM changed ORDER BY id
    """))
    session.execute(text("""
        WITH made AS (
            INSERT INTO contracts (cadre_id, grid_code, geom, role, valid_from, valid_to)
            SELECT cadre_id, NULLIF(grid_code, ''), geom, role, valid_from, valid_to FROM plan_contracts
            WHERE kid IS NULL ORDER BY row
            RETURNING id, cadre_id, grid_code, geom, role, valid_from, valid_to
        )
        INSERT INTO audit_log (action, entity, entity_id, after)
        SELECT 'contract.import', 'contract', id::text,
               jsonb_build_object('cadre_id', cadre_id, 'grid_code', grid_code, 'role', role,
                                  'geometry', ST_AsGeoJSON(geom)::jsonb, 'valid_from', valid_from,
                                  'valid_to', valid_to)
        FROM made ORDER BY id
    """))


# -- exporting -------------------------------------------------------------------------------
EXPORT_SQL = {
    "areas": """
        SELECT a.level, a.code, a.name, p.code AS parent_code, ST_AsBinary(a.geom) AS wkb
        FROM admin_areas a LEFT JOIN admin_areas p ON p.id = a.parent_id
        ORDER BY array_position(ARRAY['district', 'street', 'community'], a.level::text), a.code
    """,
    "grids": """
        SELECT g.code, g.name, a.code AS community_code, g.kind, g.households, g.population,
               round(g.area_m2::numeric, 1)::float8 AS area_m2, ST_AsBinary(g.geom) AS wkb
        FROM grids g JOIN admin_areas a ON a.id = g.community_id WHERE g.valid_to IS NULL ORDER BY g.code
    """,
    "buildings": """
        SELECT b.code, b.name, b.floors, b.households, b.population, g.code AS grid_code, ST_AsBinary(b.geom) AS wkb
        FROM buildings b LEFT JOIN grids g ON g.id = b.grid_id ORDER BY b.id
    """,
    "events": """
        SELECT e.id, e.category, e.title, e.description,
               e.occurred_at,
               e.status, ST_X(e.geom) AS lon, ST_Y(e.geom) AS lat
        FROM events e ORDER BY e.id
    """,
    "cadres": "SELECT code, name, type, organisation, phone FROM cadres ORDER BY code",
    "contracts": """
        SELECT c.code AS cadre_code, k.grid_code, k.role, k.valid_from::text AS valid_from,
               k.valid_to::text AS valid_to, ST_AsBinary(k.geom) AS wkb
        FROM contracts k JOIN cadres c ON c.id = k.cadre_id ORDER BY c.code, k.grid_code, k.valid_from, k.id
    """,
}


def export_layer(session: Session, layer_name: str, path: str | Path) -> ExportReport:
    """Write a layer to GeoJSON, GeoPackage, Shapefile (.shp or zipped .zip), FlatGeobuf or CSV by extension."""
    if layer_name not in LAYERS:
        raise InvalidInput("Unknown layer", f"Layer must be one of: {', '.join(LAYERS)}.")
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (*OGR_SUFFIXES, ".csv", ".zip"):
        raise InvalidInput("Unknown file type", f"{p}: export writes .geojson, .gpkg, .shp, .zip (zipped "
                           "Shapefile), .fgb or .csv.")
    if not p.parent.exists():
        raise InvalidInput("No such folder", f"{p.parent} does not exist.")
    frame = pd.read_sql_query(text(EXPORT_SQL[layer_name]), session.connection())
    report = ExportReport(layer_name, str(p), len(frame))
    for col in ("households", "population", "floors"):
        if col in frame:
            frame[col] = frame[col].astype("Int64")
    if "occurred_at" in frame:
        # As a person reads it and an import takes it back: local time with the district's offset.
        tz = clock.zone_of(session)
        frame["occurred_at"] = [clock.iso(pd.Timestamp(v).to_pydatetime(), tz) if not pd.isna(v) else "" for v in frame["occurred_at"]]
    if layer_name == "events":
        geoms = shapely.points(frame.pop("lon").to_numpy(float), frame.pop("lat").to_numpy(float))
        if suffix == ".csv":
            frame["lon"], frame["lat"] = shapely.get_x(geoms), shapely.get_y(geoms)
            geoms = None
    elif "wkb" in frame:
        raw = frame.pop("wkb").to_numpy(dtype=object)
        geoms = shapely.from_wkb(np.array([bytes(w) if w is not None else None for w in raw], dtype=object))
    else:
        geoms = None
    if suffix == ".csv":
        if geoms is not None:
            frame["wkt"] = np.where(shapely.is_missing(geoms), "",
                                    shapely.to_wkt(geoms, rounding_precision=-1, trim=True).astype(object))
        frame.to_csv(p, index=False, encoding="utf-8", float_format=None)
        return report
    _write_ogr(frame, geoms, p, suffix, layer_name, report)
    return report


def _write_ogr(frame: pd.DataFrame, geoms, p: Path, suffix: str, layer_name: str, report: ExportReport) -> None:
    import tempfile

    import geopandas as gpd
    import pyogrio

    gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms if geoms is not None else [None] * len(frame),
                                                             crs="EPSG:4326"))
    if suffix == ".zip":
        with tempfile.TemporaryDirectory() as tmp:
            shp = Path(tmp) / f"{layer_name}.shp"
            _write_ogr(frame, geoms, shp, ".shp", layer_name, report)
            with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:
                for f in sorted(Path(tmp).iterdir()):
                    z.write(f, f.name)
        return
    kw: dict = {}
    if suffix == ".shp":
        kw["encoding"] = "UTF-8"
        long = [c for c in frame.columns if len(c) > 10]
        if long:
            report.notes.append(f"Shapefile field names are cut to 10 characters ({', '.join(long)}); import "
                                "reads them back")
        if geoms is None or shapely.is_missing(np.asarray(geoms, dtype=object)).all():
            gdf = gdf.drop(columns="geometry")
            gdf = pd.DataFrame(gdf)
    if p.exists():
        p.unlink()
    import warnings

    warnings.filterwarnings("ignore", message="Normalized/laundered field name", category=RuntimeWarning)
    if isinstance(gdf, gpd.GeoDataFrame):
        if layer_name in ("areas", "grids", "buildings", "contracts"):
            kw["geometry_type"] = "MultiPolygon"
        if suffix in (".geojson", ".json"):
            kw["layer_options"] = {"SIGNIFICANT_FIGURES": 17}  # shortest text that reads back bit for bit
        pyogrio.write_dataframe(gdf, p, driver=OGR_SUFFIXES[suffix], layer=layer_name, **kw)
    else:
        pyogrio.write_dataframe(gdf, p.with_suffix(".dbf"), driver="ESRI Shapefile", layer=layer_name, **kw)
        report.notes.append(f"no geometry: wrote the table alone to {p.with_suffix('.dbf')}")
        report.path = str(p.with_suffix(".dbf"))
