"""The worker page as an installable, offline app: its service worker at /sw.js and its web app manifest."""
from __future__ import annotations

from flask import Blueprint, current_app

from api.lang import tr
from webmap.assets import static_version

bp = Blueprint("offline", __name__)

SERVICE_WORKER = "js/sw.js"


@bp.get("/sw.js")
def service_worker():
    """The service worker, at the root so it may keep the worker page and its data (scope /)."""
    response = current_app.send_static_file(SERVICE_WORKER)
    # Browsers check a service worker for updates on every start; a stale one must not be kept longer.
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@bp.get("/manifest.webmanifest")
def manifest():
    """What a phone needs to install the worker page as an app."""
    body = {
        "name": f"{tr('app.name')} · {tr('worker.title')}", "short_name": tr("worker.title"),
        "start_url": "/map/worker", "scope": "/", "display": "standalone", "orientation": "portrait",
        "background_color": "#fafafa", "theme_color": "#1565c0", "lang": "zh-CN",
        "icons": [{"src": f"/static/favicon.svg?v={static_version()}", "sizes": "any", "type": "image/svg+xml",
                   "purpose": "any"}],
    }
    response = current_app.json.response(body)
    response.mimetype = "application/manifest+json"
    return response


__all__ = ["bp"]
