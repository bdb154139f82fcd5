"""Command-center data besides layers: the counters panel and place search."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from api import db
from api.auth import current_user, requires, scoped_grids
from gis.cases.dashboard import command_counters, search_places
from gis.core.errors import InvalidInput
from gis.core.models import ROLES

bp = Blueprint("command", __name__, url_prefix="/api/v1")


@bp.get("/counters")
@requires("admin", "commander", "planner", "worker")
def counters():
    """Today's and open events (a worker: in their grids); overdue and closure rate come with #8."""
    return jsonify(command_counters(db.session(), scoped_grids(current_user())))


@bp.get("/search")
@requires(*ROLES)
def search():
    """Grids, areas and buildings by code prefix or name (?q=, at least 2 characters)."""
    q = request.args.get("q", "").strip()
    if len(q) < 2 or len(q) > 64:
        raise InvalidInput("Invalid q", "Search with `q` of 2–64 characters: a grid code, or part of a name.",
                           parameter="q")
    results, omitted = search_places(db.session(), q)
    return jsonify(results=results, results_omitted=omitted)
