"""The case workflow: the state table, moves with their rules, escalation, deadlines, the tick, duplicates."""
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from gis.core import clock
from gis.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from gis.core.models import (LEVELS, OPEN_EVENT_STATUSES, Category, Event, EventMove, Grid, User, WorkflowSetting,
                        user_grids)
from gis.core.settings import default_settings, get_settings
from gis.cases.workhours import WorkCalendar, load_calendar

# The closed loop (七步闭环): a report is registered as a case (立案) or rejected, dispatched to a
# handler, handled and reported back, then verified and closed by someone other than the handler —
# or sent back for rework (返工), which returns it to `dispatched`. Postponement (延期) and
# escalation are moves that keep the state: a postponement moves the deadline, an escalation moves
# the level grid → community → street → district (小事不出村、大事不出镇). Every move, the system's
# included, is a row in event_moves, so the timeline is the case's full history.

OPEN_STATUSES = OPEN_EVENT_STATUSES  # reported … handled: the one definition of "open" (gis.core.models)
ACTIVE_STATUSES = ("registered", "dispatched", "in_progress")  # not yet handled: the clock matters
FINAL_STATUSES = ("closed", "rejected", "merged")
SYSTEM_MOVES = ("report", "overdue")  # recorded by gridgov itself, never requested by a user


@dataclass(frozen=True)
class Transition:
    """One row of the state table: from a state, a move leads to a state, for these roles."""

    from_status: str
    move: str
    to_status: str
    roles: tuple[str, ...]
    rule: str = ""


def _rows(froms: tuple[str, ...], move: str, to: str | None, roles: tuple[str, ...], rule: str = ""):
    return tuple(Transition(f, move, to or f, roles, rule) for f in froms)


C, W = ("commander",), ("worker", "commander")
# admin may make every move a role may make (as with every route guard); the rules still apply.
TRANSITIONS: tuple[Transition, ...] = (
    *_rows(("reported",), "register", "registered", C, "may correct the category (the deadline follows)"),
    *_rows(("reported", "registered"), "reject", "rejected", C, "reason required: not a case"),
    *_rows(("reported",), "merge", "merged", W, "into an open case; a worker must hold both grids"),
    *_rows(("registered",), "merge", "merged", C, "into an open case"),
    *_rows(("registered", "dispatched", "in_progress"), "dispatch", "dispatched", C,
           "to a handler; at grid level a worker handler must hold the grid"),
    *_rows(("dispatched",), "start", "in_progress", ("worker",), "the assigned handler only"),
    *_rows(("dispatched", "in_progress"), "handle", "handled", W,
           "a worker must be the assigned handler; a note or photo of what was done"),
    *_rows(("handled",), "verify", "closed", W, "by someone other than the handler"),
    *_rows(("handled",), "rework", "dispatched", W, "by someone other than the handler; reason required"),
    *_rows(("registered", "dispatched", "in_progress"), "postpone", None, C,
           "reason and a later deadline required"),
    *_rows(("registered", "dispatched", "in_progress"), "escalate", None, W, "one level up, not above district"),
    *_rows(("registered", "dispatched", "in_progress"), "deescalate", None, C, "one level down, not below grid"),
    *_rows(OPEN_STATUSES, "note", None, W, "a remark or photo; the state does not change"),
)
USER_MOVES = tuple(dict.fromkeys(t.move for t in TRANSITIONS))

MOVE_LABELS = {
    "report": "上报 report", "register": "立案 register", "reject": "不予立案 reject", "merge": "合并 merge",
    "dispatch": "派遣 dispatch", "start": "接单 start", "handle": "处置反馈 report back",
    "verify": "核查结案 verify & close", "rework": "返工 rework", "postpone": "延期 postpone",
    "escalate": "上报上级 escalate", "deescalate": "下派 de-escalate", "note": "备注 note",
    "overdue": "超期 overdue",
}
STATUS_LABELS = {
    "reported": "待立案 reported", "registered": "已立案 registered", "dispatched": "已派遣 dispatched",
    "in_progress": "处置中 in progress", "handled": "待核查 handled", "closed": "已结案 closed",
    "rejected": "不予立案 rejected", "merged": "已合并 merged",
}
NEEDS_REASON = {"reject", "rework", "postpone"}


def transition(status: str, move: str) -> Transition | None:
    """The state-table row for `move` from `status`, if there is one."""
    return next((t for t in TRANSITIONS if t.from_status == status and t.move == move), None)


def state_table_markdown() -> str:
    """The state table as a Markdown table (the README shows it)."""
    lines = ["| from | move | to | roles | rule |", "|---|---|---|---|---|"]
    for t in TRANSITIONS:
        lines.append(f"| {t.from_status} | {t.move} | {t.to_status} | {', '.join(t.roles)} | {t.rule} |")
    return "\n".join(lines)


# -- settings -------------------------------------------------------------------------------
def set_setting(session: Session, key: str, value: Any) -> Any:
    """Store one setting after checking it; returns the stored value."""
    defaults = default_settings()
    if key not in defaults or key == "last_tick_at":
        raise InvalidInput("Unknown setting", f"Settings are: {', '.join(k for k in defaults if k != 'last_tick_at')}.")
    value = _check_setting(key, value)
    if key in ("timezone", "work_periods", "workdays"):
        merged = {**get_settings(session), key: value}
        load_calendar(session, merged)  # raises with a clear message when the calendar would be unusable
    session.merge(WorkflowSetting(key=key, value=value))
    session.flush()
    if key == "timezone":
        # This connection follows at once; the others when they next connect (migration 0009).
        session.execute(text("SELECT set_config('TimeZone', :zone, false)"), {"zone": value})
    return value


def _check_setting(key: str, value: Any) -> Any:
    numeric = {"duplicate_radius_m": (1, 5000), "duplicate_window_hours": (1, 24 * 30), "ranking_min_count": (0, 10_000)}
    if key in numeric:
        lo, hi = numeric[key]
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidInput(f"Invalid {key}", f"{key} must be a number between {lo} and {hi}.") from None
        if not (lo <= number <= hi) or not math.isfinite(number):
            raise InvalidInput(f"Invalid {key}", f"{key} must be between {lo} and {hi}; got {value}.")
        return int(number) if key == "ranking_min_count" else number
    if key == "auto_escalate":
        if isinstance(value, str):
            value = {"true": True, "false": False, "on": True, "off": False}.get(value.lower(), value)
        if not isinstance(value, bool):
            raise InvalidInput("Invalid auto_escalate", "auto_escalate is true or false.")
        return value
    if key == "workdays":
        if isinstance(value, str):
            value = [v for v in value.replace(" ", "").split(",") if v]
        try:
            return sorted({int(v) for v in value})
        except (TypeError, ValueError):
            raise InvalidInput("Invalid workdays", "Give ISO weekday numbers, e.g. 1,2,3,4,5.") from None
    if key == "work_periods":
        from gis.cases.workhours import parse_periods

        return [[s.strftime("%H:%M"), e.strftime("%H:%M")] for s, e in parse_periods(value)]
    if key == "open311_private_majors":
        if isinstance(value, str):
            value = [v for v in value.replace(" ", "").split(",") if v]
        return [str(v) for v in value]
    return str(value)


# -- moves ----------------------------------------------------------------------------------
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
    query = select(User).where(User.id == int(handler)) if str(handler).isdigit() else select(User).where(User.name == handler)
    user = session.scalar(query)
    if user is None or not user.active:
        raise InvalidInput("Unknown handler", f"No active user {handler!r}.", parameter="handler")
    if user.role not in ("worker", "commander", "admin"):
        raise InvalidInput("Handler cannot handle", f"{user.name} is a {user.role}; dispatch to a worker or commander.",
                           parameter="handler")
    if event.level == "grid" and user.role == "worker" and not _holds_grid(session, user, event_grid_code(session, event)):
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
    return tuple(session.execute(select(func.ST_X(Event.geom), func.ST_Y(Event.geom)).where(Event.id == event_id)).one())


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
               target: int | None = None, category: str | None = None, at: dt.datetime | None = None,
               calendar: WorkCalendar | None = None) -> EventMove:
    """Make one move on a case, checked against the state table and its rules, and record it.

    The event row is locked (FOR UPDATE) first, so two people moving the same case at once are
    serialised: the second sees the first's result and gets a 409 if its move no longer fits.
    """
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
                       photo_ref=photo_ref)
    if move == "register":
        event.registered_at = at
        if category and category != event.category:
            new = _category(session, category)
            record.detail = {"category": {"from": event.category, "to": new.code}}
            event.category = new.code
            event.level = record.to_level = new.default_level
            event.first_deadline_at = event.deadline_at = calendar.add_working_hours(
                event.reported_at, float(new.time_limit_hours))
        record.deadline_at = event.deadline_at
    elif move == "dispatch":
        assignee = _resolve_handler(session, event, handler)
        event.handler_id = record.handler_id = assignee.id
        event.dispatched_at = event.dispatched_at or at
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
    elif move == "merge":
        _merge(session, event, user, target, record, at)
    event.status = row.to_status
    event.updated_at = at
    session.add(record)
    session.flush()
    from gis.cases.stats import refresh_dirty

    refresh_dirty(session)
    return record


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


# -- the timeline ---------------------------------------------------------------------------
def timeline(session: Session, event_id: int) -> list[dict]:
    """Every move of a case (and of the reports merged into it, marked), oldest first."""
    actor = User.__table__.alias("actor")
    assignee = User.__table__.alias("assignee")
    rows = session.execute(
        select(EventMove, actor.c.name, actor.c.display_name, actor.c.role, assignee.c.name)
        .outerjoin(actor, actor.c.id == EventMove.actor_id)
        .outerjoin(assignee, assignee.c.id == EventMove.handler_id)
        .where(EventMove.event_id == event_id).order_by(EventMove.at, EventMove.id)).all()
    tz = clock.zone_of(session)
    out = []
    for move, actor_name, actor_display, actor_role, handler_name in rows:
        out.append({
            "id": move.id, "at": clock.iso(move.at, tz), "move": move.move, "label": MOVE_LABELS[move.move],
            "actor": ({"name": actor_name, "display_name": actor_display, "role": actor_role}
                      if actor_name else None),
            "from_status": move.from_status, "to_status": move.to_status,
            "from_level": move.from_level, "to_level": move.to_level, "note": move.note,
            "photo_ref": move.photo_ref, "handler": handler_name,
            "deadline_at": clock.iso(move.deadline_at, tz), "detail": move.detail,
        })
    if not out or out[0]["move"] != "report":
        out.insert(0, _report_entry(session, event_id))
    return out


def _report_entry(session: Session, event_id: int) -> dict:
    # A report whose clock the tick has not started yet (written by an import or another path) still
    # begins its timeline with the report itself, taken from the event row.
    event = get_event(session, event_id)
    reporter = session.get(User, event.reporter_id) if event.reporter_id else None
    tz = clock.zone_of(session)
    return {"id": None, "at": clock.iso(event.reported_at, tz), "move": "report", "label": MOVE_LABELS["report"],
            "actor": ({"name": reporter.name, "display_name": reporter.display_name, "role": reporter.role}
                      if reporter else None),
            "from_status": "reported", "to_status": "reported", "from_level": None, "to_level": event.level,
            "note": "", "photo_ref": None, "handler": None,
            "deadline_at": clock.iso(event.deadline_at, tz), "detail": None}


def case_summary(session: Session, event: Event, *, now: dt.datetime | None = None) -> dict:
    """The case's workflow state: status, level, handler, deadline, overdue, counts, merge links."""
    now = now or clock.now(session)
    tz = clock.zone_of(session)

    def _iso(value: dt.datetime | None) -> str | None:
        return clock.iso(value, tz)

    handler = session.get(User, event.handler_id) if event.handler_id else None
    merged = list(session.scalars(select(Event.id).where(Event.merged_into_id == event.id).order_by(Event.id)))
    return {
        "id": event.id, "status": event.status, "status_label": STATUS_LABELS[event.status],
        "category": event.category, "title": event.title, "level": event.level,
        "handler": handler.name if handler else None,
        "reported_at": _iso(event.reported_at), "registered_at": _iso(event.registered_at),
        "dispatched_at": _iso(event.dispatched_at), "handled_at": _iso(event.handled_at),
        "closed_at": _iso(event.closed_at), "first_deadline_at": _iso(event.first_deadline_at),
        "deadline_at": _iso(event.deadline_at), "overdue": is_overdue(event, now),
        "postponed_count": event.postponed_count, "rework_count": event.rework_count,
        "merged_into": event.merged_into_id, "merged_reports": merged,
        "handling_work_hours": event.handling_work_hours,
    }


def is_overdue(event: Event, now: dt.datetime) -> bool:
    """An open case whose deadline in force has passed."""
    return event.status in OPEN_STATUSES and event.deadline_at is not None and event.deadline_at < now


# -- what waits on whom ---------------------------------------------------------------------
def todo(session: Session, user: User, *, now: dt.datetime | None = None,
         limit: int = 200) -> tuple[dict[str, list[dict]], dict[str, int]]:
    """The cases waiting on `user`, by kind, most urgent (earliest deadline) first, and how many of
    each kind were left out past `limit`.

    A worker: cases dispatched to them, and handled cases in their grids that someone else handled
    (to verify). A commander or admin: reports to register, handled cases to verify (not their own
    work), and overdue cases.
    """
    now = now or clock.now(session)
    tz = clock.zone_of(session)
    columns = (Event.id, Event.title, Event.category, Event.status, Event.level, Event.deadline_at, Grid.code,
               func.count().over().label("matched"))
    base = select(*columns).outerjoin(Grid, Grid.id == Event.grid_id).order_by(Event.deadline_at, Event.id).limit(limit)
    not_mine = ~Event.id.in_(select(EventMove.event_id).where(EventMove.move == "handle", EventMove.actor_id == user.id))
    lists: dict[str, Any] = {}
    if user.role == "worker":
        my_grids = select(user_grids.c.grid_code).where(user_grids.c.user_id == user.id)
        lists["to_handle"] = base.where(Event.handler_id == user.id, Event.status.in_(("dispatched", "in_progress")))
        lists["to_verify"] = base.where(Event.status == "handled", Event.handler_id.is_distinct_from(user.id),
                                        not_mine, Grid.code.in_(my_grids))
    elif user.role in ("commander", "admin"):
        lists["to_register"] = base.where(Event.status == "reported")
        lists["to_verify"] = base.where(Event.status == "handled", Event.handler_id.is_distinct_from(user.id), not_mine)
        lists["overdue"] = base.where(Event.status.in_(OPEN_STATUSES), Event.deadline_at < now)
    found, omitted = {}, {}
    for name, query in lists.items():
        rows = session.execute(query).all()
        found[name] = [{"id": r.id, "title": r.title, "category": r.category, "status": r.status, "level": r.level,
                        "deadline_at": clock.iso(r.deadline_at, tz), "grid_code": r.code,
                        "overdue": r.deadline_at is not None and r.deadline_at < now} for r in rows]
        omitted[name] = rows[0].matched - len(rows) if rows else 0
    return found, omitted


# -- the tick -------------------------------------------------------------------------------
@dataclass
class TickResult:
    """What one tick did."""

    opened: int = 0
    overdue: int = 0
    escalated: int = 0
    stats_keys: int = 0

    def describe(self) -> str:
        """One line for the CLI."""
        return (f"{self.opened} reports given a deadline, {self.overdue} cases newly overdue, "
                f"{self.escalated} escalated, {self.stats_keys} summary rows refreshed")


ADOPT_BATCH = 5000


def tick(session: Session, *, now: dt.datetime | None = None, auto_escalate: bool | None = None) -> TickResult:
    """Time-driven work: give reports their deadline, flag newly overdue cases (escalating them one
    level when auto_escalate is on), and refresh the summary rows whose cases fell due since the last tick."""
    from gis.cases.stats import mark_due_dirty, refresh_counters, refresh_dirty

    now = now or clock.now(session)
    settings = get_settings(session)
    calendar = load_calendar(session, settings)
    auto = settings["auto_escalate"] if auto_escalate is None else auto_escalate
    result = TickResult()
    # Reports written by other paths (imports, the events API) get their clock started here.
    for event in session.scalars(select(Event).where(Event.first_deadline_at.is_(None),
                                                     Event.status.in_(OPEN_STATUSES))
                                 .order_by(Event.id).limit(ADOPT_BATCH).with_for_update(skip_locked=True)):
        result.opened += open_case(session, event, calendar=calendar)
    open_list = ", ".join(f"'{s}'" for s in OPEN_STATUSES)
    flagged = session.execute(text(f"""
        WITH due AS (
            SELECT id FROM events
            WHERE status IN ({open_list}) AND deadline_at <= :now AND overdue_since IS NULL
            ORDER BY id FOR UPDATE SKIP LOCKED),
        upd AS (
            UPDATE events e SET overdue_since = e.deadline_at, updated_at = :now FROM due WHERE e.id = due.id
            RETURNING e.id, e.status, e.level, e.deadline_at)
        INSERT INTO event_moves (event_id, at, move, from_status, to_status, from_level, to_level, note, deadline_at)
        SELECT id, :now, 'overdue', status, status, level, level, '超期未办结 deadline passed', deadline_at FROM upd
        RETURNING event_id, from_status, from_level
    """), {"now": now}).all()
    result.overdue = len(flagged)
    if auto:
        ids = [r.event_id for r in flagged if r.from_status in ACTIVE_STATUSES and r.from_level != LEVELS[-1]]
        if ids:
            escalated = session.execute(text("""
                WITH upd AS (
                    UPDATE events e SET level = CASE e.level WHEN 'grid' THEN 'community'
                        WHEN 'community' THEN 'street' ELSE 'district' END, updated_at = :now
                    FROM (SELECT id, level AS old_level FROM events WHERE id = ANY(:ids)) o
                    WHERE e.id = o.id RETURNING e.id, e.status, o.old_level, e.level)
                INSERT INTO event_moves (event_id, at, move, from_status, to_status, from_level, to_level, note)
                SELECT id, :now, 'escalate', status, status, old_level, level, '超期自动上报 auto-escalated: overdue'
                FROM upd RETURNING event_id
            """), {"now": now, "ids": ids}).all()
            result.escalated = len(escalated)
    last = settings.get("last_tick_at")
    since = dt.datetime.fromisoformat(last) if last else None
    mark_due_dirty(session, since=since, until=now, timezone=settings["timezone"])
    result.stats_keys = refresh_dirty(session, now=now)
    session.merge(WorkflowSetting(key="last_tick_at", value=now.isoformat()))
    session.flush()
    refresh_counters(session)
    return result


# -- duplicates -----------------------------------------------------------------------------
def find_duplicates(session: Session, *, category: str, lon: float, lat: float, at: dt.datetime,
                    exclude_id: int | None = None, radius_m: float | None = None,
                    window_hours: float | None = None, limit: int = 20) -> tuple[list[dict], int]:
    """Open cases of the same category within `radius_m` (geodesic, default 50 m) and `window_hours`
    (default 24 h, either side of `at`) of a report, nearest first — the likely duplicates to offer —
    and how many more than `limit` there were.

    Merged reports are not offered (their case is); the bounding test on the geometry index comes
    first and the exact distance on the spheroid (geography) decides.
    """
    settings = get_settings(session)
    radius_m = float(settings["duplicate_radius_m"] if radius_m is None else radius_m)
    window = dt.timedelta(hours=float(settings["duplicate_window_hours"] if window_hours is None else window_hours))
    # Degrees that surely cover radius_m at this latitude (longitude degrees shrink with cos(lat)).
    pad_deg = radius_m / (111_000.0 * max(math.cos(math.radians(min(abs(lat), 89.0))), 0.01)) * 1.1
    point = func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)
    distance = func.ST_Distance(func.Geography(Event.geom), func.Geography(point))
    rows = session.execute(
        select(Event.id, Event.title, Event.status, Event.category, Event.reported_at, distance.label("distance_m"),
               func.count().over().label("matched"))
        .where(Event.category == category, Event.status.in_(OPEN_STATUSES),
               func.ST_DWithin(Event.geom, point, pad_deg),
               func.ST_DWithin(func.Geography(Event.geom), func.Geography(point), radius_m),
               Event.reported_at >= at - window, Event.reported_at <= at + window,
               *([Event.id != exclude_id] if exclude_id else []))
        .order_by(distance, Event.id).limit(limit)).all()
    tz = clock.zone_of(session)
    return [{"id": r.id, "title": r.title, "status": r.status, "category": r.category,
             "reported_at": clock.iso(r.reported_at, tz), "distance_m": round(r.distance_m, 2)} for r in rows], \
        (rows[0].matched - len(rows) if rows else 0)


def duplicates_of(session: Session, event_id: int, **kwargs) -> tuple[list[dict], int]:
    """Likely duplicates of an existing report and how many were left out (see find_duplicates)."""
    event = get_event(session, event_id)
    lon, lat = event_lonlat(session, event.id)
    return find_duplicates(session, category=event.category, lon=lon, lat=lat, at=event.reported_at,
                           exclude_id=event.id, **kwargs)


def settings_view(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Settings without internal bookkeeping, for display."""
    return {k: v for k, v in settings.items() if k != "last_tick_at"}
