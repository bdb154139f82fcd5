"""The schema refuses what cannot be true: invalid or wrong-SRID geometry, bad codes, overlapping versions."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DataError, IntegrityError, InternalError

from gis.core.models import Grid, grid_codes
from tests.factories import area, bowtie, grid, hierarchy, rect


def test_invalid_geometry_is_rejected(session):
    with pytest.raises(IntegrityError, match="geom_valid"):
        area(session, "district", "310101", bowtie())


def test_wrong_srid_is_rejected(session):
    with pytest.raises((DataError, InternalError, IntegrityError), match="SRID"):
        session.execute(text(
            "INSERT INTO admin_areas (level, code, name, geom) VALUES ('district', '310101', 'x', "
            "ST_Multi(ST_MakeEnvelope(0, 0, 100, 100, 3857)))"))


def test_wrong_geometry_type_is_rejected(session):
    with pytest.raises((DataError, InternalError, IntegrityError), match="(?i)geometry type"):
        session.execute(text(
            "INSERT INTO admin_areas (level, code, name, geom) VALUES ('district', '310101', 'x', "
            "ST_SetSRID(ST_MakePoint(121, 31), 4326))"))


@pytest.mark.parametrize("level,code", [("district", "31010"), ("street", "310101"),
                                        ("community", "31010100100A")])
def test_code_must_fit_level(session, level, code):
    district = area(session, "district", "310101", rect(0, 0, 10, 10))
    with pytest.raises(IntegrityError, match="code_fits_level"):
        area(session, level, code, rect(0, 0, 10, 10), parent=None if level == "district" else district)


def test_grid_code_is_registered_and_versions_may_not_overlap(session):
    _, _, community = hierarchy(session)
    g = grid(session, community, 1, rect(0, 0, 100, 100), valid_from=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
             valid_to=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    assert session.scalar(select(grid_codes.c.code)) == g.code
    session.add(Grid(code=g.code, name="v2", community=community, geom=g.geom, version=2,
                     valid_from=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)))
    with pytest.raises(IntegrityError, match="ex_grids_code_validity"):
        session.flush()


def test_grid_versions_in_sequence_are_accepted(session):
    _, _, community = hierarchy(session)
    cut = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    g = grid(session, community, 1, rect(0, 0, 100, 100), valid_to=cut)
    grid(session, community, 1, rect(0, 0, 120, 100), version=2, valid_from=cut)
    rows = session.execute(select(Grid.version, Grid.area_m2).where(Grid.code == g.code)
                           .order_by(Grid.version)).all()
    assert [r.version for r in rows] == [1, 2]
    # area_m2 is geodesic: 100 m × 100 m and 120 m × 100 m, within 0.5 %.
    assert rows[0].area_m2 == pytest.approx(10_000, rel=5e-3)
    assert rows[1].area_m2 == pytest.approx(12_000, rel=5e-3)


def test_grid_code_format(session):
    _, _, community = hierarchy(session)
    session.add(Grid(code="12345", name="bad", community=community, geom=rect(0, 0, 1, 1).wkt))
    with pytest.raises(IntegrityError):
        session.flush()


def test_contract_is_grid_or_polygon_not_both(session):
    session.execute(text("INSERT INTO cadres (code, name, type) VALUES ('C1', '张三', '网格员')"))
    with pytest.raises(IntegrityError, match="grid_or_polygon"):
        session.execute(text("INSERT INTO contracts (cadre_id, role) SELECT id, '网格长' FROM cadres"))
