"""GET /api/v1/locate: which district, street, community, grid and building a point falls in."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, Flask, current_app, jsonify, request

from api import db
from api.auth import GUARD_ATTR, cached_principal, requires
from api.headers import FAST_PATH_ATTR, bare_json_headers
from api.hub import started_hub
from api.params import number, optional, timestamp
from gis.core.errors import SetupRequired
from gis.spatial.assign import DEFAULT_SNAP_M, locate_point
from gis.spatial.crs import to_wgs84

bp = Blueprint("locate", __name__, url_prefix="/api/v1")

# Wider than any phone's fix; a larger circle would make every point ambiguous.
MAX_ACCURACY_M = 10_000
ENDPOINT = "locate.locate"


def _snap_m_of(config) -> float:
    value = config.get("SNAP_M", DEFAULT_SNAP_M)
    try:
        metres = float(value)
    except (TypeError, ValueError):
        metres = -1.0
    if not 0 <= metres < 10_000:
        raise SetupRequired("Bad GRIDGOV_SNAP_M", f"GRIDGOV_SNAP_M must be metres between 0 and 10000; got {value!r}.")
    return metres


def snap_m() -> float:
    """The snapping distance configured for this app (GRIDGOV_SNAP_M, metres)."""
    return _snap_m_of(current_app.config)


def parse_query(args) -> tuple[float, float, float | None, dt.datetime | None]:
    """lon, lat (WGS84), accuracy_m and at from locate's query string (lon, lat, crs, accuracy_m, at)."""
    x, y = number(args, "lon"), number(args, "lat")
    lon, lat = to_wgs84(x, y, optional(args, "crs"))
    accuracy = number(args, "accuracy_m", required=False, lo=0, hi=MAX_ACCURACY_M)
    return lon, lat, accuracy, timestamp(args, "at")


@bp.get("/locate")
@requires("admin", "planner", "commander", "worker", "viewer")
def locate():
    """?lon=&lat=[&crs=][&accuracy_m=][&at=] → status, areas, grid, building and contracted cadres."""
    lon, lat, accuracy, at = parse_query(request.args)
    location = locate_point(db.reader(), lon, lat, accuracy_m=accuracy, at=at, snap_m=snap_m())
    return jsonify(location.to_json())


# Why a second way in: locate is what every tap of a grid worker's phone and every incoming report
# calls, and for it Flask's per-request machinery (request and app contexts, URL matching,
# signals, the session, a response object) costs more CPU than everything locate itself does in
# Python: ~120 µs of ~340. LocateFastPath answers only the common case, with the same functions
# as the route: a GET of exactly the route's path, no cookie, and a bearer token whose user this
# process has cached already, with a role the route's guard allows. Everything else — an error of
# any kind, a token not cached yet, a cookie, another method — goes on to Flask, which answers it
# from the start (locate only reads, so starting over is harmless): problem+json, 401/403, the
# session and the logging stay in one place.
class LocateFastPath:
    """WSGI middleware that answers a plain bearer-token GET /api/v1/locate without Flask's request machinery."""

    def __init__(self, app: Flask, wsgi_app) -> None:
        # It skips Flask's request hooks: one added later for the route would be skipped silently.
        # A hook marked `writes_only` (api/body.py) has nothing to do for a GET, so skipping it is safe.
        hooks = [f.__qualname__ for registry in (app.before_request_funcs, app.after_request_funcs,
                                                 app.teardown_request_funcs, app.url_value_preprocessors)
                 for scope in (None, bp.name) for f in registry.get(scope, ())
                 if not getattr(f, "writes_only", False) and not getattr(f, FAST_PATH_ATTR, False)]
        if hooks:
            raise RuntimeError(f"Request hooks {hooks} would not run for the locate fast path; teach it "
                               "to run them (api/locate.py) or set LOCATE_FAST_PATH = False.")
        self.app, self.wsgi_app = app, wsgi_app
        self.path = next(rule.rule for rule in app.url_map.iter_rules() if rule.endpoint == ENDPOINT)
        self.roles = getattr(app.view_functions[ENDPOINT], GUARD_ATTR)
        self.reader = app.extensions[db.EXT]["reader"]
        self.snap_m = _snap_m_of(app.config)

    def __call__(self, environ, start_response):
        """Answer the request here when it is the common case, else pass it to Flask."""
        if (environ.get("PATH_INFO") == self.path and environ.get("REQUEST_METHOD") == "GET"
                and "HTTP_COOKIE" not in environ):
            try:
                body = self._answer(environ)
            except Exception:  # noqa: BLE001 — Flask answers it again, with its error handling
                body = None
            if body is not None:
                start_response("200 OK", [("Content-Type", "application/json"),
                                          ("Content-Length", str(len(body))),
                                          *bare_json_headers(environ)])
                return [body]
        return self.wsgi_app(environ, start_response)

    def _answer(self, environ) -> bytes | None:
        hub = started_hub(self.app)  # made by the first request through Flask
        if hub is None:
            return None
        user = cached_principal(hub.memo, environ.get("HTTP_AUTHORIZATION", ""))
        if user is None or (user.role != "admin" and user.role not in self.roles):
            return None
        lon, lat, accuracy, at = parse_query(self.app.request_class(environ).args)
        with self.reader.connect() as connection:
            location = locate_point(connection, lon, lat, accuracy_m=accuracy, at=at, snap_m=self.snap_m)
        # As jsonify writes it outside debug mode: compact, then a newline.
        return (self.app.json.dumps(location.to_json(), separators=(",", ":")) + "\n").encode()


def fast_path_of(app: Flask) -> LocateFastPath | None:
    """The app's LocateFastPath among its WSGI middlewares, if it is installed."""
    layer = app.wsgi_app
    while layer is not None and not isinstance(layer, LocateFastPath):
        layer = getattr(layer, "wsgi_app", None)
    return layer


def install_fast_path(app: Flask) -> None:
    """Put LocateFastPath in front of the app, unless configured off, in debug mode or without a database."""
    if app.config.get("LOCATE_FAST_PATH", True) and not app.debug and app.extensions[db.EXT]["reader"] is not None:
        try:
            app.wsgi_app = LocateFastPath(app, app.wsgi_app)
        except SetupRequired:
            pass  # a bad GRIDGOV_SNAP_M: the route answers 503 and says what to fix
