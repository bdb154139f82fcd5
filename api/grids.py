"""Grids and their edits: read versions and history; validate, preview and commit boundary edits."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from api import db
from api.auth import current_user, requires
from api.errors import PreconditionRequired, translated
from api.lang import request_lang
from api.locate import snap_m
from api.params import json_body, number, timestamp
from gis.core.errors import InvalidInput, SetupRequired
from gis.spatial.editing import EditRejected, commit_edit, parse_edit, parse_if_match, validate_edit
from gis.spatial.history import (
    building_grids,
    community_grids,
    event_grids,
    get_edit,
    grid_history,
    grid_version,
    list_edits,
)
from gis.spatial.topology import Rules, validate_partition
from webmap.catalog import problem_text

bp = Blueprint("grids", __name__, url_prefix="/api/v1")

READ_ROLES = ("planner", "commander", "worker", "viewer")
PLAN_ROLES = ("planner",)  # admin always may


def rules() -> Rules:
    """The topology rules configured for this app (GRIDGOV_EDIT_SNAP_M, GRIDGOV_GRID_AREA_M2, …)."""
    try:
        return Rules.from_config(current_app.config)
    except ValueError as exc:
        raise SetupRequired("Bad grid editing settings", str(exc)) from None


def _said(body: dict) -> dict:
    """Each problem of an edit's answer with its sentence in the reader's language (`text`)."""
    lang = request_lang(current_user())
    for key in ("errors", "warnings", "warnings_already"):
        for p in body.get(key) or []:
            p["text"] = problem_text(p, lang)
    return body


def _feature(version: dict) -> dict:
    props = {k: v for k, v in version.items() if k != "geometry"}
    return {"type": "Feature", "id": version["code"], "properties": props, "geometry": version["geometry"]}


def _flag(name: str, default: bool) -> bool:
    value = request.args.get(name, "").lower()
    if value == "":
        return default
    if value in ("1", "true", "yes"):
        return True
    if value in ("0", "false", "no"):
        return False
    raise InvalidInput(f"Invalid {name}", f"`{name}` must be true or false.", parameter=name)


@bp.get("/grids")
@requires(*READ_ROLES)
def grids():
    """?community=CODE[&at=TIME]: the community's grids in force then (now by default), as GeoJSON."""
    community = request.args.get("community", "").strip()
    if not community:
        raise InvalidInput("Missing community", "Give `community` as a 12-digit community code, e.g. "
                           "/api/v1/grids?community=310101001001.", parameter="community")
    rows = community_grids(db.session(), community, timestamp(request.args, "at"))
    return jsonify(type="FeatureCollection", features=[_feature(v) for v in rows])


@bp.get("/grids/<code>")
@requires(*READ_ROLES)
def grid(code: str):
    """One grid: its current version (with the ETag an edit sends back in If-Match), or the one in force ?at=."""
    version = grid_version(db.session(), code, timestamp(request.args, "at"))
    response = jsonify(_feature(version))
    if version["etag"]:
        response.headers["ETag"] = version["etag"]
    return response


@bp.get("/grids/<code>/history")
@requires(*READ_ROLES)
def history(code: str):
    """Every version of a grid code with the edits and lineage around it (?geometry=false to leave shapes out)."""
    return jsonify(grid_history(db.session(), code, geometry=_flag("geometry", True)))


@bp.get("/areas/<code>/partition")
@requires("planner", "commander")
def partition(code: str):
    """Do the current grids tile every community of this district, street or community? Every problem."""
    return jsonify(validate_partition(db.session(), code, rules()).to_dict() | {"area": code})


@bp.post("/grid-edits/validate")
@requires(*PLAN_ROLES)
def validate():
    """Dry run: every error and warning of an edit, and the grids it would close and open. Writes nothing."""
    session = db.session()
    plan = validate_edit(session, parse_edit(json_body()), rules())
    session.rollback()
    return jsonify(plan.to_dict())


@bp.post("/grid-edits/preview")
@requires(*PLAN_ROLES)
def preview():
    """What a commit would do — versions, lineage, buildings, households, open events and contracts that
    move — computed by running the very commit and rolling it back. An edit the commit would refuse
    is a valid answer here: 200 with `valid: false` and every problem (the commit answers 422)."""
    session = db.session()
    try:
        result = commit_edit(session, parse_edit(json_body()), user_id=current_user().id,
                             if_match=parse_if_match(request.headers.get("If-Match")), rules=rules(),
                             snap_m=snap_m(), dry_run=True)
        body = {"valid": True, "errors": []} | result.to_dict()
    except EditRejected as exc:
        code, title = translated(exc.title, 422)
        body = {"valid": False, "preview": True, "title": title, "code": code, "detail": exc.detail,
                "errors": exc.extra["problems"], "warnings": exc.extra.get("warnings", []),
                "rules": exc.extra.get("rules")}
    finally:
        session.rollback()
    return jsonify(_said(body))


@bp.post("/grid-edits")
@requires(*PLAN_ROLES)
def commit():
    """Commit an edit in one transaction; If-Match must list the ETag of every grid it changes."""
    if_match = parse_if_match(request.headers.get("If-Match"))
    if not if_match or "*" in if_match:
        raise PreconditionRequired("Precondition required",
                                   "Send If-Match with the ETag of every grid the edit changes (GET "
                                   "/api/v1/grids/{code}, or `if_match` in the preview), so that an edit made "
                                   "meanwhile by someone else is never overwritten.")
    session = db.session()
    result = commit_edit(session, parse_edit(json_body()), user_id=current_user().id, if_match=if_match,
                         rules=rules(), snap_m=snap_m())
    session.commit()
    response = jsonify(_said(result.to_dict()))
    response.status_code = 201
    response.headers["Location"] = f"/api/v1/grid-edits/{result.edit_id}"
    return response


@bp.get("/grid-edits")
@requires("planner", "commander")
def edits():
    """Committed edits, newest first (?community=CODE, ?limit=N up to 500)."""
    limit = int(number(request.args, "limit", required=False, lo=1, hi=500) or 50)
    edits, omitted = list_edits(db.session(), community_code=request.args.get("community") or None, limit=limit)
    return jsonify(edits=edits, edits_omitted=omitted)


@bp.get("/grid-edits/<int(max=2147483647):edit_id>")
@requires("planner", "commander")
def edit(edit_id: int):
    """One committed edit: the request, the versions it closed and opened, lineage and impact."""
    return jsonify(get_edit(db.session(), edit_id))


@bp.get("/buildings/<code>/grids")
@requires("planner", "commander")
def building_history(code: str):
    """Which grid a building is in now, was in ?at=TIME (the building rule), and every grid that held it."""
    return jsonify(building_grids(db.session(), code, timestamp(request.args, "at")))


@bp.get("/events/<int(max=9223372036854775807):event_id>/grids")
@requires("planner", "commander")
def event_history(event_id: int):
    """Which grid an event is assigned to, was in when it occurred, was in ?at=TIME, and every covering grid."""
    return jsonify(event_grids(db.session(), event_id, timestamp(request.args, "at"), snap_m=snap_m()))
