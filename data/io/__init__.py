"""Import and export of the district's layers: common GIS files in, checked row by row, all or nothing.

The phases, one module each: layers (what each layer file holds) → read (files → tables in WGS84) →
check (fields, geometry, the database-side rules) → importing (import_file, with one import_<layer>
module per layer over the shared staging; contracts go on to gis.cadres.contracts' one importer) — and
export (tables → files). read_contracts reads contract files for `gridgov contract`. data.bulk is the
COPY and index machinery the importers and the demo loader share.
"""
from data.io.check import MAX_ERRORS, RowErrors, parse_datetimes
from data.io.export import EXPORT_SQL, ExportReport, export_layer
from data.io.import_events import BULK_EVENT_ROWS
from data.io.importing import import_file
from data.io.layers import LAYERS, Field, Layer
from data.io.read import OGR_SUFFIXES, Table, parse_crs, read_table
from data.io.read_contracts import read_contract_file
from data.io.staging import PROGRESS_ROWS, ImportReport

__all__ = ["BULK_EVENT_ROWS", "EXPORT_SQL", "LAYERS", "MAX_ERRORS", "OGR_SUFFIXES", "PROGRESS_ROWS", "ExportReport",
           "Field", "ImportReport", "Layer", "RowErrors", "Table", "export_layer", "import_file", "parse_crs",
           "parse_datetimes", "read_contract_file", "read_table"]
