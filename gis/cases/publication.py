"""Publishing a public report: staff accept its description and photo for the Open311 public view, and reply."""
from __future__ import annotations

from sqlalchemy.orm import Session

from gis.core import audit, clock
from gis.core.errors import Conflict, InvalidInput, NotFound
from gis.core.models import Event, User

REPLY_MAX = 1000


def publish(session: Session, event_id: int, user: User, *, reply: str | None = None,
            publish_text: bool = True) -> Event:
    """Publish a public-channel report (its masked description and photo) and/or set its public reply.

    Only reports made through Open311 are published: a worker-filed case holds what residents told
    a worker in person. `publish_text=False` withdraws a publication. Audited; the caller commits.
    """
    event = session.get(Event, event_id)
    if event is None:
        raise NotFound("No such event", f"There is no event {event_id}.")
    if event.channel != "open311":
        raise Conflict("Not a public report", f"事件 {event_id} 由工作人员上报，不公开 event {event_id} was filed by "
                       "staff, not through Open311; only public reports are published.", event_id=event_id)
    if reply is not None and (not isinstance(reply, str) or len(reply) > REPLY_MAX):
        raise InvalidInput("Invalid reply", f"`reply` is the text residents read, at most {REPLY_MAX} characters.",
                           parameter="reply")
    before = {"published_at": clock.iso(event.published_at, clock.zone_of(session)), "public_reply": event.public_reply}
    event.published_at = (event.published_at or clock.now(session)) if publish_text else None
    if reply is not None:
        event.public_reply = reply.strip() or None
    session.flush()
    audit.record(session, "publish", "events", event_id, before=before,
                 after={"published_at": clock.iso(event.published_at, clock.zone_of(session)),
                        "public_reply": event.public_reply}, user_id=user.id)
    return event
