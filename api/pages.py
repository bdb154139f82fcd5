"""HTML pages: the map pages are built by webmap from what gis and the layer registry return.

Who may open which page:
- /map (command center): any signed-in role but worker (workers are sent to /map/worker);
- /map/worker: any signed-in role (a worker sees their grids; others may report too);
- /map/planner: planner and admin.
Not signed in, a page redirects to /login and back. Each page shows only the layers the role
may read (see layers/registry.py).
"""
from __future__ import annotations

import functools

from flask import Blueprint, current_app, redirect, request, url_for
from werkzeug.exceptions import HTTPException

from api import db
from api.auth import csrf_token, current_user
from api.lang import messages, request_lang
from api.locate import snap_m
from gis.cases.dashboard import report_categories
from gis.core.clock import zone_of
from gis.core.errors import Forbidden
from gis.core.users import user_grid_codes
from gis.spatial.areas import district_bounds
from gis.spatial.assign import BUILDING_NEAR_M
from layers.registry import basemap_layers, describe, readable_layers
from webmap.assets import static_version
from webmap.command import command_page
from webmap.planner import planner_page
from webmap.worker import worker_page

bp = Blueprint("pages", __name__)


def signed_in_page(*roles: str):
    """Guard a page: not signed in → /login?next=…; a role not in `roles` (admin always may) → 403."""

    def decorate(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            user = current_user()
            if user is None:
                return redirect(url_for("auth.login_form", next=request.full_path.rstrip("?")))
            if roles and user.role != "admin" and user.role not in roles:
                raise Forbidden("Page not allowed",
                                f"This page is for {' or '.join(roles)}; you are signed in as {user.role}. "
                                "Try /map or /map/worker.")
            return view(user, *args, **kwargs)

        return guarded

    return decorate


def _has_route(path: str, method: str) -> bool:
    """Whether this app serves `method path` (features other issues add may not be here yet)."""
    adapter = current_app.url_map.bind("localhost")
    try:
        adapter.match(path, method=method)
        return True
    except HTTPException:
        return False


def _config(user) -> dict:
    cfg = current_app.config
    lang = request_lang(user)
    return {
        "lang": lang, "messages": messages(lang),
        # The district's zone: times the scripts show are in it, whatever the phone's or browser's zone.
        "time_zone": zone_of(db.session()).key,
        "user": {"name": user.name, "display_name": user.display_name, "role": user.role,
                 "grids": user_grid_codes(db.session(), user.id)},
        "csrf": csrf_token(),
        "layers": [describe(spec) for spec in readable_layers(user.role, basemap=False)],
        # Drawn under every other layer by basemap.js (issue 19), from the district's own data.
        "basemap_layers": [describe(spec) for spec in basemap_layers()],
        "basemap": {"url": cfg["BASEMAP_URL"], "attribution": cfg.get("BASEMAP_ATTRIBUTION") or ""}
        if cfg.get("BASEMAP_URL") else None,
        "endpoints": {
            "counters": "/api/v1/counters", "search": "/api/v1/search", "stream": "/api/v1/stream/events",
            "todo": "/api/v1/cases/mine", "cases": "/cases",  # issue 19: the command center's queue
            # Locating and reporting come from the assignment issue; the page says so until they exist.
            "locate": "/api/v1/locate" if _has_route("/api/v1/locate", "GET") else None,
            "report": "/api/v1/events" if _has_route("/api/v1/events", "POST") else None,
            "logout": url_for("auth.logout"), "command": "/map", "worker": "/map/worker", "planner": "/map/planner",
        },
        "stream_poll_s": cfg["STREAM_POLL_S"],
    }


@bp.get("/")
def index():
    """The landing page is the command-center map."""
    return redirect(url_for("pages.command_map"))


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for it; answer with our own icon."""
    return current_app.send_static_file("favicon.svg")


@bp.get("/map")
@signed_in_page()
def command_map(user):
    """The command-center map (grid workers go to their own page)."""
    if user.role == "worker":
        return redirect(url_for("pages.worker_map"))
    return command_page(district_bounds(db.session()), _config(user))


@bp.get("/map/worker")
@signed_in_page()
def worker_map(user):
    """The grid worker's map: locate, report, my grids."""
    config = _config(user)
    config["categories"] = report_categories(db.session())
    # The rules the page applies offline (worker/place.js), as the server applies them.
    config["rules"] = {"snap_m": snap_m(), "building_near_m": BUILDING_NEAR_M,
                       "accuracy_warn_m": float(current_app.config["ACCURACY_WARN_M"])}
    config["endpoints"]["sw"] = f"/sw.js?v={static_version()}"
    return worker_page(district_bounds(db.session()), config)


@bp.get("/map/planner")
@signed_in_page("planner")
def planner_map(user):
    """The planner's map: current grids, editable; edits are previewed and saved through the grid edit API."""
    config = _config(user)
    # issue #7: boundary edits
    config["endpoints"].update(validate="/api/v1/grid-edits/validate", preview="/api/v1/grid-edits/preview",
                               save="/api/v1/grid-edits")
    return planner_page(district_bounds(db.session()), config)
