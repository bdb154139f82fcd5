"""users and user_grids send the same change notification as layer tables (auth cache invalidation)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Each server process caches token → user and a worker's grid scope (api/auth.py); a change to
# either table must reach every process at once, as layer changes do (migration 0005).
TABLES = ("users", "user_grids")


def upgrade() -> None:
    for table in TABLES:
        op.execute(f"""
            CREATE TRIGGER {table}_notify_layer
            AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION gridgov_notify_layer()
        """)


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER {table}_notify_layer ON {table}")
