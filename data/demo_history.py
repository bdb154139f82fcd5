"""Demo case histories: timelines consistent with each demo event's status, so the loop looks lived in.

For demo data only — never run it on real events: it invents who did what and when. Every demo
event without a case clock gets one (level and deadline from its category, by the working-hours
calendar) and the moves its status implies: registered, dispatched to the grid's 网格员 (a user is
made for each 网格员 cadre, without a password), started, reported back, verified by a supervisor,
with some rework, postponements and late closures. Times stay between the report and `now`.
"""
from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gis.cases.workhours import load_calendar
from gis.core import clock, dated
from gis.core.models import Cadre, Event, User
from gis.core.users import create_user
from gis.duties import assign_owners

PATH = {  # the moves after the report that lead to each status
    "reported": [], "rejected": ["reject"], "registered": ["register"],
    "dispatched": ["register", "dispatch"], "in_progress": ["register", "dispatch", "start"],
    "handled": ["register", "dispatch", "start", "handle"],
    "closed": ["register", "dispatch", "start", "handle", "verify"],
}
STEP_MINUTES = {"register": (5, 60), "reject": (5, 60), "dispatch": (5, 45), "postpone": (5, 45), "start": (10, 90)}
NOTES = {"reject": "经核实不属于受理范围", "handle": "已到现场处置完毕，附照片", "verify": "现场核查属实，同意结案",
         "rework": "核查发现未处置到位，请返工", "postpone": "需协调相关部门，申请延期",
         "dispatch": "请尽快到现场核实处置"}


# The demo's verifier, a commander; `gridgov run` gives it the demo password like its other sign-ins.
SUPERVISOR = ("supervisor", "督查员")


def _staff(session: Session) -> tuple[User, User]:
    """The dispatcher (the demo commander when there is one) and a supervisor who verifies."""
    def user(name: str, display: str) -> User:
        found = session.scalar(select(User).where(User.name == name))
        return found or create_user(session, name, "commander", display_name=display)[0]

    dispatcher = session.scalar(select(User).where(User.name == "commander")) or user("dispatcher", "指挥中心值班员")
    return dispatcher, user(*SUPERVISOR)


def grid_workers(session: Session) -> dict[int, int]:
    """A user for every 网格员 cadre holding grids today (scoped to them); grid id → worker user id."""
    rows = session.execute(text(f"""
        SELECT c.id, c.code, c.name, c.user_id, array_agg(DISTINCT k.grid_code ORDER BY k.grid_code) AS codes
        FROM cadres c JOIN contracts k ON k.cadre_id = c.id AND k.grid_code IS NOT NULL
        WHERE c.type = '网格员' AND {dated.in_force('k', 'CURRENT_DATE', open_start=False)}
        GROUP BY c.id ORDER BY c.code
    """)).all()
    for cadre_id, code, name, user_id, codes in rows:
        if user_id is None:
            worker, _ = create_user(session, f"gw{code}"[:64], "worker", grids=codes, display_name=name)
            session.get(Cadre, cadre_id).user_id = worker.id
    session.flush()
    # Each grid's handler: a worker scoped to it, one who can sign in (the demo worker) first.
    return dict(session.execute(text("""
        SELECT DISTINCT ON (g.id) g.id, u.id FROM grids g
        JOIN user_grids ug ON ug.grid_code = g.code JOIN users u ON u.id = ug.user_id
        WHERE u.role = 'worker' AND u.active
        ORDER BY g.id, u.password_hash IS NULL, u.name
    """)).all())


def simulate(session: Session, *, seed: int = 1, now: dt.datetime | None = None) -> int:
    """Give every demo event without a case clock a history matching its status; returns how many.

    Flushes; the caller commits (and the statistics follow through the events trigger and the tick).
    """
    now = now or clock.now(session)
    rng = random.Random(seed)
    calendar = load_calendar(session)
    dispatcher, supervisor = _staff(session)
    workers = grid_workers(session)
    limits = {code: (float(h), level) for code, h, level in session.execute(
        text("SELECT code, time_limit_hours, default_level FROM categories"))}
    events = session.execute(select(Event.id, Event.status, Event.category, Event.reported_at, Event.grid_id,
                                    Event.reporter_id).where(Event.first_deadline_at.is_(None))
                             .order_by(Event.id)).all()
    moves, facts = [], []
    for e in events:
        hours, level = limits[e.category]
        deadline = calendar.add_working_hours(e.reported_at, hours)
        fact = {"id": e.id, "level": level, "first_deadline_at": deadline, "deadline_at": deadline,
                "postponed_count": 0, "rework_count": 0}
        moves.append({"event_id": e.id, "at": e.reported_at, "actor_id": e.reporter_id, "move": "report",
                      "from_status": "reported", "to_status": "reported", "to_level": level, "deadline_at": deadline,
                      "note": ""})
        steps = list(PATH.get(e.status, []))
        if not steps:
            facts.append(fact)
            continue
        handler = workers.get(e.grid_id, dispatcher.id)
        late = rng.random() < 0.15
        if "handle" in steps and rng.random() < 0.08:
            steps[steps.index("handle"):steps.index("handle") + 1] = ["handle", "rework", "handle"]
        if "dispatch" in steps and rng.random() < 0.05:
            steps.insert(steps.index("dispatch") + 1, "postpone")
        # When each step happens: minutes for desk work, a share of the limit (in working hours) for
        # the handling; late cases overrun it. Squeezed into the time since the report when needed.
        t, times = e.reported_at, []
        for move in steps:
            if move == "handle":
                share = rng.uniform(1.05, 1.8) if late else rng.uniform(0.2, 0.8)
                t = calendar.add_working_hours(t, hours * share * (0.5 if "rework" in steps[:len(times)] else 1))
            else:
                t += dt.timedelta(minutes=rng.uniform(*STEP_MINUTES.get(move, (20, 240))))
            times.append(t)
        span = (times[-1] - e.reported_at).total_seconds()
        scale = min(1.0, ((now - e.reported_at).total_seconds() - 60) / span) if span > 0 else 1.0
        previous, status = e.reported_at, "reported"
        for move, when in zip(steps, times, strict=True):
            at = max(e.reported_at + (when - e.reported_at) * max(scale, 0.0), previous + dt.timedelta(seconds=1))
            previous = at
            to = {"register": "registered", "reject": "rejected", "dispatch": "dispatched", "start": "in_progress",
                  "handle": "handled", "verify": "closed", "rework": "dispatched"}.get(move, status)
            row = {"event_id": e.id, "at": at, "move": move, "from_status": status, "to_status": to,
                   "from_level": level, "to_level": level, "note": NOTES.get(move, "")}
            if move in ("register", "reject", "dispatch", "postpone"):
                row["actor_id"] = dispatcher.id
            elif move in ("start", "handle"):
                row["actor_id"] = handler
            else:
                row["actor_id"] = supervisor.id
            if move == "register":
                fact["registered_at"] = at
            elif move == "dispatch":
                row["handler_id"] = fact["handler_id"] = handler
                fact["dispatched_at"] = at
            elif move == "postpone":
                fact["deadline_at"] = row["deadline_at"] = calendar.add_working_hours(deadline, rng.choice((8, 16, 24)))
                fact["postponed_count"] = 1
            elif move == "handle":
                fact["handled_at"] = at
            elif move == "rework":
                fact["rework_count"] += 1
            elif move == "verify":
                fact["closed_at"] = at
                fact["handling_work_hours"] = calendar.working_hours_between(e.reported_at, at)
            moves.append(row)
            status = to
        facts.append(fact)
    _write(session, facts, moves)
    return len(facts)


def _write(session: Session, facts: list[dict], moves: list[dict]) -> None:
    # COPY, then one set-based UPDATE: one statement fires the events trigger once, not once per event.
    session.flush()
    columns = ", ".join(FACT_COLUMNS)
    session.execute(text(f"""
        CREATE TEMP TABLE demo_facts ON COMMIT DROP AS SELECT id, {columns} FROM events WITH NO DATA"""))
    raw = session.connection().connection.dbapi_connection
    with raw.cursor() as cur:
        with cur.copy(f"COPY demo_facts (id, {columns}) FROM STDIN") as copy:
            for fact in facts:
                copy.write_row((fact["id"], *(fact.get(c) for c in FACT_COLUMNS)))
        with cur.copy(f"COPY event_moves ({', '.join(MOVE_COLUMNS)}) FROM STDIN") as copy:
            for move in moves:
                copy.write_row(tuple(move.get(c) for c in MOVE_COLUMNS))
    session.execute(text(f"""
        UPDATE events e SET ({columns}) = ({', '.join(f'f.{c}' for c in FACT_COLUMNS)})
        FROM demo_facts f WHERE e.id = f.id"""))
    session.execute(text("DROP TABLE demo_facts"))
    assign_owners(session)  # issue 25: each dispatched case to the department the list names


FACT_COLUMNS = ("level", "first_deadline_at", "deadline_at", "postponed_count", "rework_count", "registered_at",
                "handler_id", "dispatched_at", "handled_at", "closed_at", "handling_work_hours")
MOVE_COLUMNS = ("event_id", "at", "actor_id", "move", "from_status", "to_status", "from_level", "to_level", "note",
                "handler_id", "deadline_at")


