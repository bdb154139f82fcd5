"""Importing the basemap: roads, water and place names from any file pyogrio reads, or an OSM extract.

A basemap import replaces the layer's rows, all or nothing: every row of a file is checked (its class
or kind among ours, its geometry the right shape, valid and in range) and only a clean file is
written, in the caller's transaction. An OpenStreetMap extract (.osm.pbf) is read through GDAL's OSM
driver; its tags are mapped to our classes (data.io.osm), features we do not draw are left out and
broken multipolygons (common in OSM) are repaired by GEOS's make_valid rather than refused.
"""
from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError
from sqlalchemy import text
from sqlalchemy.orm import Session

from data.bulk import copy_frame, ewkb_hex
from data.io.check import RowErrors, coordinate_problems
from data.io.osm import OSM_LAYERS, classes, is_osm
from data.io.read import parse_crs
from data.io.staging import ImportReport, stage
from gis.core import audit
from gis.core.errors import InvalidInput
from gis.core.models import PLACE_KINDS, ROAD_CLASSES, WATER_KINDS

# layer → (table, class column, its values, allowed GEOS type ids, what they are called)
BASEMAP = {
    "roads": ("base_roads", "class", ROAD_CLASSES, (1, 5), "LineString or MultiLineString"),
    "water": ("base_water", "kind", WATER_KINDS, (1, 3, 5, 6), "Polygon, MultiPolygon, LineString or MultiLineString"),
    "places": ("base_places", "kind", PLACE_KINDS, (0,), "Point"),
}
BASEMAP_NAMES = (*BASEMAP, "basemap")  # "basemap": all three from one OSM extract
WATER_LINE_WIDTH_M = {"river": 20, "canal": 10, "lake": 10, "sea": 10}  # how wide a line of water is drawn


def import_basemap(session: Session, layer: str, path: str | Path, *, crs: str | None = None,
                   dry_run: bool = False) -> list[ImportReport]:
    """Replace the basemap layer(s) from `path`, all or nothing, in the session's transaction (the caller commits)."""
    p = Path(path)
    if not p.exists():
        raise InvalidInput("File not found", f"{p} does not exist.")
    names = list(BASEMAP) if layer == "basemap" else [layer]
    if layer == "basemap" and not is_osm(p):
        raise InvalidInput("Not an OpenStreetMap extract",
                           f"{p}: `basemap` reads all three layers from an .osm.pbf; import a GIS file as "
                           "roads, water or places.")
    reports = []
    try:
        for name in names:
            started = time.perf_counter()
            frame, notes = _read_osm(p, name) if is_osm(p) else _read_file(p, name, crs)
            report = ImportReport(name, str(p), len(frame), dry_run=dry_run, notes=notes)
            replaced = _replace(session, name, frame)
            report.added = len(frame)
            report.notes.append(f"a basemap import replaces the layer: {replaced:,} earlier rows removed")
            audit.record(session, "import", name, p.name, after={"path": str(p), "rows": len(frame),
                                                                 "replaced": replaced})
            report.seconds = time.perf_counter() - started
            reports.append(report)
        if dry_run:
            session.rollback()
        else:
            session.flush()
    except BaseException:
        session.rollback()
        raise
    return reports


def _read(p: Path, osm_layer: str | None = None):
    try:
        if osm_layer is None:
            return pyogrio.read_dataframe(p)
        # OSM extracts hold broken rings and unclosed ways GDAL warns about: they are read as no
        # geometry (on_invalid) and left out, as the note of _read_osm says.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return pyogrio.read_dataframe(p, layer=osm_layer, on_invalid="ignore")
    except (DataSourceError, DataLayerError, OSError, ValueError) as exc:
        raise InvalidInput("Cannot read file", f"{p}: {exc}. The basemap reads GeoJSON, GeoPackage, Shapefile, "
                           "FlatGeobuf and OpenStreetMap extracts (.osm.pbf).") from exc


def _read_file(p: Path, layer: str, crs: str | None) -> tuple[pd.DataFrame, list[str]]:
    """A GIS file's rows checked one by one: every problem is raised together, nothing is written then."""
    _table, column, choices, types, wanted = BASEMAP[layer]
    gdf = _read(p)
    notes = []
    given = parse_crs(crs)
    if isinstance(given, str):
        raise InvalidInput("Unknown CRS", f"{crs}: basemap files must be in a projection pyproj knows.")
    if given is not None:
        gdf = gdf.set_crs(given, allow_override=True)
    elif gdf.crs is None:
        notes.append("the file names no CRS: coordinates read as WGS84 (use --crs for others)")
        gdf = gdf.set_crs("EPSG:4326")
    if gdf.crs.to_epsg() not in (4326, 4490):
        notes.append(f"reprojected from {gdf.crs.name[:40]} to WGS84")
        gdf = gdf.to_crs("EPSG:4326")
    cols = {str(c).strip().lower(): c for c in gdf.columns}
    if not len(gdf):
        raise InvalidInput("No rows", f"{p} holds no features: nothing to import.")
    errors = RowErrors()
    kinds = gdf[cols[column]].to_numpy(dtype=object) if column in cols else np.full(len(gdf), None, dtype=object)
    names = gdf[cols["name"]].to_numpy(dtype=object) if "name" in cols else np.full(len(gdf), None, dtype=object)
    for i, (kind, name) in enumerate(zip(kinds, names, strict=True)):
        if not isinstance(kind, str) or kind.strip() not in choices:
            errors.add(i, f"{column} is {kind!r}; it must be one of {', '.join(choices)}")
        if layer == "places" and not (isinstance(name, str) and name.strip()):
            errors.add(i, "a place needs a name")
    geoms = shapely.force_2d(np.asarray(gdf.geometry.values, dtype=object))
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    type_ids = shapely.get_type_id(geoms)
    for i in np.flatnonzero(missing):
        errors.add(i, f"has no geometry (needs a {wanted})")
    for i in np.flatnonzero(~missing & ~np.isin(type_ids, types)):
        errors.add(i, f"geometry is a {geoms[i].geom_type}; it must be a {wanted}")
    ok = np.flatnonzero(~missing & np.isin(type_ids, types))
    errors.extend({int(ok[j]): m for j, m in coordinate_problems(shapely.bounds(geoms[ok])).items()})
    for i in ok[~shapely.is_valid(geoms[ok])]:
        errors.add(i, f"invalid geometry: {shapely.is_valid_reason(geoms[i])}")
    errors.raise_if_any(str(p), layer)
    clean = [k.strip() for k in kinds]
    return _frame(clean, names, geoms), notes


def _read_osm(p: Path, layer: str) -> tuple[pd.DataFrame, list[str]]:
    """The features of an OSM extract that belong on the basemap layer, with our classes."""
    parts, notes = [], []
    for osm_layer in OSM_LAYERS[layer]:
        gdf = _read(p, osm_layer)
        kinds = classes(layer, osm_layer, gdf)
        keep = np.array([k is not None for k in kinds], dtype=bool)
        unreadable = keep & (shapely.is_missing(gdf.geometry.values) | shapely.is_empty(gdf.geometry.values))
        if unreadable.any():
            notes.append(f"{int(unreadable.sum()):,} {osm_layer} with broken geometry left out")
        keep &= ~unreadable
        names = gdf["name"].to_numpy(dtype=object) if "name" in gdf.columns else np.full(len(gdf), None)
        if layer == "places":
            keep &= np.array([isinstance(n, str) and bool(n.strip()) for n in names], dtype=bool)
        geoms = shapely.force_2d(np.asarray(gdf.geometry.values, dtype=object))[keep]
        bad = ~shapely.is_valid(geoms)
        if bad.any():
            geoms[bad] = shapely.make_valid(geoms[bad])
            notes.append(f"{int(bad.sum()):,} broken {osm_layer} repaired (make_valid)")
        parts.append(_frame(list(kinds[keep]), names[keep], geoms))
    frame = pd.concat(parts, ignore_index=True)
    # make_valid may leave collections: keep their parts of the layer's shape, drop what has none.
    frame = frame[frame["geom"] != ""].reset_index(drop=True)
    notes.append(f"{len(frame):,} {layer} from the OpenStreetMap extract")
    return frame, notes


def _frame(kinds, names, geoms: np.ndarray) -> pd.DataFrame:
    """Rows ready to COPY: class, name ('' for none) and the geometry as the table's type (hex EWKB)."""
    out = np.full(len(geoms), "", dtype=object)
    for i, g in enumerate(geoms):
        g = _shape(g)
        if g is not None and not g.is_empty and g.is_valid:
            out[i] = g
    present = np.array([not isinstance(g, str) for g in out], dtype=bool)
    if present.any():
        out[present] = ewkb_hex(out[present])
    text_names = ["" if not isinstance(n, str) else n.strip() for n in names]
    return pd.DataFrame({"kind": list(kinds), "name": text_names, "geom": out})


def _shape(g):
    """Lines as MultiLineString, areas as MultiPolygon, points as they are; collections keep their main shape."""
    kind = shapely.get_type_id(g)
    if kind in (0, 5, 6):
        return g
    if kind == 1:
        return shapely.MultiLineString([g])
    if kind == 3:
        return shapely.MultiPolygon([g])
    if kind == 7:
        polys = [q for q in shapely.get_parts(g) if shapely.get_type_id(q) in (3, 6)]
        lines = [q for q in shapely.get_parts(g) if shapely.get_type_id(q) in (1, 5)]
        if polys:
            return shapely.MultiPolygon([x for q in polys for x in shapely.get_parts(q)])
        if lines:
            return shapely.MultiLineString([x for q in lines for x in shapely.get_parts(q)])
    return None


def _replace(session: Session, layer: str, frame: pd.DataFrame) -> int:
    """Empty the layer's table and COPY the frame in; returns how many rows it held before."""
    table, column, *_ = BASEMAP[layer]
    before = session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    session.execute(text(f"DELETE FROM {table}"))
    if layer != "water":
        copy_frame(session, table, frame.rename(columns={"kind": column}))  # '' names go in as NULL
        return before
    # Water is drawn as areas: a river or canal given as a line becomes a band its usual width wide.
    stage(session, "stage_base_water", "kind text, name text, geom geometry(Geometry, 4326)", frame)
    widths = " ".join(f"WHEN '{kind}' THEN {w}" for kind, w in WATER_LINE_WIDTH_M.items())
    session.execute(text(f"""
        INSERT INTO base_water (kind, name, geom)
        SELECT kind, name, geom FROM (
            SELECT kind, name, CASE WHEN ST_Dimension(geom) = 2 THEN geom ELSE ST_Multi(ST_CollectionExtract(
                ST_MakeValid(ST_Buffer(geom::geography, (CASE kind {widths} ELSE 10 END) / 2.0)::geometry),
                3)) END AS geom
            FROM stage_base_water) w
        WHERE NOT ST_IsEmpty(geom)
    """))
    return before
