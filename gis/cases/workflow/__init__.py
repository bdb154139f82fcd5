"""The case workflow: the state table, moves with their rules, escalation, deadlines, the tick, duplicates.

states ← moves (and settings) ← timelines, to-do lists, the ticker, duplicates; gis.cases.stats keeps the
summary rows the moves and the tick mark.
"""
from gis.cases.workflow.duplicates import duplicates_of, find_duplicates
from gis.cases.workflow.moves import (
    allowed_moves,
    apply_move,
    check_move,
    check_photo_ref,
    event_grid_code,
    event_lonlat,
    get_event,
    handler_choices,
    open_case,
)
from gis.cases.workflow.settings import set_setting, settings_view
from gis.cases.workflow.states import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    MOVE_LABELS,
    NEEDS_REASON,
    OPEN_STATUSES,
    STATUS_LABELS,
    SYSTEM_MOVES,
    TRANSITIONS,
    USER_MOVES,
    Transition,
    state_table_markdown,
    transition,
)
from gis.cases.workflow.ticker import ADOPT_BATCH, TickResult, tick
from gis.cases.workflow.timelines import case_summary, is_overdue, timeline
from gis.cases.workflow.todo_lists import todo
from gis.cases.workhours import load_calendar
from gis.core.settings import get_settings

__all__ = ["ACTIVE_STATUSES", "ADOPT_BATCH", "FINAL_STATUSES", "MOVE_LABELS", "NEEDS_REASON", "OPEN_STATUSES",
           "STATUS_LABELS", "SYSTEM_MOVES", "TRANSITIONS", "USER_MOVES", "TickResult", "Transition", "allowed_moves",
           "apply_move", "case_summary", "check_move", "check_photo_ref", "duplicates_of", "event_grid_code",
           "event_lonlat", "find_duplicates", "get_event", "get_settings", "handler_choices", "is_overdue",
           "load_calendar", "open_case", "set_setting", "settings_view", "state_table_markdown", "tick", "timeline",
           "todo", "transition"]
