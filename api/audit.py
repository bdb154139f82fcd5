"""The audit trail over HTTP: GET /api/v1/audit (admin), filtered and paged like the CLI's `gridgov audit`."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from api import db
from api.auth import requires
from api.params import number, timestamp
from gis.core import clock
from gis.core.audit_query import AuditFilter, query_audit
from gis.core.errors import InvalidInput

bp = Blueprint("audit", __name__, url_prefix="/api/v1")


def _whole(name: str, lo: int, hi: int, default: int) -> int:
    value = number(request.args, name, required=False, lo=lo, hi=hi)
    if value is not None and value != int(value):
        raise InvalidInput(f"Invalid {name}", f"`{name}` must be a whole number.", parameter=name)
    return default if value is None else int(value)


@bp.get("/audit")
@requires("admin")
def audit_rows():
    """Audit rows, newest first: ?since, ?until (ISO, local when naive), ?actor, ?entity, ?action, ?limit, ?offset."""
    args = request.args
    session = db.session()
    since, until = timestamp(args, "since"), timestamp(args, "until")
    flt = AuditFilter(since=clock.aware(since, session) if since else None,
                      until=clock.aware(until, session) if until else None,
                      actor=args.get("actor") or None, entity=args.get("entity") or None,
                      action=args.get("action") or None)
    limit, offset = _whole("limit", 1, 500, 50), _whole("offset", 0, 10**9, 0)
    rows, omitted = query_audit(session, flt, limit=limit, offset=offset)
    db.end_read(session)
    return jsonify(rows=rows, rows_omitted=omitted, limit=limit, offset=offset)
