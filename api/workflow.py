"""Workflow API: a case's timeline and moves, likely duplicates, overdue cases, the state table, settings."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, jsonify, redirect, request, url_for

from api import db
from api.auth import csrf_token, current_user, requires, scoped_grids
from api.lang import request_lang, tr
from api.params import json_body, number
from gis.cases import events, queues, workflow
from gis.cases.attachments import attachments_json, attachments_of
from gis.cases.stats import rebuild
from gis.core import clock
from gis.core.errors import Forbidden, InvalidInput
from gis.core.models import Event
from gis.core.personal import record_read
from layers.registry import basemap_layers, describe
from webmap import case as case_pages

bp = Blueprint("workflow", __name__, url_prefix="/api/v1")
pages_bp = Blueprint("case_pages", __name__)

MOVE_FIELDS = {"move", "note", "photo_ref", "handler", "deadline", "extra_hours", "target", "category", "department"}
CASE_ROLES = ("commander", "worker", "department")  # department: its members, on its own cases (issue 25)


def _visible_event(event_id: int) -> Event:
    """The event, if the caller may see it: a worker only in their grids, a department member only its cases."""
    session = db.session()
    event = workflow.get_event(session, event_id)
    user = current_user()
    if user.role == "department" and (user.department_id is None or event.owner_department_id != user.department_id):
        raise Forbidden("Not your department", f"Case {event_id} is not dispatched to your department.")
    grids = scoped_grids(current_user())
    if grids is not None and workflow.event_grid_code(session, event) not in grids:
        raise Forbidden("Outside your grids", f"Event {event_id} is not in one of your grids.")
    return event


def _case(event: Event) -> dict:
    session = db.session()
    user = current_user()
    case = workflow.case_summary(session, event, role=user.role)
    case["status_label"] = tr(f"status.{case['status']}", user)  # the catalog's words, in the reader's language
    timeline = [step | {"label": tr(f"move.{step['move']}", user)} for step in
                workflow.timeline(session, event.id, role=user.role)]
    return {"case": case, "timeline": timeline, "allowed_moves": workflow.allowed_moves(session, event, user),
            # Issue 18: its photos; the timeline output shows no one where they were taken.
            "attachments": attachments_json(session, attachments_of(session, event.id), role=user.role,
                                            output="timeline")}


@bp.get("/workflow")
@requires("commander", "worker", "planner", "viewer")
def state_table():
    """The state table, the move and status labels, and the workflow settings."""
    return jsonify(
        transitions=[{"from": t.from_status, "move": t.move, "to": t.to_status, "roles": list(t.roles),
                      "rule": t.rule} for t in workflow.TRANSITIONS],
        system_moves=list(workflow.SYSTEM_MOVES),
        moves={move: tr(f"move.{move}", current_user()) for move in workflow.MOVE_LABELS},
        statuses={status: tr(f"status.{status}", current_user()) for status in workflow.STATUS_LABELS},
        settings=workflow.settings_view(workflow.get_settings(db.session())))


@bp.put("/workflow/settings/<key>")
@requires("admin")
def put_setting(key: str):
    """Change one workflow setting (admin): body {"value": …}."""
    body = json_body()
    if "value" not in body:
        raise InvalidInput("Missing value", "Send {\"value\": …}.", parameter="value")
    session = db.session()
    value = workflow.set_setting(session, key, body["value"])
    if key == "timezone":
        rebuild(session)
    session.commit()
    return jsonify(key=key, value=value)


@bp.get("/events/<int(max=9223372036854775807):event_id>/timeline")
@requires(*CASE_ROLES)
def event_timeline(event_id: int):
    """The case's state, its every move, and the moves the caller may make now."""
    return jsonify(_case(_visible_event(event_id)))


@bp.post("/events/<int(max=9223372036854775807):event_id>/moves")
@requires(*CASE_ROLES)
def make_move(event_id: int):
    """Make one move on a case (the state table decides who may); 201 with the updated case."""
    body = json_body()
    unknown = sorted(set(body) - MOVE_FIELDS)
    if unknown:
        raise InvalidInput("Unknown field", f"Not a move field: {', '.join(unknown)}. "
                           f"Fields are: {', '.join(sorted(MOVE_FIELDS))}.", parameter=unknown[0])
    if not isinstance(body.get("move"), str):
        raise InvalidInput("Missing move", f"Give `move`: one of {', '.join(workflow.USER_MOVES)}.",
                           parameter="move")
    for name in ("note", "photo_ref", "deadline", "category", "department"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise InvalidInput(f"Invalid {name}", f"`{name}` must be a string.", parameter=name)
    session = db.session()
    user = current_user()
    _visible_event(event_id)
    extra = number(body, "extra_hours", required=False, lo=0, hi=10_000)
    target = body.get("target")
    if target is not None and (isinstance(target, bool) or not str(target).isdigit()):
        raise InvalidInput("Invalid target", "`target` is the id of the case this report duplicates.",
                           parameter="target")
    handler = body.get("handler")
    if handler is not None and (isinstance(handler, bool) or not isinstance(handler, (str, int))):
        raise InvalidInput("Invalid handler", "`handler` is a user name or id.", parameter="handler")
    record = workflow.apply_move(session, event_id, user, body["move"], note=body.get("note") or "",
                                 photo_ref=body.get("photo_ref"), handler=handler, deadline=body.get("deadline"),
                                 extra_hours=extra, target=int(target) if target is not None else None,
                                 category=body.get("category"), department=body.get("department"),
                                 idempotency_key=request.headers.get("Idempotency-Key"))
    session.commit()
    event = workflow.get_event(session, event_id)
    payload = _case(event)
    payload["move"] = next(m for m in payload["timeline"] if m["id"] == record.id)
    if getattr(record, "replayed", False):
        return jsonify(payload), 200, {"Idempotent-Replayed": "true"}
    return jsonify(payload), 201


@bp.get("/cases/mine")
@requires(*CASE_ROLES)
def my_cases():
    """The cases waiting on the caller (a worker: handle, verify; a commander: register, verify, overdue, escalated)."""
    limit = number(request.args, "limit", required=False, lo=1, hi=200)
    if limit is not None and limit != int(limit):
        raise InvalidInput("Invalid limit", "`limit` must be a whole number.", parameter="limit")
    lists, omitted = workflow.todo(db.session(), current_user(), limit=int(limit or 200))
    return jsonify(lists | {f"{name}_omitted": n for name, n in omitted.items()})


@bp.get("/events/<int(max=9223372036854775807):event_id>/duplicates")
@requires("commander", "worker")
def event_duplicates(event_id: int):
    """Open cases of the same category within 50 m and 24 h of this report (likely duplicates)."""
    _visible_event(event_id)
    duplicates, omitted = workflow.duplicates_of(db.session(), event_id)
    return jsonify(duplicates=duplicates, duplicates_omitted=omitted)


@bp.get("/duplicates")
@requires("commander", "worker")
def duplicates_near():
    """Before reporting: open cases of `category` near `lon`,`lat` (WGS84) within 24 h of `at` (default now)."""
    args = request.args
    lon = number(args, "lon", lo=-180, hi=180)
    lat = number(args, "lat", lo=-90, hi=90)
    category = args.get("category", "")
    if not category:
        raise InvalidInput("Missing category", "Give `category`, a category code.", parameter="category")
    at = _time_arg("at") or clock.now(db.session())
    duplicates, omitted = workflow.find_duplicates(db.session(), category=category, lon=lon, lat=lat, at=at)
    return jsonify(duplicates=duplicates, duplicates_omitted=omitted)


def _time_arg(name: str) -> dt.datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"Invalid {name}", f"`{name}` is an ISO 8601 time with an offset.", parameter=name) from None
    if value.tzinfo is None:
        raise InvalidInput(f"Invalid {name}", f"`{name}` needs a time zone offset, e.g. +08:00.", parameter=name)
    return value


@bp.get("/cases/overdue")
@requires("commander", "worker")
def overdue_cases():
    """Open cases past their deadline as GeoJSON (a worker's own grids only), most overdue first."""
    session = db.session()
    limit = int(number(request.args, "limit", required=False, lo=1, hi=10_000) or 2000)
    now = clock.now(session)
    rows = queues.overdue_cases(session, now, grids=scoped_grids(current_user()), limit=limit)
    features = [{"type": "Feature", "id": r.id, "geometry": {"type": "Point", "coordinates": [r.lon, r.lat]},
                 "properties": {"id": r.id, "title": r.title, "category": r.category, "status": r.status,
                                "level": r.level, "grid_code": r.grid_code, "deadline_at": r.deadline_at.isoformat(),
                                "overdue_hours": round((now - r.deadline_at).total_seconds() / 3600, 2)}}
                for r in rows]
    # As OGC API - Features says it: how many matched, how many are here (the rest: past `limit`).
    return jsonify(type="FeatureCollection", features=features, numberMatched=rows[0].matched if rows else 0,
                   numberReturned=len(features))


@pages_bp.get("/cases/<int(max=9223372036854775807):event_id>")
def case_page(event_id: int):
    """The case page: where it is, its state and timeline, and the moves the signed-in user may make."""
    user = current_user()
    if user is None:
        return redirect(url_for("auth.login_form", next=request.path))
    if user.role not in ("admin", *CASE_ROLES):
        raise Forbidden("Role not allowed",
                        f"Cases are for commanders, grid workers and departments; you are {user.role}.")
    session = db.session()
    event = _visible_event(event_id)
    data = _case(event)
    duplicates = workflow.duplicates_of(session, event_id)[0]  # shown to all; the merge form names one
    # What the events API knows of it (the reporter's contact only for its readers, each unmasked read audited).
    row, location = events.get_event(session, user, event_id)
    record_read(session, user.role, "events", "event_json", [row])
    details = events.event_json(row, location, role=user.role)
    details["grid_outline"] = events.grid_outline(session, row.grid_id)
    db.end_read(session)
    cfg = current_app.config
    return case_pages.case_page(data["case"], data["timeline"], data["allowed_moves"], details=details,
                                lonlat=workflow.event_lonlat(session, event_id), lang=request_lang(user),
                                handlers=workflow.handler_choices(session, event), duplicates=duplicates,
                                attachments=data["attachments"],
                                csrf_token=csrf_token(), user_name=user.display_name or user.name, user_key=user.name,
                                time_zone=clock.zone_of(session).key,
                                basemap_url=cfg["BASEMAP_URL"], basemap_attribution=cfg["BASEMAP_ATTRIBUTION"],
                                basemap_layers=[describe(spec) for spec in basemap_layers()])


@pages_bp.get("/cases")
def todo_page():
    """The signed-in person's to-do list of cases, each linking to its case page."""
    user = current_user()
    if user is None:
        return redirect(url_for("auth.login_form", next=request.path))
    if user.role not in ("admin", *CASE_ROLES):
        raise Forbidden("Role not allowed",
                        f"Cases are for commanders, grid workers and departments; you are {user.role}.")
    lists, omitted = workflow.todo(db.session(), user)
    return case_pages.todo_page(lists, omitted, user_name=user.display_name or user.name, lang=request_lang(user))
