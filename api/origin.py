"""Every request runs with an audit origin — the client's address and a request id — and answers with the id."""
from __future__ import annotations

import re
import uuid

from gis.core import audit

# A client (or a proxy in front of us) may name the request; anything else gets a fresh id.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id(sent: str | None) -> str:
    """The client's X-Request-Id when it is a plain token of ≤ 64 characters, else a new one."""
    return sent if sent and _REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex


class OriginMiddleware:
    """WSGI middleware, outermost (so the locate fast path is covered too): sets the origin, echoes the id."""

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        """Run the request with its origin; add X-Request-Id to the answer."""
        rid = request_id(environ.get("HTTP_X_REQUEST_ID"))

        def start(status, headers, exc_info=None):
            return start_response(status, [*headers, ("X-Request-Id", rid)], exc_info)

        with audit.acting(via="anonymous", user_id=None, actor=None, address=environ.get("REMOTE_ADDR"),
                          request_id=rid):
            return self.wsgi_app(environ, start)
