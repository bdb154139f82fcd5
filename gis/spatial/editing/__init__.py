"""Planners redraw grid boundaries: parse an edit, plan and check it, preview what moves, commit dated versions.

The phases, one module each: parse (the request) → context (the community as stored) → plan (what
closes and opens, every problem) → commit (dated versions, lineage, audit) with impact (buildings,
open events, contracts). docs/editing.md says the rules.
"""
from gis.spatial.editing.commit import EditRejected, EditResult, commit_edit
from gis.spatial.editing.context import SEQUENCE_MAX, Context, Current, GridRetired, issue_codes, load_context
from gis.spatial.editing.impact import MAX_LISTED_IDS
from gis.spatial.editing.parse import MAX_MOVES, NAME_MAX, NOTE_MAX, Edit, grid_etag, parse_edit, parse_if_match
from gis.spatial.editing.plan import Opening, Plan, plan_edit, validate_edit

__all__ = ["MAX_LISTED_IDS", "MAX_MOVES", "NAME_MAX", "NOTE_MAX", "SEQUENCE_MAX", "Context", "Current", "Edit",
           "EditRejected", "EditResult", "GridRetired", "Opening", "Plan", "commit_edit", "grid_etag", "issue_codes",
           "load_context", "parse_edit", "parse_if_match", "plan_edit", "validate_edit"]
