"""Open311 GeoReport v2 at /open311/v2: services, service definitions and requests, in JSON and XML."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from api import db
from api.attachments import allow_upload, limits, serve, store, uploaded
from api.auth import current_user, refuse_token
from api.params import number
from api.residents import is_resident, staff_or_residents
from gis.cases import open311, residents
from gis.core.errors import InvalidInput
from gis.core.users import user_by_token

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
FORMATS = "any(json, xml)"
STAFF = ("admin", "commander")


@bp.before_request
def _upload_limit():
    allow_upload()  # first: reading api_key below parses the form, under the body limit set here


@bp.before_request
def _api_key_is_a_token():
    # GeoReport clients send their key as `api_key` (query or form), not as a bearer header;
    # it is a gridgov user token, so the usual role guard applies to it.
    key = request.values.get("api_key")
    if not key and request.is_json:
        body = request.get_json(silent=True)
        key = body.get("api_key") if isinstance(body, dict) else None
    if key and not request.headers.get("Authorization"):
        user = user_by_token(db.session(), key)
        if user is None:
            refuse_token("Invalid api_key", "The api_key is unknown or revoked; ask an admin for a token.")
        g.user, g.auth_via = user, "token"


def _staff() -> bool:
    user = current_user()
    return user is not None and user.role in STAFF


def _xml(root: str, item: str | None, data: Any) -> Response:
    element = ET.Element(root)
    for entry in (data if item else [data]):
        target = ET.SubElement(element, item) if item else element
        for key, value in entry.items():
            child = ET.SubElement(target, key)
            if isinstance(value, list):
                for sub in value:
                    attr = ET.SubElement(child, "attribute")
                    for k, v in sub.items():
                        ET.SubElement(attr, k).text = _text(v)
            else:
                child.text = _text(value)
    body = ET.tostring(element, encoding="unicode", xml_declaration=False)
    return Response('<?xml version="1.0" encoding="utf-8"?>\n' + body, mimetype="text/xml")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _absolute(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """media_url as a full URL when it is a path on this server (GeoReport clients fetch it as given)."""
    root = request.url_root.rstrip("/")

    def here(url: str | None) -> bool:
        return bool(url) and url.startswith("/") and not url.startswith("//")

    return [r | {"media_url": root + r["media_url"]} if here(r.get("media_url")) else r for r in found]


def _out(fmt: str, root: str, item: str | None, data: Any) -> Response:
    return _xml(root, item, data) if fmt == "xml" else jsonify(data)


def _formats(path: str):
    """Route `path.json`, `path.xml` and the bare `path` (JSON) to one view."""

    def register(view):
        bp.add_url_rule(f"{path}.<{FORMATS}:fmt>", view.__name__, view, methods=["GET"])
        bp.add_url_rule(path, f"{view.__name__}_bare", lambda **kw: view(fmt="json", **kw), methods=["GET"])
        return view

    return register


@_formats("/services")
def services(fmt: str):
    """The service list: one service per active category."""
    return _out(fmt, "services", "service", open311.services(db.session()))


@_formats("/services/<code>")
def service_definition(code: str, fmt: str):
    """A service's definition (no extra attributes)."""
    return _out(fmt, "service_definition", None, open311.service_definition(db.session(), code))


@_formats("/requests")
def list_requests(fmt: str):
    """Requests filtered by service_request_id, or service_code, status and start_date / end_date."""
    args = request.args
    found, omitted = open311.find_requests(db.session(), ids=args.get("service_request_id"),
                                           service_code=args.get("service_code"), status=args.get("status"),
                                           start_date=args.get("start_date"), end_date=args.get("end_date"),
                                           staff=_staff())
    response = _out(fmt, "service_requests", "request", _absolute(found))
    # GeoReport's answer is a bare list, so the count of requests past its 1,000 goes in a header.
    response.headers["X-Omitted-Count"] = str(omitted)
    return response


@_formats("/requests/<int(max=9223372036854775807):request_id>")
def get_request(request_id: int, fmt: str):
    """One request, as a list of one (GeoReport's shape)."""
    found = open311.get_request(db.session(), request_id, staff=_staff())
    return _out(fmt, "service_requests", "request", _absolute([found]))


# -- issue 18: the photos the public view shows, always without their GPS -------------------
@bp.get("/media/<int(max=9223372036854775807):attachment_id>")
def public_photo(attachment_id: int):
    """A published public request's photo, its GPS removed (no sign-in)."""
    public, _thumb, content_type = open311.public_photo(db.session(), attachment_id)
    return serve(store().get(public), content_type, public, "public, no-cache")


@bp.get("/media/<int(max=9223372036854775807):attachment_id>/thumb")
def public_thumb(attachment_id: int):
    """A published public request's photo as a thumbnail (no EXIF; no sign-in)."""
    _public, thumb, _content_type = open311.public_photo(db.session(), attachment_id)
    return serve(store().get(thumb), "image/jpeg", thumb, "public, no-cache")


# -- POST: a new request through the same path as POST /api/v1/events ------------------------
POST_FIELDS = {"api_key", "jurisdiction_id", "service_code", "lat", "long", "address_string", "address_id",
               "email", "device_id", "account_id", "first_name", "last_name", "phone", "description",
               "media_url", "crs"}


def _fields() -> dict[str, Any]:
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise InvalidInput("Malformed JSON", "Send one JSON object, or the form fields of GeoReport v2.")
        return body
    return request.form.to_dict()


@bp.post("/requests", endpoint="create_request_bare")
@bp.post(f"/requests.<{FORMATS}:fmt>")
@staff_or_residents("worker", "commander", "viewer")
def create_request(fmt: str = "json"):
    """Create a service request: an event located, assigned and given its deadline like any report."""
    fields = _fields()
    unknown = sorted(k for k in fields if k not in POST_FIELDS and not k.startswith("attribute["))
    if unknown:
        raise InvalidInput("Unknown field", f"Not a GeoReport v2 field: {', '.join(unknown)}.", parameter=unknown[0])
    if not fields.get("lat") or not fields.get("long"):
        raise InvalidInput("Location required", "Give `lat` and `long` (WGS84, or `crs` such as gcj02); "
                           "an address alone cannot be placed in a grid.", parameter="lat")
    media = uploaded("media", required=False)  # GeoReport v2 over multipart, as FixMyStreet sends it
    session = db.session()
    event, duplicates, omitted = open311.create_request(
        session, current_user(), service_code=fields.get("service_code") or "",
        # No degree ranges here: with a projected `crs` these are metres; to_wgs84 checks each CRS's range.
        lon=number(fields, "long"), lat=number(fields, "lat"),
        crs=fields.get("crs") or "wgs84", description=str(fields.get("description") or ""),
        media_url=fields.get("media_url") or None,
        contact={k: str(fields[k]) for k in ("first_name", "last_name", "email", "phone") if fields.get(k)} or None,
        idempotency_key=request.headers.get("Idempotency-Key"), media=media, store=store(), limits=limits())
    if is_resident() and not event.replayed:
        residents.record_report(session, event.id)  # counts against this address's limit
    session.commit()
    ids = ", ".join(str(d["id"]) for d in duplicates)
    more = f" (… 还有 {omitted} 项未列出 / and {omitted} more)" if omitted else ""
    notice = f"可能与请求 {ids} 重复 possibly a duplicate of {ids}{more}" if duplicates else None
    data = [{"service_request_id": str(event.id), "service_notice": notice, "account_id": fields.get("account_id")}]
    response = _out(fmt, "service_requests", "request", data)
    response.status_code = 201
    return response
