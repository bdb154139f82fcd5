"""The Flask application: configuration, the database, the error table and every blueprint, put together."""
from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from api import (
    attachments,
    audit,
    auth,
    body,
    command,
    contracts,
    coverage,
    db,
    departments,
    errors,
    events,
    grids,
    headers,
    health,
    layers,
    locate,
    logs,
    offline,
    ogc,
    open311,
    pages,
    residents,
    static,
    stats,
    stream,
    users,
    workflow,
)
from api.origin import OriginMiddleware
from gis.cases.photos import PhotoLimits
from gis.core.db import resolve_database_url
from gis.core.errors import DatabaseUnavailable
from gis.core.media import open_store
from gis.core.pgcluster import project_root, var_dir

DEFAULTS = {
    # JSON bodies are small; imports go through the CLI. Larger bodies get 413.
    "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
    # How deep a JSON body's arrays and objects may nest (api/body.py); deeper bodies get 400.
    "MAX_JSON_DEPTH": 64,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Strict",
    # The session cookie is Secure whenever the request came over HTTPS; True makes it Secure always.
    "SESSION_COOKIE_SECURE": False,
    # How many reverse proxies stand in front (GRIDGOV_PROXY_COUNT): their X-Forwarded-For and
    # X-Forwarded-Proto are believed, for that many hops, only then. 0: a client could forge them.
    "PROXY_COUNT": 0,
    # Optional XYZ basemap for the map pages, e.g. an intranet or Tianditu tile URL; none by default.
    "BASEMAP_URL": None,
    "BASEMAP_ATTRIBUTION": "",
    # Live-map streams one server process keeps open at once (each holds a thread; see api/stream.py).
    "MAX_STREAMS": 48,
    # How often a map turned away from the live stream polls instead (seconds).
    "STREAM_POLL_S": 30,
    # How long a request waits for a pooled database connection before answering 503 (seconds).
    "DB_POOL_TIMEOUT_S": 10,
    # Answer plain bearer-token locate calls without Flask's request machinery (api/locate.py).
    "LOCATE_FAST_PATH": True,
    # The worker page warns when the GPS fix is less precise than this (metres).
    "ACCURACY_WARN_M": 50,
    # Issue 18, photos. Stored by hash under MEDIA_DIR (default var/media), or in an S3-compatible bucket
    # when MEDIA_S3_BUCKET is set, so several servers share them.
    "MEDIA_DIR": None,
    "MEDIA_S3_BUCKET": None,
    "MEDIA_S3_ENDPOINT_URL": None,  # e.g. http://minio.intranet:9000; none for AWS itself
    "MEDIA_S3_ACCESS_KEY_ID": None,  # none: boto3's own chain (environment, instance role)
    "MEDIA_S3_SECRET_ACCESS_KEY": None,
    "MEDIA_S3_REGION": None,
    "MEDIA_S3_PREFIX": "",
    "MAX_ATTACHMENT_BYTES": 15 * 1024 * 1024,  # a larger photo gets 413
    "MAX_ATTACHMENT_PIXELS": 50_000_000,  # against decompression bombs
    "PHOTO_FAR_M": 500,  # a photo taken farther from the event's point is flagged 'far'
    "PHOTO_OLD_H": 24,  # … taken more hours before the report, 'old'
    # The residents' channel (/report): reports without an account through Open311, at most this many
    # per client address and hour (counted across every host from the audit trail).
    "RESIDENT_REPORTS": True,
    "RESIDENT_REPORTS_PER_HOUR": 5,
}

BLUEPRINTS = (health.bp, auth.bp, users.bp, pages.bp, static.bp, locate.bp, events.bp,
              coverage.bp, contracts.bp,
              layers.bp, ogc.bp, stream.bp, command.bp,  # issue #6: layers, OGC API, live map
              workflow.bp, workflow.pages_bp, stats.bp, open311.bp,  # issue #8: the closed loop
              grids.bp,  # issue #7: boundary edits
              audit.bp,  # issue #17: the audit trail
              attachments.bp, offline.bp, residents.bp,  # issue 18: photos, offline, residents
              departments.bp)  # issue 25: departments and the responsibility list


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app; configuration is read here and nowhere else."""
    app = Flask("api", static_folder=str(Path(__file__).resolve().parent.parent / "webmap" / "static"))
    app.config.update(DEFAULTS)
    app.config["ASSETS_DIR"] = str(project_root() / "node_modules")
    app.config.from_prefixed_env("GRIDGOV")
    if test_config:
        app.config.update(test_config)
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = _default_database_url()
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _persistent_secret()
    # JSON as the other endpoints write it: keys in the order the code builds them (the documented
    # shapes), Chinese names as UTF-8 rather than \u escapes (a third of the bytes).
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logs.install()

    app.session_interface = auth.CookieSessions()
    db.init_app(app, app.config["DATABASE_URL"], float(app.config["DB_POOL_TIMEOUT_S"]))
    errors.register(app)
    attachments.install(app, _media_store(app.config), PhotoLimits(
        max_bytes=int(app.config["MAX_ATTACHMENT_BYTES"]), max_pixels=int(app.config["MAX_ATTACHMENT_PIXELS"]),
        far_m=float(app.config["PHOTO_FAR_M"]), old_h=float(app.config["PHOTO_OLD_H"])))
    body.install(app)
    headers.install(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    auth.check_every_write_is_guarded(app)
    locate.install_fast_path(app)
    app.wsgi_app = OriginMiddleware(app.wsgi_app)  # every request, the fast path's too
    proxies = int(app.config["PROXY_COUNT"] or 0)
    if proxies:
        # Outside the origin: the audit trail, the throttle and the Secure flag see the client's
        # address and scheme as the proxy saw them, never the proxy's own.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    return app


def _media_store(config):
    return open_store(folder=config["MEDIA_DIR"] or var_dir() / "media", bucket=config["MEDIA_S3_BUCKET"],
                      endpoint_url=config["MEDIA_S3_ENDPOINT_URL"], access_key_id=config["MEDIA_S3_ACCESS_KEY_ID"],
                      secret_access_key=config["MEDIA_S3_SECRET_ACCESS_KEY"], region=config["MEDIA_S3_REGION"],
                      prefix=config["MEDIA_S3_PREFIX"] or "")


def _default_database_url() -> str | None:
    try:
        return resolve_database_url()
    except DatabaseUnavailable:
        return None  # /healthz says 503 and what to run


def _persistent_secret() -> str:
    # Keep sessions valid across restarts of the demo server: one key per checkout, 0600.
    path = var_dir() / "secret_key"
    try:
        return path.read_text().strip()
    except OSError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key)
        return key
