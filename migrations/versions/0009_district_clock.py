"""a change of the district's time zone setting reaches every server process (its clock)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Every connection gridgov opens runs in the district's zone, set when it connects (gis.core.clock).
# When the `timezone` setting changes, each process must drop the connections it pools (and the
# tiles it cached, which carry local times): the same channel as layer changes tells them.


def upgrade() -> None:
    op.execute("""
        CREATE FUNCTION gridgov_notify_clock() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('gridgov_layers', 'district_clock');
            RETURN NULL;
        END $$
    """)
    op.execute("""
        CREATE TRIGGER workflow_settings_clock_changed
        AFTER INSERT OR UPDATE ON workflow_settings
        FOR EACH ROW WHEN (NEW.key = 'timezone') EXECUTE FUNCTION gridgov_notify_clock()
    """)
    op.execute("""
        CREATE TRIGGER workflow_settings_clock_removed
        AFTER DELETE ON workflow_settings
        FOR EACH ROW WHEN (OLD.key = 'timezone') EXECUTE FUNCTION gridgov_notify_clock()
    """)


def downgrade() -> None:
    op.execute("DROP TRIGGER workflow_settings_clock_removed ON workflow_settings")
    op.execute("DROP TRIGGER workflow_settings_clock_changed ON workflow_settings")
    op.execute("DROP FUNCTION gridgov_notify_clock()")
