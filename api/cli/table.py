"""Aligned text tables for a terminal: columns sized by display width, so 中文 counts two cells a character."""
from __future__ import annotations

import unicodedata
from collections.abc import Sequence


def width(text: str) -> int:
    """Cells `text` takes in a terminal: wide and full-width characters (CJK) two, combining marks none."""
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1
               for c in text)


def pad(text: str, cells: int, right: bool = False) -> str:
    """`text` padded with spaces to `cells` display cells (on the left when `right`-aligned)."""
    fill = " " * max(cells - width(text), 0)
    return fill + text if right else text + fill


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]) -> list[str]:
    """Lines of a table: headers, a rule, the rows; column i right-aligned when right[i] (numbers)."""
    cells = [max([width(h)] + [width(r[i]) for r in rows]) for i, h in enumerate(headers)]
    line = lambda values: "  ".join(pad(v, cells[i], right[i]) for i, v in enumerate(values)).rstrip()  # noqa: E731
    # ASCII for the rule: box-drawing characters are "ambiguous" width, two cells in some CJK terminals.
    return [line(headers), "  ".join("-" * c for c in cells), *(line(r) for r in rows)]
