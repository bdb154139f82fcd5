"""GET /api/v1/locate: which district, street, community, grid and building a point falls in."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from api import db
from api.auth import requires
from api.params import number, optional, timestamp
from gis.assign import DEFAULT_SNAP_M, locate_point
from gis.crs import to_wgs84
from gis.errors import SetupRequired

bp = Blueprint("locate", __name__, url_prefix="/api/v1")

# Wider than any phone's fix; a larger circle would make every point ambiguous.
MAX_ACCURACY_M = 10_000


def snap_m() -> float:
    """The snapping distance configured for this app (GRIDGOV_SNAP_M, metres)."""
    value = current_app.config.get("SNAP_M", DEFAULT_SNAP_M)
    try:
        metres = float(value)
    except (TypeError, ValueError):
        metres = -1.0
    if not 0 <= metres < 10_000:
        raise SetupRequired("Bad GRIDGOV_SNAP_M", f"GRIDGOV_SNAP_M must be metres between 0 and 10000; got {value!r}.")
    return metres


@bp.get("/locate")
@requires("admin", "planner", "commander", "worker", "viewer")
def locate():
    """?lon=&lat=[&crs=][&accuracy_m=][&at=] → status, areas, grid, building and contracted cadres."""
    args = request.args
    x, y = number(args, "lon"), number(args, "lat")
    lon, lat = to_wgs84(x, y, optional(args, "crs"))
    accuracy = number(args, "accuracy_m", required=False, lo=0, hi=MAX_ACCURACY_M)
    location = locate_point(db.reader(), lon, lat, accuracy_m=accuracy, at=timestamp(args, "at"),
                            snap_m=snap_m())
    return jsonify(location.to_json())
