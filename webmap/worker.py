"""The grid worker's page (/map/worker): locate by tap or GPS, report, my grids and their events."""
from __future__ import annotations

from webmap.app import page


def worker_page(bounds: list[list[float]] | None, config: dict) -> str:
    """The worker page; `config` adds the report categories and whether locate/report exist yet."""
    return page("worker", "gridgov — 网格员 grid worker", bounds, config, ("tiles",))
