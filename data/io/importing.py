"""import_file: read a layer file, check every row, then write it with that layer's importer, all or nothing.

How an import runs. The file is read whole (pyogrio for GeoJSON, GeoPackage, Shapefile, zipped Shapefile
and FlatGeobuf; pandas for CSV), reprojected to WGS84, and every row is checked before anything is
written: required fields, types, choices, codes against the hierarchy, duplicates, geometry type, range
and validity (with GEOS's reason), then the database-side rules (parents exist, grids inside their
community and not overlapping). All problems are reported together by row number. Only a clean file is
written, inside the caller's transaction, so a failure anywhere leaves the database as it was. Rows whose
key (code) exists are updated, others added; a grid whose boundary changes gets a new dated version.
`dry_run` runs everything, reports what would change and rolls nothing in.
"""
from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy.orm import Session

from data.io.check import RowErrors, check_duplicates, check_fields, check_geometries
from data.io.import_areas import import_areas
from data.io.import_buildings import import_buildings
from data.io.import_cadres import import_cadres
from data.io.import_contracts import import_contracts
from data.io.import_events import import_events
from data.io.import_grids import import_grids
from data.io.layers import LAYERS
from data.io.read import read_table
from data.io.staging import PROGRESS_ROWS, ImportReport
from gis.core import audit, clock
from gis.core.errors import InvalidInput


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
    parsed = check_fields(layer, t, errors, clock.zone_of(session))
    if layer.key and layer.name != "events":
        check_duplicates(t.values[layer.key], layer.key, errors)
    check_geometries(layer, t, errors, session)
    report = ImportReport(layer.name, str(path), t.n, dry_run=dry_run, notes=list(t.notes))
    apply = {"areas": import_areas, "grids": import_grids, "buildings": import_buildings,
             "events": import_events, "cadres": import_cadres, "contracts": import_contracts}[layer.name]
    show = progress and t.n > PROGRESS_ROWS
    try:
        apply(session, t, parsed, errors, report, show)
        if dry_run:
            session.rollback()
        else:
            audit.record(session, "import", layer.name, Path(path).name,
                         after={"path": str(path), "rows": t.n, "added": report.added, "updated": report.updated,
                                "unchanged": report.unchanged, "new_versions": report.new_versions})
            session.flush()
    except BaseException:
        session.rollback()
        raise
    report.seconds = time.perf_counter() - started
    return report
