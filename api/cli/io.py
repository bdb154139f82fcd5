"""`gridgov import LAYER FILE` and `gridgov export LAYER FILE`: layers in and out of the database as files."""
from __future__ import annotations

import click

from api.cli.common import engine
from api.cli.schema import require_schema
from data import LAYER_NAMES
from data.io import export_layer as export
from data.io import import_file
from data.io.basemap import BASEMAP_NAMES, import_basemap
from data.io.staging import PROGRESS_ROWS
from gis.core.db import session_factory
from webmap.catalog import say


def import_lines(report) -> str:
    """An ImportReport as the command line says it (the report's own summary() is the English form)."""
    rate = (say("cli.io.rate", n=f"{report.rows / report.seconds:,.0f}")
            if report.seconds > 0 and report.rows >= PROGRESS_ROWS else "")
    versions = say("cli.io.versions", n=f"{report.new_versions:,}") if report.new_versions else ""
    head = say("cli.io.would_import" if report.dry_run else "cli.io.imported", layer=report.layer, path=report.path,
               rows=f"{report.rows:,}", added=f"{report.added:,}", updated=f"{report.updated:,}",
               unchanged=f"{report.unchanged:,}", versions=versions, seconds=f"{report.seconds:.1f}", rate=rate)
    lines = [head] + [say("cli.io.note", text=n) for n in report.notes]
    lines += [say("cli.io.warning", text=w) for w in report.warnings]
    return "\n".join(lines + ([say("cli.io.dry_run")] if report.dry_run else []))


@click.command("import")
@click.argument("layer", type=click.Choice(LAYER_NAMES + BASEMAP_NAMES))
@click.argument("file")
@click.option("--crs", help="CRS of the coordinates when the file names none (or a wrong one): "
                            "wgs84, cgcs2000, EPSG:n, gcj02 (AMap, Tencent), bd09 (Baidu)")
@click.option("--dry-run", is_flag=True, help="check everything and say what would change; write nothing")
def import_layer(layer: str, file: str, crs: str | None, dry_run: bool) -> None:
    """Import a layer FILE (GeoJSON, GeoPackage, Shapefile, zip, FlatGeobuf, CSV, OSM): all rows or none."""
    bind = engine()
    require_schema(bind)
    with session_factory(bind)() as session:
        if layer in BASEMAP_NAMES:
            reports = import_basemap(session, layer, file, crs=crs, dry_run=dry_run)
        else:
            reports = [import_file(session, layer, file, crs=crs, dry_run=dry_run, progress=True)]
        if not dry_run:
            session.commit()
    click.echo("\n".join(import_lines(report) for report in reports))


@click.command("export")
@click.argument("layer", type=click.Choice(LAYER_NAMES))
@click.argument("file")
def export_layer(layer: str, file: str) -> None:
    """Export a layer to FILE: .geojson, .gpkg, .shp, .zip (zipped Shapefile), .fgb or .csv."""
    with session_factory(engine())() as session:
        report = export(session, layer, file)
        session.commit()  # the export's audit row
    click.echo("\n".join([say("cli.io.exported", rows=f"{report.rows:,}", layer=report.layer, path=report.path)]
                         + [say("cli.io.note", text=n) for n in report.notes]))
