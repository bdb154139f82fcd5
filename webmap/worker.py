"""The grid worker's page (/map/worker): locate by tap or GPS, report, my grids and their events."""
from __future__ import annotations

from webmap.app import page


def worker_page(bounds: list[list[float]] | None, config: dict) -> str:
    """The worker page (installable, offline); `config` adds the report categories and the offline rules."""
    return page("worker", "gridgov — 网格员", bounds, config, ("tiles",), installable=True)
