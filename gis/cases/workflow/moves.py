"""Moves on a case: who may make which (state, role, grid, rule), making one and recording it, and
starting a new report's clock."""
from __future__ import annotations

import datetime as dt
import math

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gis.cases.stats import refresh_dirty
from gis.cases.workflow.owners import check_member, proposal, resolve_department
from gis.cases.workflow.states import NEEDS_REASON, OPEN_STATUSES, TRANSITIONS, USER_MOVES, Transition, transition
from gis.cases.workhours import WorkCalendar, load_calendar
from gis.core import audit, clock
from gis.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from gis.core.idempotency import idempotency_key as checked_key
from gis.core.models import LEVELS, Category, Department, Event, EventMove, Grid, User, user_grids


def get_event(session: Session, event_id: int, *, lock: bool = False) -> Event:
    """The event with this id (locked FOR UPDATE when `lock`), or NotFound."""
    query = select(Event).where(Event.id == event_id).execution_options(populate_existing=True)
    event = session.scalar(query.with_for_update() if lock else query)
    if event is None:
        raise NotFound("No such event", f"There is no event with id {event_id}.")
    return event


def event_grid_code(session: Session, event: Event) -> str | None:
    """The code of the grid the event is assigned to."""
    return session.scalar(select(Grid.code).where(Grid.id == event.grid_id)) if event.grid_id else None


def _holds_grid(session: Session, user: User, code: str | None) -> bool:
    if code is None:
        return False
    return session.scalar(select(func.count()).select_from(user_grids).where(
        user_grids.c.user_id == user.id, user_grids.c.grid_code == code)) > 0


def _last_handler_ids(session: Session, event: Event) -> set[int]:
    # The handler is the assigned one and whoever reported the work done: neither may verify it.
    ids = {event.handler_id} if event.handler_id else set()
    last = session.scalar(select(EventMove.actor_id).where(EventMove.event_id == event.id, EventMove.move == "handle")
                          .order_by(EventMove.at.desc(), EventMove.id.desc()).limit(1))
    if last:
        ids.add(last)
    return ids


def check_move(session: Session, event: Event, user: User, move: str) -> Transition:
    """The transition `user` may make on `event`, or the error saying why not (state, role, scope, rule)."""
    if move not in USER_MOVES:
        raise InvalidInput("Unknown move", f"`move` must be one of: {', '.join(USER_MOVES)}.", parameter="move")
    row = transition(event.status, move)
    if row is None:
        allowed = [t.move for t in TRANSITIONS if t.from_status == event.status]
        raise Conflict("Move not allowed in this state",
                       f"Event {event.id} is {event.status}; {move} is not possible from there. "
                       + (f"Possible now: {', '.join(allowed)}." if allowed else "The case is finished."),
                       case_status=event.status, allowed=allowed)
    if user.role != "admin" and user.role not in row.roles:
        raise Forbidden("Role not allowed for this move",
                        f"{move} from {event.status} needs the role {' or '.join(row.roles)}; you are {user.role}.")
    if user.role == "worker":
        code = event_grid_code(session, event)
        if not _holds_grid(session, user, code):
            raise Forbidden("Outside your grids",
                            f"Event {event.id} is in grid {code or '(none)'}, which is not one of your grids.")
        if move in ("start", "handle") and event.handler_id != user.id:
            raise Forbidden("Not the handler", f"Event {event.id} is dispatched to someone else; "
                            "only its handler (or a commander) may do this.")
    if user.role == "department":
        check_member(session, event, user)
    if move in ("verify", "rework") and user.id in _last_handler_ids(session, event):
        raise Forbidden("Verification by someone else",
                        "The handler may not verify their own work; a supervisor or the reporter must.")
    return row


def allowed_moves(session: Session, event: Event, user: User) -> list[str]:
    """The moves `user` may make on `event` now (for buttons; the move itself checks again)."""
    out = []
    for t in TRANSITIONS:
        if t.from_status != event.status:
            continue
        try:
            check_move(session, event, user, t.move)
        except (Forbidden, Conflict, InvalidInput):
            continue
        if t.move == "escalate" and event.level == LEVELS[-1] or t.move == "deescalate" and event.level == LEVELS[0]:
            continue
        out.append(t.move)
    return out


def _category(session: Session, code: str) -> Category:
    category = session.get(Category, code)
    if category is None or not category.active:
        raise InvalidInput("Unknown category", f"No active category has code {code!r}; see /open311/v2/services.json.",
                           parameter="category")
    return category


def open_case(session: Session, event: Event, *, calendar: WorkCalendar | None = None,
              photo_ref: str | None = None) -> bool:
    """Start the case clock of a new report: level, deadline, and the 'report' entry of its timeline
    (with the reporter's photo, if any).

    Idempotent: an event that already has a deadline is left alone. Returns whether it did anything.
    """
    if event.first_deadline_at is not None:
        return False
    calendar = calendar or load_calendar(session)
    category = _category(session, event.category)
    deadline = calendar.add_working_hours(event.reported_at, float(category.time_limit_hours))
    event.level = category.default_level
    event.first_deadline_at = event.deadline_at = deadline
    session.add(EventMove(event_id=event.id, at=event.reported_at, actor_id=event.reporter_id, move="report",
                          from_status="reported", to_status="reported", to_level=event.level, deadline_at=deadline,
                          photo_ref=check_photo_ref(photo_ref)))
    session.flush()
    return True


def _resolve_handler(session: Session, event: Event, handler: int | str | None) -> User:
    if handler in (None, ""):
        code = event_grid_code(session, event)
        workers = list(session.scalars(
            select(User).join(user_grids, user_grids.c.user_id == User.id)
            .where(user_grids.c.grid_code == code, User.role == "worker", User.active).order_by(User.name)))
        if len(workers) == 1:
            return workers[0]
        names = ", ".join(w.name for w in workers)
        raise InvalidInput("Handler required",
                           f"Name the `handler`: grid {code or '(none)'} has "
                           + (f"several workers ({names})." if workers else "no worker."), parameter="handler")
    query = (select(User).where(User.id == int(handler)) if str(handler).isdigit()
             else select(User).where(User.name == handler))
    user = session.scalar(query)
    if user is None or not user.active:
        raise InvalidInput("Unknown handler", f"No active user {handler!r}.", parameter="handler")
    if user.role not in ("worker", "commander", "admin", "department"):
        raise InvalidInput("Handler cannot handle", f"{user.name} is a {user.role}; dispatch to a worker, commander "
                           "or department member.", parameter="handler")
    if (event.level == "grid" and user.role == "worker"
            and not _holds_grid(session, user, event_grid_code(session, event))):
        raise InvalidInput("Handler does not hold the grid",
                           f"{user.name} is not a worker of this event's grid; pick one who is, or escalate.",
                           parameter="handler")
    return user


def handler_choices(session: Session, event: Event, *, limit: int = 200) -> list[str]:
    """Who a case may be dispatched to: the workers of its grid, and beyond grid level any worker or commander."""
    query = select(User.name).where(User.active).order_by(User.name).limit(limit)
    if event.level == "grid":
        query = query.join(user_grids, user_grids.c.user_id == User.id).where(
            user_grids.c.grid_code == event_grid_code(session, event), User.role == "worker")
    else:
        query = query.where(User.role.in_(("worker", "commander")))
    return list(session.scalars(query))


def event_lonlat(session: Session, event_id: int) -> tuple[float, float]:
    """The event's WGS84 longitude and latitude."""
    return tuple(session.execute(select(func.ST_X(Event.geom), func.ST_Y(Event.geom))
                                 .where(Event.id == event_id)).one())


def _aware(value: dt.datetime | str | None, name: str) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(f"Invalid {name}", f"`{name}` must be an ISO 8601 time such as "
                               "2026-11-27T18:00:00+08:00.", parameter=name) from None
    if value.tzinfo is None:
        raise InvalidInput(f"Invalid {name}", f"`{name}` needs a time zone offset, e.g. +08:00.", parameter=name)
    return value


def check_photo_ref(photo_ref: str | None) -> str | None:
    """A photo reference as stored: an http(s) URL or a path on this server, or InvalidInput."""
    if photo_ref in (None, ""):
        return None
    photo_ref = str(photo_ref).strip()
    if len(photo_ref) > 1000 or any(c.isspace() for c in photo_ref) or \
            not photo_ref.startswith(("http://", "https://", "/")):
        raise InvalidInput("Invalid photo_ref", "`photo_ref` is a URL (http/https) or a path on this server "
                           "starting with /, without spaces, at most 1000 characters.", parameter="photo_ref")
    return photo_ref


def apply_move(session: Session, event_id: int, user: User, move: str, *, note: str = "",
               photo_ref: str | None = None, handler: int | str | None = None,
               deadline: dt.datetime | str | None = None, extra_hours: float | None = None,
               target: int | None = None, category: str | None = None, department: int | str | None = None,
               at: dt.datetime | None = None,
               calendar: WorkCalendar | None = None, idempotency_key: str | None = None) -> EventMove:
    """Make one move on a case, checked against the state table and its rules, and record it.

    The event row is locked (FOR UPDATE) first, so two people moving the same case at once are
    serialised: the second sees the first's result and gets a 409 if its move no longer fits.
    With an idempotency key, the same user's repeat returns the first move (`replayed = True`).
    """
    key = checked_key(idempotency_key)
    if key:
        first = move_by_key(session, user, key)
        if first is not None:
            return _replay(first, event_id, move)
    at = _aware(at, "at") or clock.now(session)
    note = (note or "").strip()
    if len(note) > 4000:
        raise InvalidInput("Note too long", "Keep the note under 4000 characters.", parameter="note")
    photo_ref = check_photo_ref(photo_ref)
    event = get_event(session, event_id, lock=True)
    calendar = calendar or load_calendar(session)
    open_case(session, event, calendar=calendar)
    row = check_move(session, event, user, move)
    if move in NEEDS_REASON and not note:
        raise InvalidInput("Reason required", f"Say why in `note` when you {move}.", parameter="note")
    if move == "handle" and not (note or photo_ref):
        raise InvalidInput("Report what was done", "Give a `note` or a `photo_ref` of the work done.",
                           parameter="note")

    record = EventMove(event_id=event.id, at=at, actor_id=user.id, move=move, from_status=event.status,
                       to_status=row.to_status, from_level=event.level, to_level=event.level, note=note,
                       photo_ref=photo_ref, idempotency_key=key)
    if move == "register":
        event.registered_at = at
        if category and category != event.category:
            new = _category(session, category)
            record.detail = {"category": {"from": event.category, "to": new.code}}
            event.category = new.code
            event.level = record.to_level = new.default_level
            event.first_deadline_at = event.deadline_at = calendar.add_working_hours(
                event.reported_at, float(new.time_limit_hours))
        _propose_on_register(session, event, record, calendar)
    elif move == "dispatch":
        _dispatch(session, event, record, handler, department)
        event.dispatched_at = event.dispatched_at or at
    elif move == "return":
        record.department_id = event.owner_department_id
        event.owner_department_id = event.handler_id = None
    elif move == "handle":
        event.handled_at = at
    elif move == "verify":
        event.closed_at = at
        event.handling_work_hours = calendar.working_hours_between(event.reported_at, at)
    elif move == "rework":
        event.rework_count += 1
        event.handled_at = None
    elif move == "postpone":
        new_deadline = _new_deadline(calendar, event, deadline, extra_hours)
        record.detail = {"previous_deadline": clock.iso(event.deadline_at, clock.zone_of(session))}
        record.deadline_at = event.deadline_at = new_deadline
        event.postponed_count += 1
        event.overdue_since = None
    elif move in ("escalate", "deescalate"):
        step = 1 if move == "escalate" else -1
        index = LEVELS.index(event.level) + step
        if not 0 <= index < len(LEVELS):
            raise Conflict("No level there", f"The case is already at {event.level} level; "
                           f"it cannot go {'higher' if step > 0 else 'lower'}.")
        event.level = record.to_level = LEVELS[index]
        record.detail = {"proposed_owner": proposal(session, event)}  # the owner at the new level
    elif move == "merge":
        _merge(session, event, user, target, record, at)
    event.status = row.to_status
    event.updated_at = at
    session.add(record)
    session.flush()
    audit.record(session, f"event.{move}", "event", event.id,
                 before={"status": record.from_status, "level": record.from_level},
                 after={"status": record.to_status, "level": record.to_level, "move_id": record.id,
                        "handler_id": record.handler_id, "detail": record.detail})
    refresh_dirty(session)
    return record


def _propose_on_register(session: Session, event: Event, record: EventMove, calendar: WorkCalendar) -> None:
    # The list's owner, named in the move; its time limit, if the row gives one, replaces the category's.
    proposed = proposal(session, event)
    if proposed is not None:
        record.detail = (record.detail or {}) | {"proposed_owner": proposed}
        if proposed["time_limit_hours"] and event.postponed_count == 0:
            event.first_deadline_at = event.deadline_at = calendar.add_working_hours(
                event.reported_at, proposed["time_limit_hours"])
    record.deadline_at = event.deadline_at


def _dispatch(session: Session, event: Event, record: EventMove, handler, department) -> None:
    # To a department named, or the handler's, or the one the list proposes; a handler only when named or when
    # no department owns it (then the grid's one worker, as before departments).
    chosen = resolve_department(session, department)
    assignee = _resolve_handler(session, event, handler) if handler not in (None, "") else None
    if chosen is None and assignee is not None and assignee.department_id is not None:
        chosen = session.get(Department, assignee.department_id)
    if chosen is None and assignee is None:
        proposed = proposal(session, event)
        chosen = session.get(Department, proposed["department_id"]) if proposed else None
    if chosen is None and assignee is None:
        assignee = _resolve_handler(session, event, None)
    if assignee is not None and assignee.role == "department" and assignee.department_id != (chosen and chosen.id):
        raise InvalidInput("Handler not in the department", f"{assignee.name} is not a member of "
                           f"{chosen.name if chosen else 'a department'}.", parameter="handler")
    event.owner_department_id = record.department_id = chosen.id if chosen else None
    event.handler_id = record.handler_id = assignee.id if assignee else None
    if chosen is not None:
        record.detail = {"department": chosen.code}


def move_by_key(session: Session, user: User, key: str) -> EventMove | None:
    """The move `user` made with this Idempotency-Key, if any (a phone's outbox resending after a lost answer)."""
    return session.scalar(select(EventMove).where(EventMove.actor_id == user.id, EventMove.idempotency_key == key))


def _replay(first: EventMove, event_id: int, move: str) -> EventMove:
    if (first.event_id, first.move) != (event_id, move):
        raise Conflict("Idempotency-Key reused", f"This Idempotency-Key was already used for the {first.move} of case "
                       f"{first.event_id}; generate a new key for a new move.", event_id=first.event_id)
    first.replayed = True
    return first


def _new_deadline(calendar: WorkCalendar, event: Event, deadline, extra_hours) -> dt.datetime:
    deadline = _aware(deadline, "deadline")
    if (deadline is None) == (extra_hours is None):
        raise InvalidInput("New deadline required", "Give either `deadline` (ISO time) or `extra_hours` "
                           "(working hours added to the current deadline).", parameter="deadline")
    if extra_hours is not None:
        try:
            hours = float(extra_hours)
        except (TypeError, ValueError):
            raise InvalidInput("Invalid extra_hours", "`extra_hours` is a number of working hours.",
                               parameter="extra_hours") from None
        if not (0 < hours <= 10_000) or not math.isfinite(hours):
            raise InvalidInput("Invalid extra_hours", "`extra_hours` must be between 0 and 10000.",
                               parameter="extra_hours")
        deadline = calendar.add_working_hours(event.deadline_at, hours)
    if deadline <= event.deadline_at:
        raise InvalidInput("Deadline not later", f"A postponement must move the deadline later than "
                           f"{clock.shown(event.deadline_at, calendar.tz)}.", parameter="deadline")
    return deadline


def _merge(session: Session, event: Event, user: User, target_id, record: EventMove, at: dt.datetime) -> None:
    if target_id in (None, ""):
        raise InvalidInput("Target required", "Give `target`: the id of the case this report duplicates.",
                           parameter="target")
    try:
        target_id = int(target_id)
    except (TypeError, ValueError):
        raise InvalidInput("Invalid target", "`target` is an event id.", parameter="target") from None
    if target_id == event.id:
        raise InvalidInput("Invalid target", "A report cannot be merged into itself.", parameter="target")
    target = get_event(session, target_id, lock=True)
    if target.status not in OPEN_STATUSES:
        raise Conflict("Target is not open", f"Event {target.id} is {target.status}; merge into an open case.")
    if user.role == "worker" and not _holds_grid(session, user, event_grid_code(session, target)):
        raise Forbidden("Outside your grids", f"Case {target.id} is not in one of your grids.")
    # Keep merges flat: reports earlier merged into this one now point at the surviving case.
    absorbed = list(session.scalars(select(Event.id).where(Event.merged_into_id == event.id)))
    if absorbed:
        session.execute(update(Event).where(Event.merged_into_id == event.id).values(merged_into_id=target.id))
    event.status, event.merged_into_id = "merged", target.id
    record.detail = {"into": target.id}
    session.add(EventMove(event_id=target.id, at=at, actor_id=user.id, move="merge", from_status=target.status,
                          to_status=target.status, from_level=target.level, to_level=target.level,
                          note=record.note, detail={"report": event.id, "also": absorbed}))
    target.updated_at = at
