"""The command-center map page (/map)."""
from __future__ import annotations

import folium

from webmap.assets import render_page


def command_page(bounds: list[list[float]] | None, *, basemap_url: str | None = None,
                 basemap_attribution: str = "") -> str:
    """The command-center page, framed on `bounds` ([[south, west], [north, east]])."""
    m = folium.Map(location=[30.0, 120.0], zoom_start=12, tiles=None, max_zoom=20,
                   control_scale=True, prefer_canvas=True)
    if basemap_url:
        folium.TileLayer(basemap_url, attr=basemap_attribution or "basemap", name="底图 basemap",
                         max_zoom=20).add_to(m)
    if bounds:
        m.fit_bounds(bounds)
    return render_page(m, "gridgov — 指挥中心 command center")
