"""Migrations go up and down cleanly, and the models match what they create."""
from __future__ import annotations

import uuid

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from gis.core.db import make_engine
from gis.core.models import Base
from gis.core.pgcluster import project_root
from tests.conftest import create_database, drop_database

TABLES = {"admin_areas", "grid_codes", "grids", "buildings", "categories", "events", "cadres",
          "contracts", "users", "user_grids", "audit_log"}


@pytest.fixture
def empty_db(pg_admin_url):
    name = f"gridgov_m_{uuid.uuid4().hex[:10]}"
    url = create_database(pg_admin_url, name)
    yield url
    drop_database(pg_admin_url, name)


def _cfg(url: str) -> Config:
    cfg = Config(str(project_root() / "alembic.ini"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(empty_db):
    command.upgrade(_cfg(empty_db), "head")
    assert TABLES <= _tables(empty_db)
    command.downgrade(_cfg(empty_db), "base")
    assert not (TABLES & _tables(empty_db))
    command.upgrade(_cfg(empty_db), "head")
    assert TABLES <= _tables(empty_db)


def test_models_match_migrations(db_url):
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            env_include = _include()
            ctx = MigrationContext.configure(conn, opts={"include_object": env_include, "compare_type": True})
            assert compare_metadata(ctx, Base.metadata) == []
    finally:
        engine.dispose()


def _include():
    from geoalchemy2 import alembic_helpers

    def include(obj, name, type_, reflected, compare_to):
        if type_ == "table" and name == "spatial_ref_sys":
            return False
        return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)

    return include


def test_categories_are_seeded(session):
    from sqlalchemy import func, select

    from gis.core.models import Category

    assert session.scalar(select(func.count()).select_from(Category)) > 40
    kinds = set(session.scalars(select(Category.kind).distinct()))
    assert kinds == {"event", "component"}
