"""Importing many contracts at once: rows from a CSV or GeoJSON body, all checked, then all written or none."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from geoalchemy2.shape import from_shape
from shapely.geometry import mapping
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gis.cadres.contracts.rows import ContractRow, check_rows, parse_row
from gis.cadres.contracts.rules import CSV_COLUMNS, MAX_ERRORS, today
from gis.cadres.contracts.writes import raise_overlap
from gis.core.errors import InvalidInput
from gis.core.models import SRID, AuditEntry, Contract


@dataclass
class ImportReport:
    """What an import did (or, with dry_run, would do)."""

    rows: int
    created: int
    dry_run: bool
    ids: list[int]

    def to_dict(self) -> dict:
        """JSON-ready values."""
        return {"rows": self.rows, "created": self.created, "dry_run": self.dry_run, "ids": self.ids}


def import_contracts(session: Session, rows: Iterable[Mapping[str, Any]], *, user_id: int | None = None,
                     dry_run: bool = False) -> ImportReport:
    """Check every row (CSV columns, or a polygon `geometry`), then write them all or none.

    Each row may carry `_row`, the label its errors are reported under (e.g. "line 7")."""
    day = today(session)
    parsed = [parse_row(raw, str(raw.get("_row") or f"row {i}"), day) for i, raw in enumerate(rows, start=1)]
    if not parsed:
        raise InvalidInput("Empty import", "The file has no contract rows.")
    check_rows(session, parsed)
    _errors_or_raise(parsed, "Contracts not imported")
    if dry_run:
        return ImportReport(rows=len(parsed), created=0, dry_run=True, ids=[])
    values = [{"cadre_id": r.cadre_id, "grid_code": r.grid_code, "role": r.role,
               "geom": from_shape(r.geom, srid=SRID) if r.geom is not None else None,
               "valid_from": r.valid_from, "valid_to": r.valid_to} for r in parsed]
    try:
        ids = list(session.scalars(insert(Contract).returning(Contract.id, sort_by_parameter_order=True),
                                   values))
    except IntegrityError as exc:
        raise_overlap(session, exc, "Contracts not imported",
                       "Another change added an overlapping contract meanwhile; nothing was imported. "
                       "Run the import again.")
    session.execute(insert(AuditEntry), [
        {"user_id": user_id, "action": "contract.import", "entity": "contract", "entity_id": str(i),
         "after": {"cadre_id": v["cadre_id"], "grid_code": v["grid_code"], "role": v["role"],
                   "geometry": mapping(r.geom) if r.geom is not None else None,
                   "valid_from": str(v["valid_from"]),
                   "valid_to": str(v["valid_to"]) if v["valid_to"] else None}}
        for i, v, r in zip(ids, values, parsed)])
    return ImportReport(rows=len(parsed), created=len(ids), dry_run=False, ids=ids)


def _errors_or_raise(rows: list[ContractRow], title: str) -> None:
    errors = [e for r in rows for e in r.errors]
    if errors:
        shown = errors[:MAX_ERRORS]
        more = f" (first {MAX_ERRORS} shown)" if len(errors) > MAX_ERRORS else ""
        detail = (shown[0] if len(errors) == 1 else
                  f"{len(errors)} problems{more}; nothing was changed. Fix them and try again.")
        raise InvalidInput(title, detail, errors=shown, errors_omitted=len(errors) - len(shown))


def rows_from_csv(data: str | bytes) -> list[dict]:
    """Rows of a contracts CSV (cadre_code, grid_code, role, valid_from, valid_to), labelled by line."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput("Not UTF-8", "Save the CSV as UTF-8 (Excel: “CSV UTF-8”).") from None
    data = data.lstrip("\ufeff")
    reader = csv.DictReader(io.StringIO(data))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in ("cadre_code", "grid_code", "role") if c not in header]
    if missing:
        raise InvalidInput("Missing CSV columns",
                           f"The header must name {', '.join(CSV_COLUMNS)}; missing {', '.join(missing)}.")
    reader.fieldnames = header
    rows = []
    for raw in reader:
        row = {k: (v.strip() if isinstance(v, str) else v) for k, v in raw.items() if k}
        if not any(row.values()):
            continue  # blank line
        row["_row"] = f"line {reader.line_num}"
        rows.append(row)
    return rows


def rows_from_geojson(obj: Any) -> list[dict]:
    """Rows of a GeoJSON FeatureCollection of drawn contracts (properties: cadre_code, role, dates)."""
    if isinstance(obj, (str, bytes)):
        try:
            obj = json.loads(obj)
        except ValueError:
            raise InvalidInput("Malformed GeoJSON", "The body is not valid JSON.") from None
    if not isinstance(obj, Mapping) or obj.get("type") != "FeatureCollection" \
            or not isinstance(obj.get("features"), list):
        raise InvalidInput("Not a FeatureCollection",
                           "Send a GeoJSON FeatureCollection whose features have properties "
                           "cadre_code, role, valid_from, valid_to (and grid_code or a polygon).")
    rows = []
    for i, feature in enumerate(obj["features"], start=1):
        props = dict(feature.get("properties") or {}) if isinstance(feature, Mapping) else {}
        geometry = feature.get("geometry") if isinstance(feature, Mapping) else None
        if geometry is not None and not props.get("grid_code"):
            props["geometry"] = geometry
        props["_row"] = f"feature {i}"
        rows.append(props)
    return rows
