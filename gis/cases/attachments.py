"""Photos of an event or its moves: stored by hash, flagged (never refused), listed and read as each role may."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from gis.cases.events import CLOCK_SKEW, visible_event_row
from gis.cases.photos import Photo, PhotoLimits, public_type
from gis.core import audit, clock, personal
from gis.core.errors import InvalidInput, NotFound
from gis.core.media import MediaStore
from gis.core.models import Attachment, EventMove, User

ORIGINAL_URL = "/api/v1/attachments/{id}/original"
THUMB_URL = "/api/v1/attachments/{id}/thumb"
_DISTANCE = text("SELECT ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) "
                 "FROM events WHERE id = :id")


def attach(session: Session, store: MediaStore, user: User, event_id: int, photo: Photo, *, limits: PhotoLimits,
           move_id: int | None = None) -> tuple[Attachment, bool]:
    """Attach a checked photo to an event `user` may read (or one of its moves); (attachment, replayed)."""
    # The same photo again for the same event is the stored one (replayed), never a second row.
    # Variants go to `store` first, so a row never points at bytes that are not there. The caller commits.
    row = visible_event_row(session, user, event_id)
    if move_id is not None:
        owner = session.scalar(select(EventMove.event_id).where(EventMove.id == move_id))
        if owner != event_id:
            raise InvalidInput("Invalid move_id", f"Move {move_id} is not a step of event {event_id}'s timeline; "
                               "give the id of one of its moves (GET …/timeline lists them) or leave it out.",
                               parameter="move_id")
    tz = clock.zone_of(session)
    taken_at = clock.local(photo.taken_at, tz) if photo.taken_at is not None else None
    distance = None
    if photo.lon is not None:
        distance = session.execute(_DISTANCE, {"lon": photo.lon, "lat": photo.lat, "id": event_id}).scalar()
    flags = photo_flags(taken_at, distance, reported_at=row.reported_at, now=clock.now(session), limits=limits)
    digest = store.put(photo.data)
    public = store.put(photo.public)
    thumb = store.put(photo.thumb)
    values = {"event_id": event_id, "move_id": move_id, "sha256": digest, "public_sha256": public,
              "thumb_sha256": thumb, "content_type": photo.content_type, "bytes": len(photo.data),
              "width": photo.width, "height": photo.height, "taken_at": taken_at, "taken_lon": photo.lon,
              "taken_lat": photo.lat, "flags": flags, "distance_m": distance, "uploaded_by": user.id}
    # ON CONFLICT: a retry racing the first upload finds its row instead of failing.
    new_id = session.scalar(insert(Attachment).values(**values)
                            .on_conflict_do_nothing(index_elements=["event_id", "sha256"]).returning(Attachment.id))
    replayed = new_id is None
    attachment = session.scalar(select(Attachment).where(Attachment.event_id == event_id,
                                                         Attachment.sha256 == digest))
    # The position stays out of the audit row: the log is read more widely than positions are.
    audit.record(session, "attachment.replay" if replayed else "attachment.create", "attachment", attachment.id,
                 after={"event_id": event_id, "move_id": attachment.move_id, "sha256": digest,
                        "content_type": photo.content_type, "bytes": len(photo.data), "flags": attachment.flags})
    return attachment, replayed


def photo_flags(taken_at: dt.datetime | None, distance_m: float | None, *, reported_at: dt.datetime,
                now: dt.datetime, limits: PhotoLimits) -> list[str]:
    """What a reader should know about a photo: far from the event, old, in the future, or without a time."""
    flags = []
    if distance_m is not None and distance_m > limits.far_m:
        flags.append("far")
    if taken_at is None:
        flags.append("no_exif_time")
    elif taken_at < reported_at - dt.timedelta(hours=limits.old_h):
        flags.append("old")
    elif taken_at > now + CLOCK_SKEW:
        flags.append("future")
    return flags


def attachments_of(session: Session, event_id: int) -> list[Attachment]:
    """The photos of one event, oldest first."""
    return list(session.scalars(select(Attachment).where(Attachment.event_id == event_id)
                                .order_by(Attachment.created_at, Attachment.id)))


def attachments_json(session: Session, attachments: list[Attachment], *, role: str | None,
                     output: str = "event_json") -> list[dict]:
    """The photos as `role` may read them in `output`: their position only where gis/core/personal.py shows it."""
    tz = clock.zone_of(session)
    shown = personal.shown_columns(role, "attachments", output)
    out = []
    for a in attachments:
        item = {"id": a.id, "original_url": ORIGINAL_URL.format(id=a.id), "thumb_url": THUMB_URL.format(id=a.id),
                "content_type": a.content_type, "bytes": a.bytes, "width": a.width, "height": a.height,
                "taken_at": clock.iso(a.taken_at, tz)}
        item.update({column: getattr(a, column) for column in shown})
        item.update({"flags": list(a.flags), "distance_m": round(a.distance_m, 1) if a.distance_m is not None
                     else None, "move_id": a.move_id, "created_at": clock.iso(a.created_at, tz)})
        out.append(item)
    return out


@dataclass(frozen=True)
class StoredPhoto:
    """Which stored bytes a reader receives, and how to serve them."""

    sha256: str
    content_type: str
    attachment: Attachment
    variant: str  # "original", "public" or "thumb"


def photo_for(session: Session, user: User, attachment_id: int, *, thumb: bool = False) -> StoredPhoto:
    """Which bytes of a photo `user` receives (NotFound unless its event is visible to them): original or public."""
    attachment = session.get(Attachment, attachment_id)
    if attachment is None:
        raise NotFound("No such attachment", f"There is no attachment {attachment_id}.")
    try:
        visible_event_row(session, user, attachment.event_id)
    except NotFound:
        raise NotFound("No such attachment", f"There is no attachment {attachment_id} in your grids.") from None
    if thumb:
        return StoredPhoto(attachment.thumb_sha256, "image/jpeg", attachment, "thumb")
    if personal.photo_variant(user.role) == "original":
        return StoredPhoto(attachment.sha256, attachment.content_type, attachment, "original")
    return StoredPhoto(attachment.public_sha256, public_type(attachment.content_type), attachment, "public")


def record_photo_read(session: Session, user: User, photo: StoredPhoto) -> None:
    """Audit that `user` received an original with its GPS in it (a read of a personal field)."""
    if photo.variant == "original" and photo.attachment.taken_lat is not None:
        personal.record_read(session, user.role, "attachments", "photo", [photo.attachment])


def report_move_id(session: Session, event_id: int) -> int | None:
    """The id of an event's 'report' move (a photo sent with the report belongs to it)."""
    return session.scalar(select(EventMove.id).where(EventMove.event_id == event_id, EventMove.move == "report")
                          .order_by(EventMove.id).limit(1))
