"""`gridgov import LAYER FILE` and `gridgov export LAYER FILE`: layers in and out of the database as files."""
from __future__ import annotations

import click

from api.cli.common import engine
from api.cli.schema import require_schema
from data import LAYER_NAMES
from data.io import export_layer as export
from data.io import import_file
from gis.core.db import session_factory


@click.command("import")
@click.argument("layer", type=click.Choice(LAYER_NAMES))
@click.argument("file")
@click.option("--crs", help="CRS of the coordinates when the file names none (or a wrong one): "
                            "wgs84, cgcs2000, EPSG:n, gcj02 (AMap, Tencent), bd09 (Baidu)")
@click.option("--dry-run", is_flag=True, help="check everything and say what would change; write nothing")
def import_layer(layer: str, file: str, crs: str | None, dry_run: bool) -> None:
    """Import a layer FILE (GeoJSON, GeoPackage, Shapefile, zip, FlatGeobuf, CSV): all rows or none."""
    bind = engine()
    require_schema(bind)
    with session_factory(bind)() as session:
        report = import_file(session, layer, file, crs=crs, dry_run=dry_run, progress=True)
        if not dry_run:
            session.commit()
    click.echo(report.summary())


@click.command("export")
@click.argument("layer", type=click.Choice(LAYER_NAMES))
@click.argument("file")
def export_layer(layer: str, file: str) -> None:
    """Export a layer to FILE: .geojson, .gpkg, .shp, .zip (zipped Shapefile), .fgb or .csv."""
    with session_factory(engine())() as session:
        report = export(session, layer, file)
        session.commit()  # the export's audit row
    click.echo(report.summary())
