"""What the three map pages share: a Folium map with no CDN, and the hook into our own JavaScript."""
from __future__ import annotations

import folium
from branca.element import Element, MacroElement
from folium.elements import JSCSSMixin
from folium.template import Template

from webmap.assets import render_page

# Our page logic lives in static ES modules under webmap/static/js (readable, cacheable, linted),
# not in Python strings; Folium builds the page, the map and the asset list, and hands the config
# to the entry module, which imports the rest itself (no bundler).
ENTRY_JS = "/static/js/gridgov-map.js"

PLUGINS = {
    "cluster": [("markerclusterjs", "cdn:markercluster")],
    "heat": [("leaflet-heat.js", "cdn:heat")],
    "tiles": [("vectorGrid", "cdn:vectorgrid")],
    "geoman": [("leaflet_geoman_js", "cdn:geoman")],
}
PLUGIN_CSS = {
    "cluster": [("markerclustercss", "cdn:markercluster"), ("markerclusterdefaultcss", "cdn:markercluster")],
    "geoman": [("leaflet_geoman_css", "cdn:geoman")],
}


class GridgovPage(JSCSSMixin, MacroElement):
    """Calls <entry>(map, config) of our entry module once the map exists, after the plugins it needs."""

    # The entry is a module script in the head (deferred: it runs after the page is parsed) that
    # Folium's own script, which creates the map, imports again with import(): the browser runs
    # the module once, and the call waits for it, so the map variable exists when the page runs.
    _template = Template("""
        {% macro script(this, kwargs) %}
            import({{ this.entry_js|tojson }}).then((gridgov) =>
                gridgov.{{ this.entry }}({{ this._parent.get_name() }}, {{ this.config|tojson }}));
        {% endmacro %}
    """)

    def __init__(self, entry: str, config: dict, plugins: tuple[str, ...]):
        super().__init__()
        self._name = "GridgovPage"
        self.entry, self.config, self.entry_js = entry, config, ENTRY_JS
        # The names are Folium's own asset names; webmap.assets.LOCAL maps each to /static.
        self.default_js = [js for p in plugins for js in PLUGINS[p]]
        self.default_css = [css for p in plugins for css in PLUGIN_CSS.get(p, [])]

    def render(self, **kwargs):
        """Add the plugins' links, then our entry as a module script, to the page's head."""
        super().render(**kwargs)
        self.get_root().header.add_child(Element(f'<script type="module" src="{ENTRY_JS}"></script>'),
                                         name="gridgov_js")


def base_map(bounds: list[list[float]] | None) -> folium.Map:
    """A map with no basemap (the basemap, if configured, is added by the page script as a layer).

    maxZoom must be set on the map itself: with no tile layer Leaflet has no maximum zoom, and
    marker clustering throws on an infinite one.
    """
    # No Folium scale bar (it shows feet too): basemap.js adds a metric one on every map page.
    m = folium.Map(location=[30.0, 120.0], zoom_start=12, tiles=None, control_scale=False,
                   prefer_canvas=True, maxZoom=20, minZoom=3)
    if bounds:
        m.fit_bounds(bounds)
    return m


# An installable page names its manifest; the phone's browser offers to add it to the home screen.
MANIFEST = '<link rel="manifest" href="/manifest.webmanifest"><meta name="theme-color" content="#1565c0">'


def page(entry: str, title: str, bounds, config: dict, plugins: tuple[str, ...], installable: bool = False) -> str:
    """Render one map page: Folium map, local assets, and our script with `config`."""
    m = base_map(bounds)
    GridgovPage(entry, config, plugins).add_to(m)
    if installable:
        m.get_root().header.add_child(Element(MANIFEST), name="gridgov_manifest")
    return render_page(m, title)
