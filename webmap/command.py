"""The command-center map page (/map): every layer, live events, counters, search."""
from __future__ import annotations

from webmap.app import page
from webmap.catalog import DEFAULT_LANG, t


def command_page(bounds: list[list[float]] | None, config: dict) -> str:
    """The command-center page, framed on `bounds` ([[south, west], [north, east]]).

    `config` carries the layers the user may read (catalog entries), the user, the CSRF token,
    the endpoints and the optional basemap; the page script draws everything from it.
    """
    title = f"gridgov — {t('page.command.title', config.get('lang', DEFAULT_LANG))}"
    return page("command", title, bounds, config,
                ("cluster", "heat", "tiles"))
