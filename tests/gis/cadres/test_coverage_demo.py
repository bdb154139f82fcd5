"""Acceptance: on the demo district, coverage_of agrees with an independent shapely computation.

"Independent" is tests/independent_coverage.py: raw rows, shapely STRtree, geodesic areas from
pyproj on the WGS84 ellipsoid — none of gis.cadres.coverage's SQL. Numbers agree to 0.1 %; the uncovered
and shared grid lists (with their open events and holders) are exact.
"""
from __future__ import annotations

import pytest
from sqlalchemy import text

from gis.cadres.contracts import today
from gis.cadres.coverage import coverage_of
from gis.core.models import CADRE_TYPES
from tests.independent_coverage import assert_agrees, independent_coverage


def _code(session, level: str) -> str:
    return session.scalar(text("SELECT code FROM admin_areas WHERE level = :l ORDER BY code LIMIT 1"), {"l": level})


def test_demo_district_coverage_agrees_with_shapely(demo_session):
    session = demo_session
    district, day = _code(session, "district"), today(session)
    ours = coverage_of(session, district).to_dict()
    assert_agrees(ours, independent_coverage(session, district, day))
    assert ours["shared_grids"] and len(ours["cadres"]) > 100
    # Per cadre type the demo holds every case: grids nobody of that type holds, grids held twice,
    # and drawn areas (下沉力量, 社会力量) that cover grids by fraction.
    uncovered = shared = 0
    for cadre_type in CADRE_TYPES:
        mine = coverage_of(session, district, cadre_type=cadre_type).to_dict()
        assert_agrees(mine, independent_coverage(session, district, day, cadre_type=cadre_type))
        uncovered += len(mine["uncovered_grids"])
        shared += len(mine["shared_grids"])
    assert uncovered and shared
    drawn = coverage_of(session, district, cadre_type="下沉力量").to_dict()
    assert any(c["grids"] != int(c["grids"]) for c in drawn["cadres"])  # fractions, not whole grids


@pytest.mark.parametrize("level", ["street", "community"])
def test_demo_smaller_areas_agree_with_shapely(demo_session, level):
    session = demo_session
    code = _code(session, level)
    assert_agrees(coverage_of(session, code).to_dict(), independent_coverage(session, code, today(session)))
