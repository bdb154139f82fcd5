"""Code formats and the west→east, north→south numbering rule."""
from __future__ import annotations

import numpy as np
import pytest

from gis.spatial.codes import building_code, code_problem, grid_code, reading_order


def test_reading_order_numbers_rows_north_first_then_west_to_east():
    # Two rows of three, drawn by hand; y is northing. The middle of the top row sits a little
    # lower than its neighbours but inside the same 10-unit row.
    names = ["NW", "N", "NE", "SW", "S", "SE"]
    x = np.array([0, 10, 20, 0, 10, 20], dtype=float)
    y = np.array([100, 96, 100, 75, 77, 72], dtype=float)
    shuffled = np.array([4, 0, 5, 2, 1, 3])
    order = reading_order(x[shuffled], y[shuffled], row_height=10)
    assert [names[shuffled[i]] for i in order] == ["NW", "N", "NE", "SW", "S", "SE"]


def test_reading_order_row_height_decides_what_shares_a_row():
    x = np.array([0.0, 10.0])
    y = np.array([100.0, 105.0])  # the east point is 5 north of the west one
    assert list(reading_order(x, y, row_height=10)) == [0, 1]  # same row: west first
    assert list(reading_order(x, y, row_height=2)) == [1, 0]  # separate rows: north first


def test_reading_order_edge_cases():
    assert len(reading_order(np.array([]), np.array([]), 5)) == 0
    with pytest.raises(ValueError):
        reading_order(np.array([1.0]), np.array([1.0]), 0)


@pytest.mark.parametrize("level, code, parent, problem", [
    ("district", "350209", None, None),
    ("district", "35020", None, "6 digits"),
    ("district", "350209", "35", "no parent"),
    ("street", "350209001", "350209", None),
    ("street", "350209001", None, "needs a parent"),
    ("street", "350210001", "350209", "does not start with"),
    ("street", "350209000", "350209", "sequence 000"),
    ("community", "350209001001", "350209001", None),
    ("community", "35020900100A", "350209001", "12 digits"),
    ("grid", "350209001001007", "350209001001", None),
    ("grid", "350209001001007", "350209001", "must be 12 digits"),
    ("grid", "35020900100100", "350209001001", "15 digits"),
    ("town", "350209001", "350209", "unknown level"),
])
def test_code_problem(level, code, parent, problem):
    found = code_problem(level, code, parent)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_grid_and_building_codes():
    assert grid_code("350209001001", 7) == "350209001001007"
    assert building_code("350209001001007", 42) == "35020900100100700042"
    with pytest.raises(ValueError):
        grid_code("350209001001", 1000)
    with pytest.raises(ValueError):
        building_code("350209001001007", 0)
