"""Assessment API: the indicators per grid / community / street / cadre and period, as JSON or CSV."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, jsonify, request

from api import db
from api.auth import requires
from api.params import number
from gis.cases import stats
from gis.core.errors import InvalidInput

bp = Blueprint("stats", __name__, url_prefix="/api/v1")


def _date(name: str) -> dt.date | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"Invalid {name}", f"`{name}` is a date such as 2026-11-01; got {raw[:40]!r}.",
                           parameter=name) from None


@bp.get("/stats")
@requires("commander")
def get_stats():
    """结案率, 按期结案率, 返工率, 延期率 and handling time:
    ?group=&from=&to=&bucket=&area=&rank_by=&min_count=&format=csv."""
    args = request.args
    min_count = number(args, "min_count", required=False, lo=0, hi=1_000_000)
    query = stats.StatsQuery(group=args.get("group", "grid"), date_from=_date("from"), date_to=_date("to"),
                             bucket=args.get("bucket", "none"), area=args.get("area") or None,
                             rank_by=args.get("rank_by", "on_time_closure_ratio"),
                             min_count=int(min_count) if min_count is not None else None)
    fmt = args.get("format") or ("csv" if request.accept_mimetypes.best == "text/csv" else "json")
    if fmt not in ("json", "csv"):
        raise InvalidInput("Invalid format", "`format` is json or csv.", parameter="format")
    report = stats.indicators(db.session(), query)
    if fmt == "csv":
        name = f"gridgov-stats-{query.group}-{query.date_from}-{query.date_to}.csv"
        return Response("\ufeff" + stats.to_csv(report), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return jsonify(report.as_dict())
