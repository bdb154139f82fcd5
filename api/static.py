"""Web assets from npm (installed by the setup into node_modules/), served under /static/vendor."""
from __future__ import annotations

import json
import mimetypes

from flask import Blueprint, current_app, send_from_directory

from gis.core.errors import NotFound
from gis.core.pgcluster import project_root

bp = Blueprint("vendor", __name__)

# Our page scripts are ES modules, which browsers refuse unless they come as JavaScript: say
# text/javascript (the HTML standard's name) for .js whatever the system's mime.types says.
mimetypes.add_type("text/javascript", ".js")


def _declared_packages() -> set[str]:
    # Only the packages package.json asks for are served, never the rest of node_modules.
    manifest = json.loads((project_root() / "package.json").read_text())
    return set(manifest.get("dependencies", {}))


@bp.get("/static/vendor/<path:asset>")
def vendor(asset: str):
    """One file of a declared npm package, e.g. /static/vendor/leaflet/dist/leaflet.js."""
    packages = current_app.extensions.setdefault("gridgov.packages", _declared_packages())
    parts = asset.split("/")
    package = "/".join(parts[:2]) if asset.startswith("@") else parts[0]
    if package not in packages:
        raise NotFound("Unknown asset", f"{package!r} is not one of the web packages in package.json.")
    response = send_from_directory(current_app.config["ASSETS_DIR"], asset, max_age=86400)
    return response
