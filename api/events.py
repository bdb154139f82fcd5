"""Events: report one (POST, assigned in the same transaction), list them, read one."""
from __future__ import annotations

from flask import Blueprint, jsonify, request, url_for

from api import db
from api.auth import current_user, requires
from api.locate import MAX_ACCURACY_M, snap_m
from api.params import bbox, json_body, number, timestamp
from gis.cases.attachments import attachments_json, attachments_of
from gis.cases.events import EventFilter, create_event, event_json, event_row, get_event, list_events
from gis.cases.publication import publish
from gis.cases.workflow import duplicates_of
from gis.core.errors import InvalidInput
from gis.core.personal import record_read

bp = Blueprint("events", __name__, url_prefix="/api/v1")

# Residents' contacts are for the people who dispatch and follow up (gis/core/personal.py says who).
READ_ROLES = ("admin", "commander", "planner", "worker")


@bp.post("/events")
@requires("worker", "commander")
def report():
    """Create an event from JSON (lon, lat, crs, accuracy_m, category, title, …); 201 with its assignment."""
    body = json_body()
    user = current_user()
    session = db.session()
    for name in ("category", "title", "description", "crs"):
        if name in body and body[name] is not None and not isinstance(body[name], str):
            raise InvalidInput(f"Invalid {name}", f"`{name}` must be text.", parameter=name)
    event, location = create_event(
        session, user, lon=number(body, "lon"), lat=number(body, "lat"), crs=body.get("crs"),
        accuracy_m=number(body, "accuracy_m", required=False, lo=0, hi=MAX_ACCURACY_M),
        category=body.get("category"), title=body.get("title"), description=body.get("description") or "",
        occurred_at=timestamp(body, "occurred_at"), idempotency_key=request.headers.get("Idempotency-Key"),
        contact=body.get("contact"), snap_m=snap_m())
    duplicates, duplicates_omitted = duplicates_of(session, event.id)  # issue #8: offered on report
    session.commit()
    row = event_row(session, event.id)
    photos = attachments_of(session, event.id)  # a replayed report may have photos already
    record_read(session, user.role, "events", "event_json", [row])
    record_read(session, user.role, "attachments", "event_json", photos)
    session.commit()
    response = jsonify({**event_json(row, location, role=user.role,
                                     attachments=attachments_json(session, photos, role=user.role)),
                        "duplicates": duplicates, "duplicates_omitted": duplicates_omitted})
    response.status_code = 201
    response.headers["Location"] = url_for("events.one", event_id=event.id)
    if event.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.get("/events")
@requires(*READ_ROLES)
def index():
    """Events filtered by bbox, grid, community, street, district, status, category, since/until."""
    args = request.args
    user = current_user()
    flt = EventFilter(
        bbox=bbox(args), grid=args.get("grid") or None, community=args.get("community") or None,
        street=args.get("street") or None, district=args.get("district") or None,
        status=_list(args.get("status")), assign_status=_list(args.get("assign_status")),
        category=args.get("category") or None, since=timestamp(args, "since"), until=timestamp(args, "until"))
    limit = number(args, "limit", required=False, lo=1, hi=500)
    if limit is not None and limit != int(limit):
        raise InvalidInput("Invalid limit", "`limit` must be a whole number.", parameter="limit")
    session = db.session()
    page, cursor, omitted = list_events(session, user, flt, limit=int(limit or 50), cursor=args.get("cursor") or None)
    record_read(session, user.role, "events", "event_json", [row for row, _ in page])
    db.end_read(session)  # commits the audit row of the personal fields read, if any
    out = {"events": [event_json(row, loc, role=user.role) for row, loc in page],
           "events_omitted": omitted, "next": None}  # omitted: matching events after this page
    if cursor:
        out["next"] = url_for("events.index", **{**args.to_dict(), "cursor": cursor})
    return jsonify(out)


@bp.get("/events/<int(max=9223372036854775807):event_id>")
@requires(*READ_ROLES)
def one(event_id: int):
    """One event with its assignment and the cadres contracted where and when it occurred."""
    user = current_user()
    session = db.session()
    row, location = get_event(session, user, event_id)
    photos = attachments_of(session, event_id)
    record_read(session, user.role, "events", "event_json", [row])
    record_read(session, user.role, "attachments", "event_json", photos)
    db.end_read(session)  # commits the audit rows of the personal fields read, if any
    return jsonify(event_json(row, location, role=user.role,
                              attachments=attachments_json(session, photos, role=user.role)))


def _list(raw: str | None) -> list[str] | None:
    values = [v.strip() for v in (raw or "").split(",") if v.strip()]
    return values or None


@bp.post("/events/<int(max=9223372036854775807):event_id>/publish")
@requires("commander")
def publish_event(event_id: int):
    """Publish a public report to Open311 (body {"publish": true, "reply": "…"}, both optional)."""
    body = json_body()
    unknown = sorted(set(body) - {"publish", "reply"})
    if unknown:
        raise InvalidInput("Unknown field", f"Not a publish field: {', '.join(unknown)}; send publish and/or reply.",
                           parameter=unknown[0])
    if not isinstance(body.get("publish", True), bool):
        raise InvalidInput("Invalid publish", "`publish` is true (publish) or false (withdraw).", parameter="publish")
    session = db.session()
    event = publish(session, event_id, current_user(), reply=body.get("reply"),
                    publish_text=body.get("publish", True))
    session.commit()
    return jsonify({"id": event.id, "published_at": event.published_at.isoformat() if event.published_at else None,
                    "public_reply": event.public_reply})
