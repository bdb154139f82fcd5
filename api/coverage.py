"""Coverage API: GET /api/v1/coverage?area=CODE[&cadre_type=][&at=DATE] as JSON or CSV."""
from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, jsonify, request

from api import db
from api.auth import requires
from api.errors import NotAcceptable
from gis.cadres.coverage import CSV_COLUMNS, coverage_of
from gis.core.errors import InvalidInput

bp = Blueprint("coverage", __name__, url_prefix="/api/v1")

JSON, CSV = "application/json", "text/csv"


def wants_csv() -> bool:
    """CSV when ?format=csv or Accept prefers text/csv; JSON by default; 406 for anything else."""
    fmt = request.args.get("format", "").lower()
    if fmt in ("csv", "json"):
        return fmt == "csv"
    if fmt:
        raise InvalidInput("Invalid format", f"`format` must be json or csv; got {fmt[:20]!r}.",
                           parameter="format")
    if not request.accept_mimetypes or request.accept_mimetypes.provided is False:
        return False
    best = request.accept_mimetypes.best_match([JSON, CSV])
    if best is None:
        raise NotAcceptable("Not Acceptable",
                            f"This resource is available as {JSON} or {CSV}; send one of them in Accept.")
    return best == CSV


def csv_response(rows: list[dict], columns: tuple[str, ...], filename: str) -> Response:
    """UTF-8 CSV with a byte-order mark, so Excel shows the Chinese names; read it as utf-8-sig."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return Response(out.getvalue(), mimetype=CSV, headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Vary": "Accept"})


@bp.get("/coverage")
@requires("commander", "planner")
def coverage():
    """Coverage of a district, street or community; ?cadre_type= and ?at=YYYY-MM-DD are optional."""
    area = request.args.get("area", "").strip()
    if not area:
        raise InvalidInput("Missing area", "Give `area` as a district, street or community code, "
                           "e.g. /api/v1/coverage?area=310101.", parameter="area")
    as_csv = wants_csv()
    result = coverage_of(db.session(), area, cadre_type=request.args.get("cadre_type") or None,
                         at=request.args.get("at") or None)
    if as_csv:
        day = f"-{result.at.isoformat()}" if result.at else ""
        return csv_response(result.csv_rows(), CSV_COLUMNS, f"coverage-{result.area['code']}{day}.csv")
    response = jsonify(result.to_dict())
    response.headers["Vary"] = "Accept"
    return response
