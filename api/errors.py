"""The one table from errors to HTTP statuses, and problem+json responses (RFC 9457).

Routes never choose an error status themselves: they raise a domain error (gis/core/errors.py), or
one of the two errors of the HTTP exchange below, and STATUS decides. The handlers at the end turn
what the database driver and werkzeug raise into problems too.

Titles: the code raises stable English titles; a problem's `title` is that title's entry of the
catalog (webmap/messages/problems.json) in the request's language — the user's choice, else
Accept-Language, else Chinese — and `code` is the entry's key, the same in every language, for
clients that act on the kind of error rather than show it. `detail` stays as the code wrote it.
"""
from __future__ import annotations

import logging

from flask import Flask, Response, g, json, request
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from api.lang import request_lang
from gis.core.errors import (
    AtCapacity,
    Conflict,
    DatabaseUnavailable,
    Forbidden,
    GridgovError,
    InvalidGeometry,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    SetupRequired,
    TooLarge,
    TooManyAttempts,
    Unauthenticated,
    UnsupportedMedia,
)
from webmap.catalog import problem_title

log = logging.getLogger(__name__)


class NotAcceptable(GridgovError):
    """None of the media types the client accepts is one this resource comes in."""

    title = "Not Acceptable"


class PreconditionRequired(GridgovError):
    """A change that must be conditional came without If-Match (RFC 6585), so it could overwrite another's."""

    title = "Precondition required"


# Most specific first; the first class an error is an instance of decides its status.
STATUS: list[tuple[type[GridgovError], int]] = [
    (InvalidGeometry, 422),
    (UnsupportedMedia, 415),
    (InvalidInput, 400),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (NotAcceptable, 406),
    (Conflict, 409),
    (PreconditionFailed, 412),
    (TooLarge, 413),
    (PreconditionRequired, 428),
    (TooManyAttempts, 429),
    (DatabaseUnavailable, 503),
    (AtCapacity, 503),
    (SetupRequired, 503),
    (GridgovError, 500),
]

PROBLEM_JSON = "application/problem+json"


def status_of(exc: GridgovError) -> int:
    """The HTTP status for a domain error."""
    return next(status for cls, status in STATUS if isinstance(exc, cls))


def problem_lang() -> str:
    """The language of a problem: the user's, if this request resolved one, else Accept-Language, else Chinese."""
    # Only a user already resolved: looking one up now could meet the database that just failed.
    return request_lang(g.get("user") if request else None)


def translated(title: str, status: int = 500) -> tuple[str, str]:
    """(catalog key, text in the request's language) of an English problem title."""
    return problem_title(title, problem_lang(), status)


def problem(status: int, title: str, detail: str = "", headers: dict | None = None, **extra) -> Response:
    """A problem+json response; `title` is the English title, sent in the request's language."""
    code, text = translated(title, status)
    body = {"type": "about:blank", "title": text, "code": code, "status": status, "detail": detail,
            "instance": request.path if request else None}
    body.update(extra)
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_JSON)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _http_detail(exc: HTTPException) -> str:
    if exc.code == 413:
        limit = request.max_content_length if request else None
        return (f"The request body is larger than the {limit} bytes this server accepts; send less."
                if limit else "The request body is too large.")
    if exc.code == 404:
        return f"No resource at {request.path}; see / for what this server offers."
    if exc.code == 405:
        allowed = ", ".join(getattr(exc, "valid_methods", None) or [])
        return f"{request.method} is not allowed here; use {allowed}." if allowed else exc.description or ""
    return exc.description or ""


def register(app: Flask) -> None:
    """Make every error the app can raise come out as problem+json."""

    @app.errorhandler(GridgovError)
    def _domain(exc: GridgovError):
        status = status_of(exc)
        headers = {"WWW-Authenticate": 'Bearer realm="gridgov"'} if status == 401 else None
        if isinstance(exc, (AtCapacity, TooManyAttempts)):
            headers = {"Retry-After": str(exc.retry_after_s)}
        if status >= 500:
            log.warning("%s: %s", exc.title, exc.detail)
        return problem(status, exc.title, exc.detail, headers=headers, **exc.extra)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        headers = {"Allow": ", ".join(exc.valid_methods)} if getattr(exc, "valid_methods", None) else None
        return problem(exc.code or 500, exc.name, _http_detail(exc), headers=headers)

    @app.errorhandler(OperationalError)
    def _db_down(exc: OperationalError):
        log.warning("database unavailable: %s", exc)
        return problem(503, "Database unavailable",
                       "The database cannot be reached right now; try again shortly.")

    @app.errorhandler(PoolTimeout)
    def _busy(exc: PoolTimeout):
        # Every pooled connection stayed in use for DB_POOL_TIMEOUT_S: more requests at once than
        # the database side of this process serves. The client's retry will find one free.
        log.warning("database connections all in use: %s", str(exc).splitlines()[0])
        return problem(503, "Server busy", "Every database connection of this server is in use; "
                       "retry in a few seconds.", headers={"Retry-After": "5"})

    @app.errorhandler(DataError)
    def _bad_value(exc: DataError):
        # SQLSTATE class 22 (and psycopg's own refusals, e.g. a NUL character in text): a value
        # the client sent that the database cannot hold — the client's to fix, not a server fault.
        reason = str(getattr(exc, "orig", exc)).splitlines()[0][:200]
        return problem(400, "Invalid value", f"A value in the request cannot be stored or compared: {reason}. "
                       "Check the parameters (text must not contain NUL characters; numbers must be in range).")

    @app.errorhandler(DBAPIError)
    def _db_error(exc: DBAPIError):
        log.exception("database error")
        return problem(500, "Internal error", "The request failed inside the database; it has been logged.")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return problem(500, "Internal error", "Something failed on the server; it has been logged.")
