"""The audit trail: one append-only row per write, and per read of personal data — who, when, what, from where."""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from gis.core.models import AuditEntry

# Where a change comes from is known at the edge (the API's request, a CLI command, the ticker),
# what it changes deep inside gis. The edge sets the origin for its unit of work in a context
# variable (per thread, per task); `record` reads it, so no domain function passes the request on.


@dataclass(frozen=True)
class Origin:
    """Who is acting and from where: set by the API per request, by the CLI per command."""

    via: str = "system"  # token, session, cli, system
    user_id: int | None = None
    actor: str | None = None  # the user's name at the time (kept when the user is gone)
    address: str | None = None  # the client's address
    request_id: str | None = None


_SYSTEM = Origin()
_ORIGIN: ContextVar[Origin | None] = ContextVar("gridgov_audit_origin", default=None)


def current_origin() -> Origin:
    """The origin of the work running now (system when nobody set one)."""
    return _ORIGIN.get() or _SYSTEM


@contextmanager
def acting(**fields: Any) -> Iterator[Origin]:
    """Run a block with an origin (fields over the current one's); the previous one comes back after."""
    token = _ORIGIN.set(dataclasses.replace(current_origin(), **fields))
    try:
        yield current_origin()
    finally:
        _ORIGIN.reset(token)


def identify(*, user_id: int | None, actor: str | None, via: str) -> None:
    """Name the user of the unit of work already under way (the API, once it knows who calls)."""
    _ORIGIN.set(dataclasses.replace(current_origin(), user_id=user_id, actor=actor, via=via))


def record(session: Session, action: str, entity: str, entity_id: Any = None, *, before: dict | None = None,
           after: dict | None = None, user_id: int | None = None, actor: str | None = None) -> AuditEntry:
    """Append one audit row in the session's transaction (it lands or goes with the change itself)."""
    origin = current_origin()
    entry = AuditEntry(action=action, entity=entity, entity_id=None if entity_id is None else str(entity_id),
                       before=before, after=after, user_id=user_id if user_id is not None else origin.user_id,
                       actor=actor or origin.actor, via=origin.via, address=origin.address,
                       request_id=origin.request_id)
    session.add(entry)
    return entry


@event.listens_for(Session, "before_flush")
def _stamp_origin(session: Session, _context, _instances) -> None:
    # Audit rows made directly (AuditEntry(...)) get the same origin as those made by `record`.
    origin = current_origin()
    for entry in session.new:
        if isinstance(entry, AuditEntry):
            entry.user_id = entry.user_id if entry.user_id is not None else origin.user_id
            entry.actor = entry.actor or origin.actor
            entry.via = entry.via or origin.via
            entry.address = entry.address or origin.address
            entry.request_id = entry.request_id or origin.request_id
