"""The case state table: statuses, moves, which role may make which move from which state, and their labels."""
from __future__ import annotations

from dataclasses import dataclass

from gis.core.models import OPEN_EVENT_STATUSES

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
D, WD = ("department",), ("worker", "commander", "department")  # issue 25: a department's members
# admin may make every move a role may make (as with every route guard); the rules still apply.
TRANSITIONS: tuple[Transition, ...] = (
    *_rows(("reported",), "register", "registered", C, "may correct the category (the deadline follows)"),
    *_rows(("reported", "registered"), "reject", "rejected", C, "reason required: not a case"),
    *_rows(("reported",), "merge", "merged", W, "into an open case; a worker must hold both grids"),
    *_rows(("registered",), "merge", "merged", C, "into an open case"),
    *_rows(("registered", "dispatched", "in_progress"), "dispatch", "dispatched", C,
           "to a department (by default the one the responsibility list proposes) and/or a handler; "
           "at grid level a worker handler must hold the grid"),
    *_rows(("dispatched",), "start", "in_progress", ("worker", "department"),
           "the assigned handler, or a member of the owning department"),
    *_rows(("dispatched", "in_progress"), "handle", "handled", WD,
           "a worker must be the assigned handler, a department member of the owning department; "
           "a note or photo of what was done"),
    *_rows(("dispatched", "in_progress"), "return", "registered", D,
           "退单: a member of the owning department sends it back as not theirs; reason required"),
    *_rows(("handled",), "verify", "closed", W, "by someone other than the handler"),
    *_rows(("handled",), "rework", "dispatched", W, "by someone other than the handler; reason required"),
    *_rows(("registered", "dispatched", "in_progress"), "postpone", None, C,
           "reason and a later deadline required"),
    *_rows(("registered", "dispatched", "in_progress"), "escalate", None, W, "one level up, not above district"),
    *_rows(("registered", "dispatched", "in_progress"), "deescalate", None, C, "one level down, not below grid"),
    *_rows(OPEN_STATUSES, "note", None, WD, "a remark or photo; the state does not change"),
)
USER_MOVES = tuple(dict.fromkeys(t.move for t in TRANSITIONS))

MOVE_LABELS = {
    "report": "上报 report", "register": "立案 register", "reject": "不予立案 reject", "merge": "合并 merge",
    "dispatch": "派遣 dispatch", "start": "接单 start", "handle": "处置反馈 report back",
    "verify": "核查结案 verify & close", "rework": "返工 rework", "postpone": "延期 postpone",
    "escalate": "上报上级 escalate", "deescalate": "下派 de-escalate", "note": "备注 note",
    "overdue": "超期 overdue", "return": "退单 send back",
}
STATUS_LABELS = {
    "reported": "待立案 reported", "registered": "已立案 registered", "dispatched": "已派遣 dispatched",
    "in_progress": "处置中 in progress", "handled": "待核查 handled", "closed": "已结案 closed",
    "rejected": "不予立案 rejected", "merged": "已合并 merged",
}
NEEDS_REASON = {"reject", "rework", "postpone", "return"}


def transition(status: str, move: str) -> Transition | None:
    """The state-table row for `move` from `status`, if there is one."""
    return next((t for t in TRANSITIONS if t.from_status == status and t.move == move), None)


def state_table_markdown() -> str:
    """The state table as a Markdown table (docs/workflow.md shows it)."""
    lines = ["| from | move | to | roles | rule |", "|---|---|---|---|---|"]
    for t in TRANSITIONS:
        lines.append(f"| {t.from_status} | {t.move} | {t.to_status} | {', '.join(t.roles)} | {t.rule} |")
    return "\n".join(lines)
