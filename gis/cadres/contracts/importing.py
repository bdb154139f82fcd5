"""The one contracts importer, set-based over the staging table of gis.cadres.contracts.rows, audited.

Two ways in, one importer: `import_contracts` takes rows as dicts (`gridgov contract import` and
POST /api/v1/contracts/import; rows_from_csv and rows_from_geojson read request bodies), and
`gridgov import contracts` (data.io) checks a layer file its own way and hands over ContractRows to
`plan_import`. Both then check the same rules (gis.cadres.contracts.rows), write in two statements,
audit every contract made or changed (`contract.import`) and take "today" from the district's clock.
They differ in one option, what a row that names a stored contract means:
- append (sync=False, the API and `gridgov contract import`): every row is a new contract; a row
  overlapping a stored contract of the same cadre and grid is refused ("already holds").
- sync (sync=True, the layer import): a row with the same cadre, grid (or equal drawn area) and
  valid_from is that contract: its role and end are updated (unchanged ones are left alone), the
  other rows are added — an unedited export imports back as "unchanged".
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gis.cadres.contracts.rows import STAGE, ContractRow, check_rows, parse_row
from gis.cadres.contracts.rules import CSV_COLUMNS, MAX_ERRORS, today
from gis.cadres.contracts.writes import raise_overlap
from gis.core import audit
from gis.core.errors import InvalidInput

# These rows are inserted set-wise in SQL, past the ORM hook that stamps every audit row's origin,
# so they name it themselves.
ORIGIN_COLUMNS = "actor, via, address, request_id"
ORIGIN_VALUES = "CAST(:actor AS text), CAST(:via AS text), CAST(:address AS text), CAST(:request_id AS text)"


def _origin() -> dict:
    origin = audit.current_origin()
    return {"actor": origin.actor, "via": origin.via, "address": origin.address, "request_id": origin.request_id}


@dataclass
class ImportReport:
    """What an import did (or, with dry_run, would do)."""

    rows: int
    created: int
    dry_run: bool
    ids: list[int]
    updated: int = 0  # sync only: stored contracts whose role or end the rows changed
    unchanged: int = 0  # sync only: rows that name a stored contract as it is

    def to_dict(self) -> dict:
        """JSON-ready values."""
        return {"rows": self.rows, "created": self.created, "dry_run": self.dry_run, "ids": self.ids}


@dataclass
class ContractImport:
    """Checked rows in the staging table, what writing them would do, and the write itself."""

    session: Session
    rows: list[ContractRow]
    sync: bool
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    ids: list[int] = field(default_factory=list)

    @property
    def problems(self) -> bool:
        """Whether any row has a problem (then nothing may be written)."""
        return any(r.problems for r in self.rows)

    def write(self, user_id: int | None = None) -> list[int]:
        """Update the matched contracts that change (sync), add the others; ids added, in row order."""
        if self.problems:
            raise RuntimeError("contract rows with problems are never written")
        session = self.session
        if self.sync:
            session.execute(text(f"""
                WITH changed AS (
                    UPDATE contracts k SET role = s.role, valid_to = s.valid_to FROM {STAGE} s
                    WHERE k.id = s.kid AND (s.old_role, s.old_valid_to) IS DISTINCT FROM (s.role, s.valid_to)
                    RETURNING k.id, s.old_role, s.old_valid_to, k.role, k.valid_to
                )
                INSERT INTO audit_log (user_id, action, entity, entity_id, before, after, {ORIGIN_COLUMNS})
                SELECT CAST(:user_id AS int), 'contract.import', 'contract', id::text,
                       jsonb_build_object('role', old_role, 'valid_to', old_valid_to),
                       jsonb_build_object('role', role, 'valid_to', valid_to), {ORIGIN_VALUES}
                FROM changed ORDER BY id
            """), {"user_id": user_id, **_origin()})
        try:
            self.ids = list(session.scalars(text(f"""
                WITH made AS (
                    INSERT INTO contracts (cadre_id, grid_code, geom, role, valid_from, valid_to)
                    SELECT cadre_id, grid_code, geom, role, valid_from, valid_to FROM {STAGE}
                    WHERE kid IS NULL ORDER BY row
                    RETURNING id, cadre_id, grid_code, geom, role, valid_from, valid_to
                ), audited AS (
                    INSERT INTO audit_log (user_id, action, entity, entity_id, after, {ORIGIN_COLUMNS})
                    SELECT CAST(:user_id AS int), 'contract.import', 'contract', id::text,
                           jsonb_build_object('cadre_id', cadre_id, 'grid_code', grid_code, 'role', role,
                                              'geometry', ST_AsGeoJSON(geom)::jsonb, 'valid_from', valid_from,
                                              'valid_to', valid_to), {ORIGIN_VALUES}
                    FROM made ORDER BY id
                )
                SELECT id FROM made ORDER BY id
            """), {"user_id": user_id, **_origin()}))
        except IntegrityError as exc:
            raise_overlap(session, exc, "Contracts not imported",
                          "Another change added an overlapping contract meanwhile; nothing was imported. "
                          "Run the import again.")
        return self.ids


def plan_import(session: Session, rows: list[ContractRow], *, sync: bool = False) -> ContractImport:
    """Stage and check parsed rows (their problems are added to them) and count what writing would do."""
    check_rows(session, rows, match=sync)
    plan = ContractImport(session, rows, sync)
    if sync:
        plan.added, plan.updated, plan.unchanged = session.execute(text(f"""
            SELECT count(*) FILTER (WHERE kid IS NULL),
                   count(*) FILTER (WHERE kid IS NOT NULL
                                      AND (old_role, old_valid_to) IS DISTINCT FROM (role, valid_to)),
                   count(*) FILTER (WHERE kid IS NOT NULL
                                      AND (old_role, old_valid_to) IS NOT DISTINCT FROM (role, valid_to))
            FROM {STAGE}
        """)).one()
    else:
        plan.added = len(rows)
    return plan


def import_contracts(session: Session, rows: Iterable[Mapping[str, Any]], *, user_id: int | None = None,
                     dry_run: bool = False, sync: bool = False) -> ImportReport:
    """Check every row (CSV columns, or a polygon `geometry`), then write them all or none.

    Each row may carry `_row`, the label its errors are reported under (e.g. "line 7"). `sync`: see
    the module's docstring (append by default)."""
    day = today(session)
    parsed = [parse_row(raw, str(raw.get("_row") or f"row {i}"), day) for i, raw in enumerate(rows, start=1)]
    if not parsed:
        raise InvalidInput("Empty import", "The file has no contract rows.")
    plan = plan_import(session, parsed, sync=sync)
    _errors_or_raise(parsed, "Contracts not imported")
    report = ImportReport(rows=len(parsed), created=0, dry_run=dry_run, ids=[], updated=plan.updated,
                          unchanged=plan.unchanged)
    if not dry_run:
        report.ids = plan.write(user_id)
        report.created = len(report.ids)
    return report


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
