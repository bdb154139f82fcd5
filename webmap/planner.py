"""The planner's page (/map/planner): current grids with codes, areas and households, editable."""
from __future__ import annotations

from webmap.app import page
from webmap.catalog import DEFAULT_LANG, t


def planner_page(bounds: list[list[float]] | None, config: dict) -> str:
    """The planner page: grids drawn as editable vectors (Leaflet-Geoman) once zoomed in."""
    title = f"gridgov — {t('page.planner.title', config.get('lang', DEFAULT_LANG))}"
    return page("planner", title, bounds, config, ("tiles", "geoman"))
