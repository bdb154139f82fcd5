"""Lists cut short say how many they left out, in the same words in every command."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from webmap.catalog import say


def more_line(omitted: int, indent: str = "") -> str:
    """The line after a cut list, in the command line's language: '… 还有 232 项未列出'."""
    return indent + say("cli.more", n=f"{omitted:,}")


def listed(items: Sequence[Any], limit: int, render: Callable[[Any], str], indent: str = "",
           omitted_before: int = 0) -> Iterator[str]:
    """The first `limit` items rendered, then a `more_line` for those cut here and `omitted_before` cut earlier."""
    shown = items[:max(limit, 0)]
    for item in shown:
        yield render(item)
    omitted = len(items) - len(shown) + omitted_before
    if omitted > 0:
        yield more_line(omitted, indent)
