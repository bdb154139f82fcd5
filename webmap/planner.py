"""The planner's page (/map/planner): current grids with codes, areas and households, editable."""
from __future__ import annotations

from webmap.app import page


def planner_page(bounds: list[list[float]] | None, config: dict) -> str:
    """The planner page: grids drawn as editable vectors (Leaflet-Geoman) once zoomed in."""
    return page("planner", "gridgov — 网格规划 grid planner", bounds, config, ("tiles", "geoman"))
