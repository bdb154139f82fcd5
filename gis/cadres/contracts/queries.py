"""Reading contracts and cadres: by code or id, lists in force on a day, and their JSON form and ETag."""
from __future__ import annotations

import datetime as dt
import hashlib
import json

from geoalchemy2.shape import to_shape
from shapely.geometry import mapping
from sqlalchemy import func, select
from sqlalchemy.orm import Session, contains_eager

from gis.cadres.contracts.rules import check_cadre_type, in_force, today
from gis.core.errors import NotFound
from gis.core.models import Cadre, Contract


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
    live = (select(Contract.cadre_id, func.count().label("n")).where(in_force(today(session)))
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
        query = query.where(in_force(at if at is not None else today(session)))
    return list(session.scalars(query))


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
