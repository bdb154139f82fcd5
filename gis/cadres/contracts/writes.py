"""Writing one contract: create, change (If-Match), end and withdraw, each checked and audited."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import mapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gis.cadres.contracts.queries import contract_by_id, contract_etag
from gis.cadres.contracts.rows import ContractRow, check_rows, parse_row
from gis.cadres.contracts.rules import parse_date, today
from gis.core.errors import Conflict, InvalidGeometry, InvalidInput, PreconditionFailed
from gis.core.models import SRID, AuditEntry, Contract


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


def raise_overlap(session: Session, exc: IntegrityError, title: str, detail: str) -> None:
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
        raise_overlap(session, exc, "Contract exists",
                       "This cadre already holds that grid over overlapping dates (someone added it at "
                       "the same time); reload the cadre's contracts.")


def create_contract(session: Session, cadre_code: str, *, role: str, grid_code: str | None = None,
                    geometry: Any = None, valid_from: Any = None, valid_to: Any = None,
                    user_id: int | None = None) -> Contract:
    """Contract a whole grid (by code) or a drawn polygon to a cadre, checked by the rules (rules, rows)."""
    raw = {"cadre_code": cadre_code, "grid_code": grid_code, "geometry": geometry, "role": role,
           "valid_from": valid_from, "valid_to": valid_to}
    row = parse_row(raw, "contract", today(session))
    _raise_single(row)
    check_rows(session, [row])
    _raise_single(row)
    contract = Contract(cadre_id=row.cadre_id, grid_code=row.grid_code, role=row.role,
                        geom=from_shape(row.geom, srid=SRID) if row.geom is not None else None,
                        valid_from=row.valid_from, valid_to=row.valid_to)
    session.add(contract)
    _flush(session)
    _audit(session, "contract.create", contract, user_id=user_id, after=_state(contract))
    return contract


def _raise_single(row: ContractRow) -> None:
    # One contract: the first problem's kind decides the error; the detail lists them all.
    if row.problems:
        kind = row.problems[0][1]
        title = {InvalidGeometry: "Invalid contract geometry", Conflict: "Contract exists"}.get(kind,
                                                                                             "Invalid contract")
        raise kind(title, "; ".join(message for message, _ in row.problems))


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
    row = parse_row(raw, "contract", today(session))
    _raise_single(row)
    check_rows(session, [row], ignore_id=contract.id)
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
