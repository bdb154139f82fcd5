"""Duties API (issue 25): departments, the responsibility list's import and check, the department league table."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, jsonify, request

from api import db
from api.auth import requires
from api.params import json_body, number
from gis.cases.stats import department_league
from gis.core.errors import InvalidInput
from gis.duties import create_department, departments_json, gaps, import_responsibilities

bp = Blueprint("departments", __name__, url_prefix="/api/v1")


def _date(name: str) -> dt.date | None:
    raw = request.args.get(name)
    try:
        return dt.date.fromisoformat(raw) if raw else None
    except ValueError:
        raise InvalidInput(f"Invalid {name}", f"`{name}` is a date such as 2026-11-01; got {raw[:40]!r}.",
                           parameter=name) from None


def _text(body: dict, name: str, *, required: bool = True) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or len(value) > 200:
        raise InvalidInput(f"Invalid {name}", f"`{name}` is a string of at most 200 characters.", parameter=name)
    return value


@bp.get("/departments")
@requires("commander", "planner")
def list_departments():
    """Every department: code, name, level, area, contact, members."""
    return jsonify(departments=departments_json(db.session()))


@bp.post("/departments")
@requires("admin")
def post_department():
    """Add a department (admin): {"code", "name", "level", "area"?, "contact"?}; 201."""
    body = json_body()
    unknown = sorted(set(body) - {"code", "name", "level", "area", "contact"})
    if unknown:
        raise InvalidInput("Unknown field", f"Not a department field: {', '.join(unknown)}.", parameter=unknown[0])
    session = db.session()
    made = create_department(session, _text(body, "code"), _text(body, "name"), _text(body, "level"),
                             area_code=_text(body, "area", required=False) or None,
                             contact=_text(body, "contact", required=False))
    session.commit()
    return jsonify(id=made.id, code=made.code, name=made.name, level=made.level), 201


@bp.post("/responsibilities/import")
@requires("admin")
def post_responsibilities():
    """Import the responsibility list (admin): a text/csv body, all rows or none; ?dry_run=1 only checks."""
    if request.mimetype != "text/csv":
        raise InvalidInput("CSV body required", "Send the list as Content-Type: text/csv (UTF-8).")
    try:
        csv_text = request.get_data().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("Unreadable text", "The body is not UTF-8 text.") from None
    session = db.session()
    report = import_responsibilities(session, csv_text, dry_run=request.args.get("dry_run") in ("1", "true"))
    if report.dry_run:
        session.rollback()
    else:
        session.commit()
    return jsonify(report.to_dict()), 200 if report.dry_run else 201


@bp.get("/responsibilities/gaps")
@requires("commander", "planner")
def responsibility_gaps():
    """Which categories have no owner at some level in some street, by the list in force today."""
    found = gaps(db.session())
    return jsonify(gaps=[g.__dict__ for g in found], count=len(found))


@bp.get("/stats/departments")
@requires("commander")
def department_stats():
    """按期处置率, 返工率, 退单率 and handling hours per department: ?from=&to=&rank_by=&min_count=."""
    min_count = number(request.args, "min_count", required=False, lo=0, hi=1_000_000)
    return jsonify(department_league(db.session(), date_from=_date("from"), date_to=_date("to"),
                                     rank_by=request.args.get("rank_by", "on_time_handling_ratio"),
                                     min_count=int(min_count) if min_count is not None else None))
