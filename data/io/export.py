"""Writing a layer to GeoJSON, GeoPackage, Shapefile (.shp or zipped), FlatGeobuf or CSV, by extension."""
from __future__ import annotations

import tempfile
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from data.io.layers import LAYERS
from data.io.read import OGR_SUFFIXES
from gis.core import audit, clock, dated
from gis.core.errors import InvalidInput


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


# What each layer exports: the same field names its import reads.
EXPORT_SQL = {
    "areas": """
        SELECT a.level, a.code, a.name, p.code AS parent_code, ST_AsBinary(a.geom) AS wkb
        FROM admin_areas a LEFT JOIN admin_areas p ON p.id = a.parent_id
        ORDER BY array_position(ARRAY['district', 'street', 'community'], a.level::text), a.code
    """,
    "grids": f"""
        SELECT g.code, g.name, a.code AS community_code, g.kind, g.households, g.population,
               round(g.area_m2::numeric, 1)::float8 AS area_m2, ST_AsBinary(g.geom) AS wkb
        FROM grids g JOIN admin_areas a ON a.id = g.community_id WHERE {dated.current('g')} ORDER BY g.code
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
    # Recorded in the caller's transaction: the row stays only when the caller commits.
    audit.record(session, "export", layer_name, p.name,
                 after={"path": str(p.resolve()), "format": suffix.lstrip("."), "rows": report.rows})
    for col in ("households", "population", "floors"):
        if col in frame:
            frame[col] = frame[col].astype("Int64")
    if "occurred_at" in frame:
        # As a person reads it and an import takes it back: local time with the district's offset.
        tz = clock.zone_of(session)
        frame["occurred_at"] = [clock.iso(pd.Timestamp(v).to_pydatetime(), tz) if not pd.isna(v) else ""
                                for v in frame["occurred_at"]]
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
