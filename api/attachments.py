"""Photos of events: upload (multipart, checked by content), list, and the bytes of originals and thumbnails."""
from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, jsonify, request, url_for

from api import db
from api.auth import current_user, requires
from gis.cases.attachments import attach, attachments_json, attachments_of, photo_for, record_photo_read
from gis.cases.events import visible_event_row
from gis.cases.photos import Photo, PhotoLimits, inspect
from gis.core.errors import InvalidInput
from gis.core.media import MediaStore
from gis.core.personal import record_read

bp = Blueprint("attachments", __name__, url_prefix="/api/v1")
EXT = "gridgov.media"
# Room for the multipart envelope and the small form fields around the file itself.
FORM_SLACK = 256 * 1024
WRITE_ROLES = ("worker", "commander")  # those who write reports (api/events.py); admin always may
READ_ROLES = ("admin", "commander", "planner", "worker")  # those who read events (api/events.py)
UPLOADS = {"attachments.upload", "open311.create_request", "open311.create_request_bare"}


def install(app: Flask, store: MediaStore, limits: PhotoLimits) -> None:
    """Give the app its media store and photo limits (create_app reads the configuration)."""
    app.extensions[EXT] = {"store": store, "limits": limits}


def store() -> MediaStore:
    """The app's media store (local folder or S3 bucket)."""
    return current_app.extensions[EXT]["store"]


def limits() -> PhotoLimits:
    """The app's photo limits."""
    return current_app.extensions[EXT]["limits"]


def allow_upload() -> None:
    """Before anything reads the body: a route that takes a photo accepts a body up to the photo limit."""
    if request.endpoint in UPLOADS and request.method == "POST":
        request.max_content_length = limits().max_bytes + FORM_SLACK


def uploaded(field: str, *, required: bool) -> Photo | None:
    """The photo in multipart field `field`, checked by its content (never its name or declared type)."""
    if not request.mimetype.startswith("multipart/form-data"):
        if required:
            raise InvalidInput("Photo required", f"Send multipart/form-data with the photo in the field `{field}`.",
                               parameter=field)
        return None
    part = request.files.get(field)
    if part is None:
        if required:
            raise InvalidInput("Photo required", f"The form has no file field `{field}`; put the photo there.",
                               parameter=field)
        return None
    # One byte past the limit is enough to know it is over (inspect says so with the limit).
    return inspect(part.stream.read(limits().max_bytes + 1), limits())


def _move_id() -> int | None:
    raw = request.form.get("move_id", "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise InvalidInput("Invalid move_id", "`move_id` is the id of a move of this event (a whole number).",
                           parameter="move_id")
    return int(raw)


@bp.before_request
def _upload_limit():
    allow_upload()


@bp.post("/events/<int(max=9223372036854775807):event_id>/attachments")
@requires(*WRITE_ROLES)
def upload(event_id: int):
    """Attach a photo (multipart field `file`, optional `move_id`); 201, or 200 + Idempotent-Replayed if sent before."""
    photo = uploaded("file", required=True)
    move_id = _move_id()
    user = current_user()
    session = db.session()
    attachment, replayed = attach(session, store(), user, event_id, photo, limits=limits(), move_id=move_id)
    session.commit()
    body = attachments_json(session, [attachment], role=user.role)[0]
    record_read(session, user.role, "attachments", "event_json", [attachment])
    session.commit()
    response = jsonify(body)
    response.status_code = 200 if replayed else 201
    response.headers["Location"] = url_for("attachments.original", attachment_id=attachment.id)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.get("/events/<int(max=9223372036854775807):event_id>/attachments")
@requires(*READ_ROLES)
def index(event_id: int):
    """The photos of an event the caller may read."""
    user = current_user()
    session = db.session()
    visible_event_row(session, user, event_id)
    found = attachments_of(session, event_id)
    record_read(session, user.role, "attachments", "event_json", found)
    db.end_read(session)
    return jsonify({"attachments": attachments_json(session, found, role=user.role)})


def serve(data: bytes, content_type: str, etag: str, cache: str) -> Response:
    """Stored bytes as a response: its hash as a strong ETag, 304 when the client has them already."""
    response = Response(data, mimetype=content_type)
    response.set_etag(etag)
    response.headers["Cache-Control"] = cache
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response.make_conditional(request)


def _photo(attachment_id: int, *, thumb: bool) -> Response:
    user = current_user()
    session = db.session()
    found = photo_for(session, user, attachment_id, thumb=thumb)
    record_photo_read(session, user, found)
    db.end_read(session)
    if request.if_none_match.contains(found.sha256):
        return serve(b"", found.content_type, found.sha256, "private")
    return serve(store().get(found.sha256), found.content_type, found.sha256, "private")


@bp.get("/attachments/<int(max=9223372036854775807):attachment_id>/original")
@requires(*READ_ROLES)
def original(attachment_id: int):
    """The photo: with its EXIF for the readers of its position, without GPS for everyone else."""
    return _photo(attachment_id, thumb=False)


@bp.get("/attachments/<int(max=9223372036854775807):attachment_id>/thumb")
@requires(*READ_ROLES)
def thumb(attachment_id: int):
    """The photo's JPEG thumbnail (≤ 320 px, no EXIF)."""
    return _photo(attachment_id, thumb=True)
