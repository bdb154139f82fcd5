"""Access logs without secrets: `api_key`, `token` and `password` in a URL are written as [redacted]."""
from __future__ import annotations

import logging
import re

from gunicorn.glogging import Logger

# GeoReport clients send their key in the query string (Open311's `api_key`), and a URL lands in
# the access log, the proxy's log and the Referer of the next page; a log reader must not be able to
# act as that user. The value goes, the name stays, so a log still shows that a key was sent.
SECRET_PARAMS = ("api_key", "token", "access_token", "password", "session")
_SECRET = re.compile(rf"(?i)(?<![\w-])((?:{'|'.join(SECRET_PARAMS)})=)[^&\s\"#]*")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """`text` (a URL, query string or request line) with every secret parameter's value replaced."""
    return _SECRET.sub(rf"\1{REDACTED}", text) if text else text


class RedactingLogger(Logger):
    """gunicorn's logger, writing request lines, query strings and referers redacted."""

    def atoms(self, resp, req, environ, request_time):
        """gunicorn's log atoms with the URL-bearing ones redacted."""
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "q", "f", "{referer}i"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms


class RedactingFilter(logging.Filter):
    """For werkzeug's development-server log (the request line is one of its arguments)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record's message arguments in place; keep the record."""
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install() -> None:
    """Redact werkzeug's request log in this process (idempotent)."""
    log = logging.getLogger("werkzeug")
    if not any(isinstance(f, RedactingFilter) for f in log.filters):
        log.addFilter(RedactingFilter())
