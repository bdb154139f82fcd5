"""The schema's revision, through Alembic: migrate, read the revision, refuse to work without a schema."""
from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

from api.cli.common import engine
from gis.core.errors import SetupRequired
from gis.core.pgcluster import project_root


def alembic_config(url: str | None = None) -> Config:
    """alembic.ini of the checkout, on `url` when given."""
    cfg = Config(str(project_root() / "alembic.ini"))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate_to_head(url: str) -> None:
    """Bring the database at `url` to the newest schema revision."""
    command.upgrade(alembic_config(url), "head")


def current_revision(bind: Engine | None = None) -> str | None:
    """The schema revision of the database (`bind`, or the one in use), None before the first migration."""
    with (bind or engine()).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def require_schema(bind: Engine | None = None) -> None:
    """SetupRequired unless the database has a gridgov schema."""
    if current_revision(bind) is None:
        raise SetupRequired("The database has no gridgov schema", "Run `gridgov db migrate` first.")
