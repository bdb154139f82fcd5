"""Contracts (包片): a cadre's responsibility for whole grids or a drawn polygon over a period.

The phases, one module each: rules (the rules in one place: dates, today, cadre types, polygons) →
rows (a row parsed, then checked against the database with all the others, over a staging table) →
queries (reading contracts and cadres) · writes (one contract: create, change, end, withdraw) ·
importing (the one importer of many rows, append or sync). Reading contract files lives in data.io.
"""
from gis.cadres.contracts.importing import (
    ContractImport,
    ImportReport,
    import_contracts,
    plan_import,
    rows_from_csv,
    rows_from_geojson,
)
from gis.cadres.contracts.queries import (
    cadre_by_code,
    contract_by_id,
    contract_etag,
    contract_to_dict,
    list_cadres,
    list_contracts,
)
from gis.cadres.contracts.rows import ContractRow, check_rows, parse_row
from gis.cadres.contracts.rules import (
    CSV_COLUMNS,
    IN_FORCE_SQL,
    MAX_ERRORS,
    ROLE_MAX,
    check_cadre_type,
    in_force,
    parse_date,
    polygon_from_geojson,
    today,
)
from gis.cadres.contracts.writes import (
    CHANGEABLE,
    change_contract,
    create_contract,
    end_contract,
    withdraw_contract,
)

__all__ = ["CHANGEABLE", "CSV_COLUMNS", "IN_FORCE_SQL", "MAX_ERRORS", "ROLE_MAX", "ContractImport", "ContractRow",
           "ImportReport", "cadre_by_code", "change_contract", "check_cadre_type", "check_rows", "contract_by_id",
           "contract_etag", "contract_to_dict", "create_contract", "end_contract", "import_contracts", "in_force",
           "list_cadres", "list_contracts", "parse_date", "parse_row", "plan_import", "polygon_from_geojson",
           "rows_from_csv", "rows_from_geojson", "today", "withdraw_contract"]
