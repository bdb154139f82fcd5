"""Security headers on every response: a strict Content-Security-Policy, no framing, no sniffing, HSTS over HTTPS."""
from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

from flask import Flask, Response, g, request

# Every asset is ours (webmap/assets.py refuses outside URLs), so the policy allows only this origin.
# Scripts: our ES modules from /static, and the inline scripts Folium writes into a map page, which
# carry this response's nonce; no 'unsafe-inline' or 'unsafe-eval' for scripts, so an injected
# event handler or javascript: URL does not run. Styles keep 'unsafe-inline': Leaflet and Folium
# position every marker and popup with style attributes, which a nonce cannot cover; a style cannot
# run code in the browsers we support.
POLICY = ("default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
          "img-src 'self' data: blob:{basemap}; font-src 'self' data:; connect-src 'self'; worker-src 'self'; "
          "manifest-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
FIXED = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # for browsers that predate frame-ancestors
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    # The worker page locates by GPS and will take photos; nothing else may ask.
    "Permissions-Policy": "geolocation=(self), camera=(self), microphone=(), payment=(), usb=()",
}
# Anything but a page (JSON, tiles, static files) runs nothing and loads nothing: the fixed policy; the
# locate fast path (api/locate.py), which answers without Flask, sends exactly these.
BARE_JSON = [("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"), *FIXED.items()]
# A service worker's own policy governs what it may fetch: the pages, data and assets of this origin.
SERVICE_WORKERS = {"/sw.js"}
WORKER_POLICY = "default-src 'self'; frame-ancestors 'none'"
# No includeSubDomains or preload: they bind every host of the district's domain to HTTPS for good,
# which is the operator's decision (docs/security.md), not ours.
HSTS = "max-age=31536000"
FAST_PATH_ATTR = "_gridgov_fast_path_covered"  # a hook the fast path stands in for (see bare_json_headers)
_SCRIPT_TAG = re.compile(rb"<script(?=[\s>])(?![^>]*\snonce=)", re.I)


def nonce() -> str:
    """This response's script nonce (made on first use)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def _basemap_source(url: str | None) -> str:
    # An optional outside XYZ basemap (an intranet tile server, Tianditu) is the one image source allowed.
    parts = urlsplit(url or "")
    return f" {parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""


def _nonce_scripts(response: Response, value: str) -> None:
    # The map pages come from Folium with inline <script> blocks; each one this server wrote gets the
    # nonce. What people type never reaches the page as a tag: Jinja escapes it, and text Folium puts
    # into script goes through webmap.assets.literal_html first.
    body = response.get_data()
    marked = _SCRIPT_TAG.sub(b'<script nonce="' + value.encode() + b'"', body)
    if marked != body:
        response.set_data(marked)


def bare_json_headers(environ: dict) -> list[tuple[str, str]]:
    """The headers of a JSON answer written straight to WSGI (HSTS when the request came over HTTPS)."""
    secure = environ.get("wsgi.url_scheme") == "https"
    return [*BARE_JSON, ("Strict-Transport-Security", HSTS)] if secure else list(BARE_JSON)


def install(app: Flask) -> None:
    """Add the headers to every response of `app`, errors and static files included."""
    basemap = _basemap_source(app.config.get("BASEMAP_URL"))

    @app.after_request
    def _secure(response: Response) -> Response:
        if response.mimetype == "text/html":
            value = nonce()
            if not response.direct_passthrough:
                _nonce_scripts(response, value)
            response.headers["Content-Security-Policy"] = POLICY.format(nonce=value, basemap=basemap)
            for name, header in FIXED.items():
                response.headers[name] = header
        else:  # JSON, tiles, scripts, images: nothing in them may run or load anything
            for name, header in BARE_JSON:
                response.headers[name] = header
            if request.path in SERVICE_WORKERS:
                response.headers["Content-Security-Policy"] = WORKER_POLICY
        if request.is_secure:
            response.headers["Strict-Transport-Security"] = HSTS
        return response

    setattr(_secure, FAST_PATH_ATTR, True)
