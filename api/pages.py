"""HTML pages: the map pages are built by webmap from what gis returns."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, url_for

from api import db
from gis.areas import district_bounds
from webmap.command import command_page

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    """The landing page is the command-center map."""
    return redirect(url_for("pages.command_map"))


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for it; answer with our own icon."""
    return current_app.send_static_file("favicon.svg")


@bp.get("/map")
def command_map():
    """The command-center map."""
    cfg = current_app.config
    return command_page(district_bounds(db.session()), basemap_url=cfg["BASEMAP_URL"],
                        basemap_attribution=cfg["BASEMAP_ATTRIBUTION"])
