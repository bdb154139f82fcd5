"""Point every JS/CSS asset Folium would load from a CDN at our own /static (offline networks)."""
from __future__ import annotations

import functools
import hashlib
import html
import re
from pathlib import Path

import folium
from branca.element import Element

VENDOR = "/static/vendor"

# Folium names its assets; each name we use maps to a file of an npm package in package.json.
# Names Folium loads by default that our pages do not need (jQuery, Bootstrap, awesome-markers,
# glyphicons) map to None and are dropped.
LOCAL: dict[str, str | None] = {
    "leaflet": f"{VENDOR}/leaflet/dist/leaflet.js",
    "leaflet_css": f"{VENDOR}/leaflet/dist/leaflet.css",
    "jquery": None,
    "bootstrap": None,
    "bootstrap_css": None,
    "glyphicons_css": None,
    "awesome_markers": None,
    "awesome_markers_css": None,
    "awesome_markers_font_css": None,
    "awesome_rotate_css": None,
    "markerclusterjs": f"{VENDOR}/leaflet.markercluster/dist/leaflet.markercluster.js",
    "markerclustercss": f"{VENDOR}/leaflet.markercluster/dist/MarkerCluster.css",
    "markerclusterdefaultcss": f"{VENDOR}/leaflet.markercluster/dist/MarkerCluster.Default.css",
    "leaflet-heat.js": f"{VENDOR}/leaflet.heat/dist/leaflet-heat.js",
    "vectorGrid": f"{VENDOR}/leaflet.vectorgrid/dist/Leaflet.VectorGrid.bundled.min.js",
    "leaflet_geoman_js": f"{VENDOR}/@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.min.js",
    "leaflet_geoman_css": f"{VENDOR}/@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.css",
}

OWN_CSS = "/static/gridgov.css"
STATIC = Path(__file__).resolve().parent / "static"


def _localise_list(assets: list[tuple[str, str]], owner: Element) -> list[tuple[str, str]]:
    out = []
    for name, url in assets:
        if url.startswith("/"):
            out.append((name, url))
            continue
        if name not in LOCAL:
            raise LookupError(f"{type(owner).__name__} wants {name!r} from {url}; add it to "
                              "webmap.assets.LOCAL and package.json so it is served from /static")
        if LOCAL[name]:
            out.append((name, LOCAL[name]))
    return out


def localise(root: Element) -> Element:
    """Rewrite the assets of `root` and every child to /static; unknown CDN assets raise."""
    stack = [root]
    while stack:
        element = stack.pop()
        for attr in ("default_js", "default_css"):
            assets = getattr(element, attr, None)
            if assets:
                setattr(element, attr, _localise_list(list(assets), element))
        stack.extend(element._children.values())
    return root


_EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", re.I)


# Folium writes a tooltip's or popup's text into a JavaScript template literal as it is: a title with
# `</script>`, a backtick or `${…}` would run as code on the page. Text from people (an event's title)
# goes through here first: HTML-escaped, and the characters that mean something inside a template
# literal (` $ \) written as HTML entities, which the tooltip shows as the characters themselves.
_LITERAL = str.maketrans({"`": "&#96;", "$": "&#36;", "\\": "&#92;"})


def literal_html(text: str) -> str:
    """Text as HTML that is inert inside Folium's JavaScript template literals (tooltips, popups)."""
    return html.escape(text, quote=True).translate(_LITERAL)


def render_page(m: folium.Map, title: str) -> str:
    """Render a map to HTML whose every asset is local; refuses to emit an outside URL."""
    localise(m)
    figure = m.get_root()
    figure.title = title
    figure.header.add_child(folium.CssLink(OWN_CSS), name="gridgov_css")
    figure.header.add_child(folium.Element('<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'),
                            name="gridgov_icon")
    html = figure.render()
    if _EXTERNAL.search(html):
        raise RuntimeError(f"page {title!r} would load an asset from outside this server")
    return html


@functools.cache
def static_version() -> str:
    """A short hash of every file under webmap/static: the service worker's cache is named by it."""
    digest = hashlib.sha256()
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(STATIC).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]
