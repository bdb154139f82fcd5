"""The basemap on a map page Folium builds without our entry module (the case page): one hook into basemap.js."""
from __future__ import annotations

from branca.element import MacroElement
from folium.elements import JSCSSMixin
from folium.template import Template

BASEMAP_JS = "/static/js/basemap.js"


class BasemapHook(JSCSSMixin, MacroElement):
    """Calls basemap(map, config) of basemap.js once the map exists, with Leaflet.VectorGrid loaded."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            import({{ this.module|tojson }}).then((m) => m.basemapPage({{ this._parent.get_name() }},
                {{ this.config|tojson }}));
        {% endmacro %}
    """)

    def __init__(self, config: dict):
        super().__init__()
        self._name = "BasemapHook"
        self.config, self.module = config, BASEMAP_JS
        self.default_js = [("vectorGrid", "cdn:vectorgrid")]  # webmap.assets.LOCAL serves it from /static
