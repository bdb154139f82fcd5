"""Who is calling: bearer tokens for the API, a session cookie for pages; one role guard."""
from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Callable

from flask import Blueprint, Flask, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface

from api import db
from api.hub import hub
from gis.core import audit
from gis.core.errors import Forbidden, Unauthenticated
from gis.core.models import User
from gis.core.users import Principal, active_user, hash_token, principal_by_token, user_by_password, user_grid_codes
from webmap.render import render

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
GUARD_ATTR = "_gridgov_roles"
PUBLIC_ATTR = "_gridgov_public"

bp = Blueprint("auth", __name__)


# Why a cache: every API request authenticates, and looking the token up cost a database round
# trip plus ORM work — as much as a whole locate query. Users' rows rarely change, and every
# change to `users` or `user_grids` sends NOTIFY gridgov_layers (migration 0008), which each
# server process hears and which bumps that table's generation in its memo; cached answers
# keyed on older generations are never read again. While the listener is not connected
# (startup, a lost connection) nothing is cached, so a revoked token stops working at once.
AUTH_TABLES = ("users",)
SCOPE_TABLES = ("users", "user_grids")


def _memo():
    return hub().memo  # the per-process memo beside the listener that keeps it fresh (api/hub.py)


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signing serializer built once per set of keys."""

    # Flask builds the serializer and parses the Cookie header at the start of every request,
    # and building the serializer serialises a probe value: 40 µs of CPU per API call, a tenth
    # of a whole locate, for bearer-token clients that never send a cookie.
    def get_signing_serializer(self, app: Flask):
        """The serializer for the app's current secret key and fallbacks (cached)."""
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = getattr(self, "_cached", None)
        if cached is None or cached[0] != keys:
            cached = self._cached = (keys, super().get_signing_serializer(app))
        return cached[1]

    def open_session(self, app: Flask, request):
        """An empty session for a request without cookies (API clients), without parsing any."""
        if "HTTP_COOKIE" not in request.environ and app.secret_key:
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session, response) -> None:
        """Write nothing for a session the request never touched (every bearer-token call)."""
        if session or session.modified or session.accessed:
            super().save_session(app, session, response)


def bearer_token(authorization: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value, or None."""
    scheme, _, token = authorization.partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def _token_key(token: str) -> tuple:
    return ("token", hash_token(token))


def cached_principal(memo, authorization: str) -> Principal | None:
    """The active user a bearer header names, if the process has it cached already; else None."""
    token = bearer_token(authorization)
    return memo.peek(_token_key(token), AUTH_TABLES) if token else None


def current_user() -> User | Principal | None:
    """The user behind this request's bearer token (a cached Principal) or session cookie, if any."""
    request_globals = g._get_current_object()  # one proxy lookup: this runs on every API call
    if "user" in request_globals:
        return request_globals.user
    user, via = None, None
    token = bearer_token(request.headers.get("Authorization", ""))
    if token:
        # An immutable value, so one cached answer serves every thread of the process.
        user = _memo().get(_token_key(token), AUTH_TABLES, lambda: principal_by_token(db.session(), token))
        via = "token"
        if user is None:
            request_globals.user = None
            raise Unauthenticated("Invalid token",
                                  "The bearer token is unknown or revoked; ask an admin for a new one.")
    elif session.get("user_id"):
        user = active_user(db.session(), session["user_id"])
        via = "session"
    request_globals.user, request_globals.auth_via = user, via
    if user is not None:
        audit.identify(user_id=user.id, actor=user.name, via=via)
    return user


def scoped_grids(user: User) -> list[str] | None:
    """The grid codes a user may act on, or None for no grid restriction."""
    if user.role != "worker":
        return None
    return list(_memo().get(("scope", user.id), SCOPE_TABLES,
                            lambda: tuple(user_grid_codes(db.session(), user.id))))


def requires(*roles: str) -> Callable:
    """Guard a view: the caller must be signed in with one of `roles` (admin always may)."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            user = current_user()
            if user is None:
                raise Unauthenticated("Authentication required",
                                      "Send `Authorization: Bearer <token>` (see `gridgov user add`) "
                                      "or sign in at /login.")
            if user.role != "admin" and user.role not in roles:
                raise Forbidden("Role not allowed",
                                f"This needs the role {' or '.join(roles) or 'admin'}; you are {user.role}.")
            if request.method not in SAFE_METHODS and g.get("auth_via") == "session":
                _check_csrf()
            return view(*args, **kwargs)

        setattr(guarded, GUARD_ATTR, roles)
        return guarded

    return decorate


def public(view: Callable) -> Callable:
    """Mark a write route that deliberately needs no role (the login form)."""
    setattr(view, PUBLIC_ATTR, True)
    return view


def csrf_token() -> str:
    """The per-session token pages send back in X-CSRF-Token on writes."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def _check_csrf() -> None:
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
    if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
        raise Forbidden("CSRF token missing",
                        "Writes from a signed-in page must send the page's X-CSRF-Token header.")


def check_every_write_is_guarded(app: Flask) -> None:
    """Refuse to start if a route accepting writes has neither a role guard nor `@public`."""
    unguarded = []
    for rule in app.url_map.iter_rules():
        if not (rule.methods or set()) - SAFE_METHODS:
            continue
        view = app.view_functions[rule.endpoint]
        if not (hasattr(view, GUARD_ATTR) or getattr(view, PUBLIC_ATTR, False)):
            unguarded.append(f"{rule.rule} ({rule.endpoint})")
    if unguarded:
        raise RuntimeError("Write routes without a role guard: " + ", ".join(unguarded))


def _login_page(error: str | None, name: str) -> str:
    """The sign-in form (webmap/templates/login.html), posting back with the page's ?next=."""
    action = url_for("auth.login", next=request.args.get("next", ""))
    return render("login.html", error=error, name=name, action=action)


def _safe_next(target: str | None) -> str:
    # Only same-site paths: never redirect a signed-in user to another host.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/map"


@bp.get("/login")
def login_form():
    """The sign-in page."""
    return _login_page(None, "")


@bp.post("/login")
@public
def login():
    """Check name and password; start a cookie session."""
    name = request.form.get("name", "")
    user = user_by_password(db.session(), name, request.form.get("password", ""))
    if user is None:
        return _login_page("用户名或密码错误 — wrong name or password.", name), 401
    session.clear()
    session["user_id"] = user.id
    csrf_token()
    return redirect(_safe_next(request.args.get("next")))


@bp.post("/logout")
@public
def logout():
    """End the cookie session."""
    session.clear()
    return redirect(url_for("auth.login_form"))
