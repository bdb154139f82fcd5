"""Who is calling: bearer tokens for the API, a session cookie for pages; one role guard."""
from __future__ import annotations

import functools
import hmac
import re
import secrets
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

from flask import Blueprint, Flask, g, has_request_context, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface

from api import db
from api.hub import hub
from api.lang import request_lang, tr
from gis.core import audit, sessions, throttle
from gis.core.errors import Forbidden, Unauthenticated
from gis.core.models import User
from gis.core.users import Principal, hash_token, principal_by_token, user_by_password, user_grid_codes
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
    """Flask's signed cookie, carrying only a session id and the CSRF token; the session itself is a
    row of user_sessions (gis/core/sessions.py), so logging out or revoking ends it everywhere."""

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

    def get_cookie_secure(self, app: Flask) -> bool:
        """Secure whenever the request came over HTTPS (behind a proxy: see PROXY_COUNT), or always if configured."""
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (has_request_context() and request.is_secure)

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
            refuse_token("Invalid token", "The bearer token is unknown or revoked; ask an admin for a new one.")
    elif session.get("sid"):
        user = _session_user(session["sid"])
        via = "session"
    request_globals.user, request_globals.auth_via = user, via
    if user is not None:
        audit.identify(user_id=user.id, actor=user.name, via=via)
    return user


def _session_user(session_id: str) -> User | None:
    """The active user of a live server-side session, restarting its idle timeout; None if it ended."""
    found = sessions.lookup(db.session(), sessions.hash_session_id(session_id))
    if found is None:
        session.clear()  # the browser drops the dead cookie
        return None
    if found.stale:
        # On a connection of its own: the request's session may go on to write and roll back.
        with db.engine().begin() as connection:
            sessions.touch(connection, found.id)
    return found.user


def refuse_token(title: str, detail: str) -> None:
    """Count a bad bearer token or api_key against the client's address; raise 401, or 429 once locked."""
    keys = [throttle.address_key(request.remote_addr)]
    # Its own transaction: the count must stay although this request fails. Only failures pay
    # for it; a valid token is never checked against the lock (it is 256 bits: guessing is hopeless).
    with db.separate() as own:
        throttle.check(own, keys)
        throttle.fail(own, keys)
        audit.record(own, "token_refused", "address", request.remote_addr)
    raise Unauthenticated(title, detail)


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
    return render("login.html", request_lang(), error=error, name=name, action=action)


# What a `next` may be: a path of printable ASCII, without backslashes, `@` or `//`, and without an
# encoded slash, backslash or control character. Browsers read `/\\host`, `/\thost` (they drop tabs and
# newlines) and `//host` as another site; we refuse rather than repair, and send the user to the map.
_PATH_CHARS = re.compile(r"/[A-Za-z0-9\-._~!$&'()*+,;=:%/?#]*")
_MAX_NEXT = 2000


def safe_next(target: str | None) -> str:
    """`target` if it is a path on this site, else /map (never redirect a signed-in user to another host)."""
    if not target or len(target) > _MAX_NEXT:
        return "/map"
    decoded = target
    for _ in range(3):  # twice-encoded %252f is %2f after the decoding the browser or a proxy does
        if not _PATH_CHARS.fullmatch(decoded) or "//" in decoded or re.search("%(2f|5c)", decoded, re.I):
            return "/map"
        parts = urlsplit(decoded)
        if parts.scheme or parts.netloc:
            return "/map"
        decoded, before = unquote(decoded), decoded
        if re.search(r"[\x00-\x20\x7f\\@]", decoded):
            return "/map"
        if decoded == before:
            return target
    return "/map"


def _client_keys(name: str) -> list[str]:
    return [throttle.account_key(name), throttle.address_key(request.remote_addr)]


@bp.get("/login")
def login_form():
    """The sign-in page."""
    return _login_page(None, "")


@bp.post("/login")
@public
def login():
    """Check name and password (unless the account or address is locked); start a server-side session."""
    name = request.form.get("name", "")
    db_session = db.session()
    throttle.check(db_session, _client_keys(name))
    user = user_by_password(db_session, name, request.form.get("password", ""))
    if user is None:
        throttle.fail(db_session, _client_keys(name))
        audit.record(db_session, "login_failed", "user", name[:64])
        db_session.commit()
        return _login_page(tr("page.login.wrong"), name), 401
    if session.get("sid"):  # a new id at every sign-in: a planted cookie never becomes a signed-in one
        sessions.revoke(db_session, sessions.hash_session_id(session["sid"]))
    session_id = sessions.open_session(db_session, user.id, address=request.remote_addr)
    throttle.clear(db_session, throttle.account_key(name))
    audit.record(db_session, "login", "user", user.name, user_id=user.id, actor=user.name)
    db_session.commit()
    session.clear()
    session["sid"] = session_id
    csrf_token()
    return redirect(safe_next(request.args.get("next")))


@bp.post("/logout")
@public
def logout():
    """End the session on the server (CSRF-checked: a foreign page must not sign the user out)."""
    if session.get("sid"):
        _check_csrf()
        user = current_user()
        db_session = db.session()
        sessions.revoke(db_session, sessions.hash_session_id(session["sid"]))
        if user is not None:
            audit.record(db_session, "logout", "user", user.name)
        db_session.commit()
    session.clear()
    return redirect(url_for("auth.login_form"))
