"""Reading layer files into tables: CSV (lon/lat or WKT columns) or any vector format pyogrio reads,
reprojected to WGS84; and contracts files into rows for gis.cadres.contracts."""
from __future__ import annotations

import csv
import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from data.io.layers import Layer
from gis.core.errors import InvalidInput
from gis.spatial.crs import BD09_NAMES, GCJ02_NAMES, bd09_to_wgs84, gcj02_to_wgs84

# pandas < 3 parses floats fast but up to one ulp off unless asked; pandas 3 is exact and deprecates asking.
EXACT_FLOATS = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}
LON_NAMES = ("lon", "lng", "long", "longitude", "x")
LAT_NAMES = ("lat", "latitude", "y")
WKT_NAMES = ("wkt", "geometry", "geom", "the_geom", "shape")
OGR_SUFFIXES = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG", ".shp": "ESRI Shapefile",
                ".fgb": "FlatGeobuf"}


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
        invert = gcj02_to_wgs84 if given == "gcj02" else bd09_to_wgs84
        x, y = np.asarray(x, float), np.asarray(y, float)
        lon, lat = np.full(x.shape, np.nan), np.full(y.shape, np.nan)
        for i in np.flatnonzero((np.abs(x) <= 180) & (np.abs(y) <= 90)):  # NaN fails too
            lon[i], lat[i] = invert(float(x[i]), float(y[i]))
        return lon, lat

    lon, lat = Transformer.from_crs(given, "EPSG:4326", always_xy=True).transform(x, y)
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    bad = ~(np.isfinite(lon) & np.isfinite(lat))
    lon[bad], lat[bad] = np.nan, np.nan
    return lon, lat


def _read_ogr(p: Path, layer: Layer, given) -> Table:
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
