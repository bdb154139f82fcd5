"""Contracts (包片): a cadre's responsibility for whole grids or a drawn polygon over a period.

Rules, in one place:
- A contract names either a grid *code* (codes survive boundary edits, so the contract follows the
  grid through its versions) or a drawn polygon (a 包片 cutting across grids). Never both.
- Its dates are a half-open range [valid_from, valid_to): it is in force on day D when
  valid_from <= D < valid_to; valid_to NULL means open-ended. "Ending" a contract on day E sets
  valid_to = E: it no longer holds on E. Today is the database's CURRENT_DATE (one clock).
- A cadre holds a grid at most once at any time (an exclusion constraint enforces it, so two
  planners adding the same contract at once cannot both succeed). Different cadres may share a
  grid: coverage reports that as a shared grid, it is not an error.
- A grid contract needs a version of that grid in force at some time during the contract; a
  polygon must be a valid (Multi)Polygon in lon/lat (WGS84 / CGCS2000) that overlaps some grid.
- Changes never silently overwrite: change and end take the ETag the caller read (If-Match).
- Imports are all or nothing: every row is checked, every error is reported with its row, and a
  file with one bad row changes nothing.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import and_, func, insert, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, contains_eager

from gis.core.errors import Conflict, InvalidGeometry, InvalidInput, NotFound, PreconditionFailed
from gis.core.models import CADRE_TYPES, SRID, AuditEntry, Cadre, Contract, Grid, grid_codes

CSV_COLUMNS = ("cadre_code", "grid_code", "role", "valid_from", "valid_to")
ROLE_MAX = 64
MAX_ERRORS = 200  # report this many row errors at most; enough to fix a file in a few rounds

# The rule "in force on :day" as SQL over a contracts alias `k` (used by coverage too).
IN_FORCE_SQL = "k.valid_from <= :day AND (k.valid_to IS NULL OR k.valid_to > :day)"


def in_force(day: Any) -> Any:
    """SQLAlchemy clause: the contract is in force on `day` (a date or a SQL date expression)."""
    return and_(Contract.valid_from <= day, or_(Contract.valid_to.is_(None), Contract.valid_to > day))


def today(session: Session) -> dt.date:
    """The database's CURRENT_DATE: the one clock contract dates are compared with."""
    return session.scalar(select(func.current_date()))


# -- parsing ----------------------------------------------------------------------------------
def parse_date(value: Any, name: str = "date", *, required: bool = False) -> dt.date | None:
    """An ISO date (YYYY-MM-DD) from text or a date; InvalidInput saying what was wrong."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidInput(f"Missing {name}", f"Give `{name}` as a date, YYYY-MM-DD.", parameter=name)
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise InvalidInput(f"Invalid {name}", f"`{name}` must be a date string YYYY-MM-DD.", parameter=name)
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"Invalid {name}",
                           f"`{name}` must be a date YYYY-MM-DD (e.g. 2025-03-01); got {value[:40]!r}.",
                           parameter=name) from None


def check_cadre_type(value: str | None) -> str | None:
    """A cadre type from the fixed list, or InvalidInput naming the list."""
    if value is None or value == "":
        return None
    if value not in CADRE_TYPES:
        raise InvalidInput("Unknown cadre type",
                           f"`cadre_type` must be one of {', '.join(CADRE_TYPES)}; got {str(value)[:40]!r}.",
                           parameter="cadre_type")
    return value


def polygon_from_geojson(value: Any) -> MultiPolygon:
    """A valid lon/lat (Multi)Polygon from GeoJSON (or shapely); InvalidGeometry says why not."""
    if isinstance(value, BaseGeometry):
        geom = value
    else:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise InvalidGeometry("Malformed geometry", "`geometry` must be a GeoJSON object.") from None
        if isinstance(value, Mapping) and value.get("type") == "Feature":
            value = value.get("geometry")
        if not isinstance(value, Mapping) or value.get("type") not in ("Polygon", "MultiPolygon"):
            got = value.get("type") if isinstance(value, Mapping) else type(value).__name__
            raise InvalidGeometry("Wrong geometry type",
                                  f"A drawn contract must be a GeoJSON Polygon or MultiPolygon; got {got}.")
        try:
            geom = shape(value)
        except Exception as exc:  # shapely raises several types for malformed coordinates
            raise InvalidGeometry("Malformed geometry", f"The coordinates cannot be read: {exc}.") from None
    if isinstance(geom, Polygon):
        geom = MultiPolygon([geom])
    if not isinstance(geom, MultiPolygon):
        raise InvalidGeometry("Wrong geometry type",
                              f"A drawn contract must be a Polygon or MultiPolygon; got {geom.geom_type}.")
    if geom.is_empty:
        raise InvalidGeometry("Empty geometry", "The polygon has no coordinates.")
    if shapely.has_z(geom):
        geom = shapely.force_2d(geom)
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InvalidGeometry("Coordinates out of range",
                              "Coordinates must be longitude, latitude in WGS84 / CGCS2000 degrees "
                              f"(lon −180…180, lat −90…90); the bounds are {geom.bounds}. "
                              "Are longitude and latitude swapped, or is the file in a projected CRS?")
    if not geom.is_valid:
        raise InvalidGeometry("Invalid geometry", f"The polygon is not valid: {shapely.is_valid_reason(geom)}.")
    if geom.area == 0:
        raise InvalidGeometry("Empty geometry", "The polygon has no area.")
    return geom


# -- lookups ----------------------------------------------------------------------------------
def cadre_by_code(session: Session, code: str) -> Cadre:
    """The cadre with this code, or NotFound."""
    cadre = session.scalar(select(Cadre).where(Cadre.code == code))
    if cadre is None:
        raise NotFound("No such cadre", f"There is no cadre with code {str(code)[:40]!r}.")
    return cadre


def contract_by_id(session: Session, contract_id: int, *, for_update: bool = False) -> Contract:
    """The contract with this id (row-locked when for_update), or NotFound."""
    query = select(Contract).where(Contract.id == contract_id)
    if for_update:
        query = query.with_for_update()
    contract = session.scalar(query)
    if contract is None:
        raise NotFound("No such contract", f"There is no contract {contract_id}.")
    return contract


def list_cadres(session: Session, cadre_type: str | None = None) -> list[tuple[Cadre, int]]:
    """Cadres (of one type, or all) by code, each with the number of contracts in force today."""
    live = (select(Contract.cadre_id, func.count().label("n")).where(in_force(func.current_date()))
            .group_by(Contract.cadre_id).subquery())
    query = (select(Cadre, func.coalesce(live.c.n, 0)).outerjoin(live, live.c.cadre_id == Cadre.id)
             .order_by(Cadre.code))
    if check_cadre_type(cadre_type):
        query = query.where(Cadre.type == cadre_type)
    return [(cadre, n) for cadre, n in session.execute(query)]


def list_contracts(session: Session, *, cadre_code: str | None = None, grid_code: str | None = None,
                   at: dt.date | None = None, include_ended: bool = False) -> list[Contract]:
    """Contracts of a cadre and/or on a grid code: those in force on `at` (default today), or all."""
    query = (select(Contract).join(Cadre).options(contains_eager(Contract.cadre))
             .order_by(Cadre.code, Contract.valid_from, Contract.id))
    if cadre_code:
        query = query.where(Contract.cadre_id == cadre_by_code(session, cadre_code).id)
    if grid_code:
        query = query.where(Contract.grid_code == grid_code)
    if not include_ended:
        query = query.where(in_force(at if at is not None else func.current_date()))
    return list(session.scalars(query))


# -- serialisation ----------------------------------------------------------------------------
def contract_etag(contract: Contract) -> str:
    """A strong ETag of the contract's current state (sent back in If-Match to change it)."""
    geom = contract.geom.desc if contract.geom is not None else None
    state = [contract.id, contract.cadre_id, contract.grid_code, str(geom), contract.role,
             str(contract.valid_from), str(contract.valid_to), contract.flag]
    return '"' + hashlib.sha256(json.dumps(state).encode()).hexdigest()[:20] + '"'


def contract_to_dict(contract: Contract, day: dt.date) -> dict:
    """The contract as JSON-ready values; `in_force` is relative to `day`."""
    geometry = mapping(to_shape(contract.geom)) if contract.geom is not None else None
    return {
        "id": contract.id,
        "cadre": contract.cadre.code,
        "cadre_type": contract.cadre.type,
        "grid_code": contract.grid_code,
        "geometry": geometry,
        "role": contract.role,
        "valid_from": contract.valid_from.isoformat(),
        "valid_to": contract.valid_to.isoformat() if contract.valid_to else None,
        "in_force": contract.valid_from <= day and (contract.valid_to is None or contract.valid_to > day),
        "flag": contract.flag,
    }


# -- validation -------------------------------------------------------------------------------
@dataclass
class _Row:
    """One contract to write, after parsing; `errors` collects what is wrong with it."""

    label: str
    cadre_code: str = ""
    grid_code: str | None = None
    geom: MultiPolygon | None = None
    role: str = ""
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    cadre_id: int | None = None
    errors: list[str] = field(default_factory=list)
    # The kind of the first problem decides the error a single create/change raises.
    kinds: list[type[InvalidInput] | type[Conflict]] = field(default_factory=list)

    def fail(self, message: str, kind: type[InvalidInput] | type[Conflict] = InvalidInput) -> None:
        self.errors.append(f"{self.label}: {message}")
        self.kinds.append(kind)


def _parse_row(raw: Mapping[str, Any], label: str, day: dt.date) -> _Row:
    row = _Row(label)
    row.cadre_code = str(raw.get("cadre_code") or raw.get("cadre") or "").strip()
    if not row.cadre_code:
        row.fail("cadre_code is missing")
    grid = raw.get("grid_code")
    row.grid_code = str(grid).strip() if grid not in (None, "") else None
    geometry = raw.get("geometry")
    if row.grid_code and geometry is not None:
        row.fail("give grid_code or a geometry, not both")
    elif not row.grid_code and geometry is None:
        row.fail("grid_code is missing (or give a polygon geometry)")
    elif row.grid_code and not (len(row.grid_code) == 15 and row.grid_code.isdigit()):
        row.fail(f"grid_code {row.grid_code[:40]!r} is not a 15-digit grid code")
    elif geometry is not None:
        try:
            row.geom = polygon_from_geojson(geometry)
        except InvalidGeometry as exc:
            row.fail(f"{exc.title.lower()}: {exc.detail}", InvalidGeometry)
    row.role = str(raw.get("role") or "").strip()
    if not row.role:
        row.fail("role is missing (e.g. 包片领导, 联系人, 网格长)")
    elif len(row.role) > ROLE_MAX:
        row.fail(f"role is longer than {ROLE_MAX} characters")
    for name in ("valid_from", "valid_to"):
        try:
            setattr(row, name, parse_date(raw.get(name), name))
        except InvalidInput as exc:
            row.fail(exc.detail)
        else:
            if name == "valid_from" and row.valid_from is None:
                row.valid_from = day  # an omitted start means today
    if row.valid_from and row.valid_to and row.valid_to <= row.valid_from:
        row.fail(f"valid_to {row.valid_to} must be after valid_from {row.valid_from} (the range is half-open)")
    return row


def _check_against_database(session: Session, rows: list[_Row], *, ignore_id: int | None = None) -> None:
    """Cadres exist, grids exist and are in force during the contract, polygons overlap a grid,
    and no cadre would hold the same grid twice at once (within the rows or with stored contracts)."""
    codes = {r.cadre_code for r in rows if r.cadre_code}
    cadres = dict(session.execute(select(Cadre.code, Cadre.id).where(Cadre.code.in_(codes))).all()) if codes else {}
    for r in rows:
        if r.cadre_code and r.cadre_code not in cadres:
            r.fail(f"unknown cadre_code {r.cadre_code[:40]!r}")
        r.cadre_id = cadres.get(r.cadre_code)

    grid_rows = [r for r in rows if r.grid_code and r.valid_from and not r.errors]
    gcodes = sorted({r.grid_code for r in grid_rows})
    versions: dict[str, list[tuple]] = {}
    known: set[str] = set()
    if gcodes:
        known = set(session.scalars(select(grid_codes.c.code).where(grid_codes.c.code.in_(gcodes))))
        for code, start, end in session.execute(
                select(Grid.code, Grid.valid_from, Grid.valid_to).where(Grid.code.in_(gcodes))):
            versions.setdefault(code, []).append((start, end))
    for r in grid_rows:
        if r.grid_code not in known:
            r.fail(f"unknown grid_code {r.grid_code}")
        elif not any(_overlaps(v, r.valid_from, r.valid_to) for v in versions.get(r.grid_code, [])):
            r.fail(f"grid {r.grid_code} has no version in force between {r.valid_from} and "
                   f"{r.valid_to or 'open end'} (it was retired, or not yet drawn)")

    poly_rows = [r for r in rows if r.geom is not None and not r.errors]
    if poly_rows:
        values = [{"i": i, "wkb": r.geom.wkb} for i, r in enumerate(poly_rows)]
        hits = set(session.scalars(text(
            "SELECT x.i FROM unnest(CAST(:idx AS int[]), CAST(:wkbs AS bytea[])) AS x(i, wkb) "
            "WHERE EXISTS (SELECT 1 FROM grids g "
            "              WHERE ST_Intersects(g.geom, ST_GeomFromWKB(x.wkb, 4326)))"),
            {"idx": [v["i"] for v in values], "wkbs": [v["wkb"] for v in values]}))
        for i, r in enumerate(poly_rows):
            if i not in hits:
                r.fail("the polygon overlaps no grid (check its coordinates and CRS)")

    # Same cadre, same grid, overlapping dates: within the rows, then against stored contracts.
    pending = [r for r in grid_rows if not r.errors and r.cadre_id]
    by_key: dict[tuple, list[_Row]] = {}
    for r in pending:
        by_key.setdefault((r.cadre_id, r.grid_code), []).append(r)
    for group in by_key.values():
        for i, a in enumerate(group):
            for b in group[:i]:
                if _dates_overlap(a.valid_from, a.valid_to, b.valid_from, b.valid_to):
                    a.fail(f"repeats {b.label}: cadre {a.cadre_code} on grid {a.grid_code} over overlapping dates")
    if pending:
        stored = session.execute(
            select(Contract.id, Contract.cadre_id, Contract.grid_code, Contract.valid_from, Contract.valid_to)
            .where(Contract.cadre_id.in_({r.cadre_id for r in pending}),
                   Contract.grid_code.in_({r.grid_code for r in pending}))).all()
        held: dict[tuple, list] = {}
        for s in stored:
            if s.id != ignore_id:
                held.setdefault((s.cadre_id, s.grid_code), []).append(s)
        for r in pending:
            for s in held.get((r.cadre_id, r.grid_code), []):
                if _dates_overlap(r.valid_from, r.valid_to, s.valid_from, s.valid_to):
                    r.fail(f"cadre {r.cadre_code} already holds grid {r.grid_code} from {s.valid_from} "
                           f"to {s.valid_to or 'open end'} (contract {s.id}); change or end that one",
                           Conflict)
                    break


def _dates_overlap(a0: dt.date, a1: dt.date | None, b0: dt.date, b1: dt.date | None) -> bool:
    return (a1 is None or b0 < a1) and (b1 is None or a0 < b1)


def _overlaps(version: tuple, start: dt.date, end: dt.date | None) -> bool:
    # A grid version [from, to) (timestamps, NULL = unbounded) against a contract's [start, end)
    # (dates, compared by calendar day: a version retired during a day still counts for that day).
    v0, v1 = version
    d0 = v0.date() if v0 is not None else None
    d1 = v1.date() if v1 is not None else None
    return (d0 is None or end is None or d0 < end) and (d1 is None or d1 >= start)


def _errors_or_raise(rows: list[_Row], title: str) -> None:
    errors = [e for r in rows for e in r.errors]
    if errors:
        shown = errors[:MAX_ERRORS]
        more = f" (first {MAX_ERRORS} shown)" if len(errors) > MAX_ERRORS else ""
        detail = (shown[0] if len(errors) == 1 else
                  f"{len(errors)} problems{more}; nothing was changed. Fix them and try again.")
        raise InvalidInput(title, detail, errors=shown, errors_omitted=len(errors) - len(shown))


def _audit(session: Session, action: str, contract: Contract | None, *, user_id: int | None,
           before: dict | None = None, after: dict | None = None, entity_id: str | None = None) -> None:
    session.add(AuditEntry(user_id=user_id, action=action, entity="contract",
                           entity_id=entity_id or (str(contract.id) if contract else None),
                           before=before, after=after))


def _state(contract: Contract) -> dict:
    return {"cadre_id": contract.cadre_id, "grid_code": contract.grid_code,
            "geometry": mapping(to_shape(contract.geom)) if contract.geom is not None else None,
            "role": contract.role, "valid_from": str(contract.valid_from),
            "valid_to": str(contract.valid_to) if contract.valid_to else None, "flag": contract.flag}


def _raise_overlap(session: Session, exc: IntegrityError, title: str, detail: str) -> None:
    """Roll back, then raise Conflict(title, detail) if the exclusion constraint refused the write, else exc."""
    session.rollback()
    if "ex_contracts_cadre_grid_dates" in str(exc.orig):
        raise Conflict(title, detail) from None
    raise exc


def _flush(session: Session) -> None:
    # The exclusion constraint is the last word when two writers race past the checks above.
    try:
        session.flush()
    except IntegrityError as exc:
        _raise_overlap(session, exc, "Contract exists",
                       "This cadre already holds that grid over overlapping dates (someone added it at "
                       "the same time); reload the cadre's contracts.")


# -- writes -----------------------------------------------------------------------------------
def create_contract(session: Session, cadre_code: str, *, role: str, grid_code: str | None = None,
                    geometry: Any = None, valid_from: Any = None, valid_to: Any = None,
                    user_id: int | None = None) -> Contract:
    """Contract a whole grid (by code) or a drawn polygon to a cadre; checked as described above."""
    raw = {"cadre_code": cadre_code, "grid_code": grid_code, "geometry": geometry, "role": role,
           "valid_from": valid_from, "valid_to": valid_to}
    row = _parse_row(raw, "contract", today(session))
    _raise_single(row)
    _check_against_database(session, [row])
    _raise_single(row)
    contract = Contract(cadre_id=row.cadre_id, grid_code=row.grid_code, role=row.role,
                        geom=from_shape(row.geom, srid=SRID) if row.geom is not None else None,
                        valid_from=row.valid_from, valid_to=row.valid_to)
    session.add(contract)
    _flush(session)
    _audit(session, "contract.create", contract, user_id=user_id, after=_state(contract))
    return contract


def _raise_single(row: _Row) -> None:
    # One contract: the first problem's kind decides the error; the detail lists them all.
    if row.errors:
        kind = row.kinds[0]
        title = {InvalidGeometry: "Invalid contract geometry", Conflict: "Contract exists"}.get(kind,
                                                                                             "Invalid contract")
        raise kind(title, "; ".join(e.split(": ", 1)[1] for e in row.errors))


CHANGEABLE = ("role", "valid_from", "valid_to", "geometry", "flag")


def change_contract(session: Session, contract_id: int, changes: Mapping[str, Any], *,
                    if_match: str | None, user_id: int | None = None) -> Contract:
    """Change a contract's role, dates, polygon or flag; `if_match` must be the ETag last read."""
    unknown = sorted(set(changes) - set(CHANGEABLE))
    if unknown:
        hint = (" To move a contract to another cadre or grid, end it and create a new one, so the "
                "history stays true." if {"cadre_code", "cadre", "grid_code"} & set(unknown) else "")
        raise InvalidInput("Cannot change that", f"Only {', '.join(CHANGEABLE)} can be changed; "
                           f"got {', '.join(unknown)}.{hint}")
    contract = contract_by_id(session, contract_id, for_update=True)
    _check_etag(contract, if_match)
    before = _state(contract)
    raw = {"cadre_code": contract.cadre.code, "grid_code": contract.grid_code,
           "geometry": to_shape(contract.geom) if contract.geom is not None else None,
           "role": changes.get("role", contract.role),
           "valid_from": changes.get("valid_from", contract.valid_from),
           "valid_to": changes.get("valid_to", contract.valid_to)}
    if "geometry" in changes:
        if contract.grid_code:
            raise InvalidInput("Cannot change that", "This contract is for a whole grid; it has no polygon. "
                               "End it and create a drawn contract instead.")
        raw["geometry"] = changes["geometry"]
    row = _parse_row(raw, "contract", today(session))
    _raise_single(row)
    _check_against_database(session, [row], ignore_id=contract.id)
    _raise_single(row)
    contract.role, contract.valid_from, contract.valid_to = row.role, row.valid_from, row.valid_to
    if "geometry" in changes:
        contract.geom = from_shape(row.geom, srid=SRID)
    if "flag" in changes:
        flag = changes["flag"]
        if flag is not None and not isinstance(flag, str):
            raise InvalidInput("Invalid flag", "`flag` must be text, or null to clear it.")
        contract.flag = (flag.strip() or None) if isinstance(flag, str) else None
    _flush(session)
    _audit(session, "contract.change", contract, user_id=user_id, before=before, after=_state(contract))
    return contract


def end_contract(session: Session, contract_id: int, on: Any = None, *, if_match: str | None = None,
                 user_id: int | None = None) -> Contract:
    """End a contract on day `on` (default today): from that day it no longer holds."""
    contract = contract_by_id(session, contract_id, for_update=True)
    _check_etag(contract, if_match)
    day = parse_date(on, "on") or today(session)
    if day <= contract.valid_from:
        raise InvalidInput("End date too early",
                           f"The contract starts on {contract.valid_from}; it can end on "
                           f"{contract.valid_from + dt.timedelta(days=1)} at the earliest. To cancel a "
                           "contract made by mistake or not yet started, withdraw it (DELETE) instead.")
    if contract.valid_to is not None and contract.valid_to <= day:
        raise Conflict("Contract already ended",
                       f"Contract {contract.id} already ends on {contract.valid_to}; to move its end "
                       "date later, change valid_to instead.")
    before = _state(contract)
    contract.valid_to = day
    _flush(session)
    _audit(session, "contract.end", contract, user_id=user_id, before=before, after=_state(contract))
    return contract


def withdraw_contract(session: Session, contract_id: int, *, if_match: str | None = None,
                      user_id: int | None = None) -> None:
    """Delete a contract that was not in force before today (made by mistake, or not yet started).

    A contract that has held on an earlier day is history: end it instead. The audit log keeps
    the withdrawn contract's state."""
    contract = contract_by_id(session, contract_id, for_update=True)
    _check_etag(contract, if_match)
    if contract.valid_from < today(session):
        raise Conflict("Contract has history",
                       f"Contract {contract.id} has held since {contract.valid_from}; end it instead of "
                       "withdrawing it, so coverage on past days stays true.")
    _audit(session, "contract.withdraw", contract, user_id=user_id, before=_state(contract))
    session.delete(contract)
    session.flush()


def _check_etag(contract: Contract, if_match: str | None) -> None:
    if if_match is None:
        return
    current = contract_etag(contract)
    sent = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if current not in sent and "*" not in sent:
        raise PreconditionFailed("Contract changed",
                                 f"Contract {contract.id} was changed by someone else since you read it; "
                                 "reload it and apply your change again.", etag=current)


# -- import -----------------------------------------------------------------------------------
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
    parsed = [_parse_row(raw, str(raw.get("_row") or f"row {i}"), day) for i, raw in enumerate(rows, start=1)]
    if not parsed:
        raise InvalidInput("Empty import", "The file has no contract rows.")
    _check_against_database(session, parsed)
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
        _raise_overlap(session, exc, "Contracts not imported",
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


def read_contract_file(path: str | Path) -> list[dict]:
    """Rows from a contracts file: CSV by columns, or any OGR vector file (GeoJSON, GeoPackage,
    Shapefile, FlatGeobuf) of drawn polygons, reprojected from the file's CRS to WGS84."""
    path = Path(path)
    if not path.exists():
        raise InvalidInput("No such file", f"{path} does not exist.")
    if path.suffix.lower() == ".csv":
        return rows_from_csv(path.read_bytes())
    import geopandas
    import pyogrio

    try:
        frame = geopandas.read_file(path, engine="pyogrio")
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
        import pandas

        return bool(pandas.isna(value))
    except (TypeError, ValueError):
        return False
