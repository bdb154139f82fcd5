"""Cadres and their contracts (包片): read, create, change (If-Match), end, import."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from api import db
from api.auth import current_user, requires
from api.errors import PreconditionRequired
from api.params import json_body
from gis.cadres.contracts import (
    cadre_by_code,
    change_contract,
    contract_by_id,
    contract_etag,
    contract_to_dict,
    create_contract,
    end_contract,
    import_contracts,
    list_cadres,
    list_contracts,
    parse_date,
    rows_from_csv,
    rows_from_geojson,
    today,
    withdraw_contract,
)
from gis.cadres.coverage import cadre_load
from gis.core.errors import InvalidInput
from gis.core.models import Cadre, Contract

bp = Blueprint("contracts", __name__, url_prefix="/api/v1")

# Cadres' phone numbers are personal data. Admins manage people; commanders dispatch cases and
# must be able to call the cadre who holds a grid. Planners draw boundaries and assign contracts
# by code and name, and do not need the numbers; workers and viewers never see cadres here.
PHONE_ROLES = ("admin", "commander")


def _cadre_dict(cadre: Cadre, **extra) -> dict:
    out = {"code": cadre.code, "name": cadre.name, "type": cadre.type, "organisation": cadre.organisation}
    if current_user().role in PHONE_ROLES:
        out["phone"] = cadre.phone
    out.update(extra)
    return out


def _flag(name: str) -> bool:
    value = request.args.get(name, "").lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise InvalidInput(f"Invalid {name}", f"`{name}` must be true or false.", parameter=name)


def _with_etag(contract: Contract, status: int = 200):
    session = db.session()
    response = jsonify(contract_to_dict(contract, today(session)))
    response.status_code = status
    response.headers["ETag"] = contract_etag(contract)
    if status == 201:
        response.headers["Location"] = f"/api/v1/contracts/{contract.id}"
    return response


@bp.get("/cadres")
@requires("commander", "planner")
def cadres():
    """Cadres (optionally ?type=) with how many contracts each has in force today."""
    rows = list_cadres(db.session(), request.args.get("type") or None)
    return jsonify(cadres=[_cadre_dict(c, contracts_in_force=n) for c, n in rows])


@bp.get("/cadres/<code>")
@requires("commander", "planner")
def cadre(code: str):
    """One cadre: their contracts (all, with in_force as of ?at or today) and their load."""
    session = db.session()
    at = parse_date(request.args.get("at") or None, "at")
    found = cadre_by_code(session, code)
    day = at or today(session)
    contracts = list_contracts(session, cadre_code=code, include_ended=True)
    return jsonify(_cadre_dict(found, contracts=[contract_to_dict(c, day) for c in contracts],
                               load=cadre_load(session, code, at=at).to_dict() | {"at": day.isoformat()}))


@bp.get("/contracts")
@requires("commander", "planner")
def contracts():
    """Contracts in force (?at=, default today) or all (?all=true), by ?cadre= and/or ?grid=."""
    session = db.session()
    at = parse_date(request.args.get("at") or None, "at")
    rows = list_contracts(session, cadre_code=request.args.get("cadre") or None,
                          grid_code=request.args.get("grid") or None, at=at, include_ended=_flag("all"))
    day = at or today(session)
    return jsonify(contracts=[contract_to_dict(c, day) for c in rows])


@bp.get("/contracts/<int(max=2147483647):contract_id>")
@requires("commander", "planner")
def contract(contract_id: int):
    """One contract, with the ETag to send in If-Match when changing it."""
    return _with_etag(contract_by_id(db.session(), contract_id))


@bp.post("/contracts")
@requires("planner")
def add_contract():
    """Contract a whole grid ({"grid_code"}) or a drawn polygon ({"geometry": GeoJSON}) to a cadre."""
    body = json_body()
    session = db.session()
    created = create_contract(session, str(body.get("cadre_code") or body.get("cadre") or ""),
                              role=body.get("role") or "", grid_code=body.get("grid_code"),
                              geometry=body.get("geometry"), valid_from=body.get("valid_from"),
                              valid_to=body.get("valid_to"), user_id=current_user().id)
    session.commit()
    return _with_etag(created, 201)


@bp.patch("/contracts/<int(max=2147483647):contract_id>")
@requires("planner")
def patch_contract(contract_id: int):
    """Change role, dates, polygon or flag; needs If-Match with the ETag last read."""
    if_match = request.headers.get("If-Match")
    if not if_match:
        raise PreconditionRequired("Precondition required",
                                   f"Send If-Match with the ETag from GET /api/v1/contracts/{contract_id}, so a "
                                   "change made meanwhile by someone else is not overwritten.")
    body = json_body()
    session = db.session()
    changed = change_contract(session, contract_id, body, if_match=if_match, user_id=current_user().id)
    session.commit()
    return _with_etag(changed)


@bp.post("/contracts/<int(max=2147483647):contract_id>/end")
@requires("planner")
def end(contract_id: int):
    """End a contract on {"on": DATE} (default today): from that day it no longer holds."""
    body = json_body() if request.content_length else {}
    session = db.session()
    ended = end_contract(session, contract_id, body.get("on"), if_match=request.headers.get("If-Match"),
                         user_id=current_user().id)
    session.commit()
    return _with_etag(ended)


@bp.delete("/contracts/<int(max=2147483647):contract_id>")
@requires("planner")
def withdraw(contract_id: int):
    """Withdraw a contract made by mistake or not yet started (one that held earlier must be ended)."""
    session = db.session()
    withdraw_contract(session, contract_id, if_match=request.headers.get("If-Match"), user_id=current_user().id)
    session.commit()
    return "", 204


@bp.post("/contracts/import")
@requires("planner")
def import_():
    """Import contracts from a CSV body (text/csv) or a GeoJSON FeatureCollection; all or nothing.

    ?dry_run=true checks everything and reports what would be created, changing nothing."""
    mimetype = request.mimetype
    if mimetype == "text/csv":
        rows = rows_from_csv(request.get_data())
    elif mimetype in ("application/json", "application/geo+json"):
        rows = rows_from_geojson(request.get_data())
    else:
        raise InvalidInput("Unsupported content type",
                           "Send the contracts as text/csv (columns cadre_code, grid_code, role, valid_from, "
                           "valid_to) or as an application/geo+json FeatureCollection of drawn polygons.")
    session = db.session()
    report = import_contracts(session, rows, user_id=current_user().id, dry_run=_flag("dry_run"))
    if report.dry_run:
        session.rollback()
    else:
        session.commit()
    return jsonify(report.to_dict()), 200 if report.dry_run else 201
