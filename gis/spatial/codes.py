"""Code formats of the hierarchy (GB/T 2260 style) and the reading order that numbers grids."""
from __future__ import annotations

import re

import numpy as np

from gis.core.models import AREA_CODE_LENGTH

# District 6 digits, street +3, community +3, grid +3 (15 digits); buildings +5 within a grid.
GRID_CODE_LENGTH = 15
BUILDING_SEQUENCE_DIGITS = 5
PARENT_LEVEL = {"street": "district", "community": "street"}
_DIGITS = re.compile(r"^[0-9]+$")


def code_problem(level: str, code: str, parent_code: str | None = None) -> str | None:
    """Why `code` is not a valid code for `level` under `parent_code`, or None when it is."""
    if level not in AREA_CODE_LENGTH and level != "grid":
        return f"unknown level {level!r} (district, street, community)"
    want = GRID_CODE_LENGTH if level == "grid" else AREA_CODE_LENGTH[level]
    if not code or not _DIGITS.match(code) or len(code) != want:
        return f"{level} code {code!r} must be {want} digits"
    if level == "district":
        return f"a district has no parent (got {parent_code!r})" if parent_code else None
    if not parent_code:
        return f"a {level} needs a parent code"
    if not code.startswith(parent_code):
        return f"{level} code {code} does not start with its parent's code {parent_code}"
    parent_len = AREA_CODE_LENGTH["community"] if level == "grid" else AREA_CODE_LENGTH[PARENT_LEVEL[level]]
    if len(parent_code) != parent_len:
        return f"parent code {parent_code!r} of a {level} must be {parent_len} digits"
    if code[len(parent_code):].strip("0") == "":
        return f"{level} code {code} has sequence 000, which means the parent itself"
    return None


def grid_code(community_code: str, sequence: int) -> str:
    """The 15-digit code of grid number `sequence` (1–999) of a community."""
    if not 1 <= sequence <= 999:
        raise ValueError(f"grid sequence {sequence} outside 1..999")
    return f"{community_code}{sequence:03d}"


def building_code(grid: str, sequence: int) -> str:
    """A building's code: its grid's 15 digits and a 5-digit sequence 00001–99999."""
    if not 1 <= sequence <= 99_999:
        raise ValueError(f"building sequence {sequence} outside 1..99999")
    return f"{grid}{sequence:05d}"


def reading_order(x: np.ndarray, y: np.ndarray, row_height: float) -> np.ndarray:
    """Indices that number places west→east, north→south, like reading a page.

    The rule: cut the area into rows `row_height` tall counted down from the northernmost
    point (y is northing or latitude), then order by row (north first) and, within a row,
    by x (west first). Pass each grid's representative point (ST_PointOnSurface) and a row
    height near the typical grid height, e.g. sqrt of the median grid area in the same units.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) == 0:
        return np.array([], dtype=int)
    if row_height <= 0:
        raise ValueError("row_height must be positive")
    row = np.floor((y.max() - y) / row_height).astype(np.int64)
    return np.lexsort((x, row))
