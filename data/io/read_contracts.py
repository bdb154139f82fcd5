"""Contract files for `gridgov contract add|import`: a CSV by its columns, or drawn polygons from any
vector file GDAL reads, as rows for gis.cadres.contracts (which checks and imports them)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio

from gis.cadres.contracts import rows_from_csv
from gis.core.errors import InvalidInput


def read_contract_file(path: str | Path) -> list[dict]:
    """Rows from a contracts file: CSV by columns, or any OGR vector file (GeoJSON, GeoPackage,
    Shapefile, FlatGeobuf) of drawn polygons, reprojected from the file's CRS to WGS84."""
    path = Path(path)
    if not path.exists():
        raise InvalidInput("No such file", f"{path} does not exist.")
    if path.suffix.lower() == ".csv":
        return rows_from_csv(path.read_bytes())
    try:
        frame = gpd.read_file(path, engine="pyogrio")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, ValueError) as exc:
        raise InvalidInput("Cannot read file", f"{path.name}: {exc}") from None
    if frame.crs is not None and frame.crs.to_epsg() not in (4326, 4490):
        frame = frame.to_crs(4326)
    rows = []
    for i, (_, record) in enumerate(frame.iterrows(), start=1):
        row = {k: (None if _is_missing(v) else v) for k, v in record.items() if k != "geometry"}
        for name in ("valid_from", "valid_to"):
            if hasattr(row.get(name), "date"):
                row[name] = row[name].date()
        if not row.get("grid_code") and record.geometry is not None:
            row["geometry"] = record.geometry
        row["_row"] = f"feature {i}"
        rows.append(row)
    return rows


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
