"""layers and the live map: change notifications (LISTEN/NOTIFY) for tile caches and the live map

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""
from alembic import op

revision = "0005"
down_revision = "0004"  # re-chained after merging main (issue #5)
branch_labels = None
depends_on = None

# Tables whose changes make cached tiles stale (see layers/cache.py); the layer registry's
# `depends_on` names only tables from this list.
LAYER_TABLES = ("admin_areas", "grids", "buildings", "events", "categories", "cadres", "contracts")


def upgrade() -> None:
    # One notification per statement, never per row: a bulk load of a million buildings sends one.
    op.execute("""
        CREATE FUNCTION gridgov_notify_layer() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('gridgov_layers', TG_TABLE_NAME);
            RETURN NULL;
        END $$
    """)
    for table in LAYER_TABLES:
        op.execute(f"""
            CREATE TRIGGER {table}_notify_layer
            AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION gridgov_notify_layer()
        """)
    # New or changed events for the live map: the ids when a statement touched a few (a report
    # from the API), else a count and `reload` (an import or a bulk reassignment).
    op.execute("""
        CREATE FUNCTION gridgov_notify_events() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            n bigint;
            ids bigint[];
        BEGIN
            SELECT count(*) INTO n FROM changed;
            IF n = 0 THEN
                RETURN NULL;
            ELSIF n <= 100 THEN
                SELECT array_agg(id ORDER BY id) INTO ids FROM changed;
                PERFORM pg_notify('gridgov_events', json_build_object('op', lower(TG_OP), 'ids', ids)::text);
            ELSE
                PERFORM pg_notify('gridgov_events',
                                  json_build_object('op', lower(TG_OP), 'count', n, 'reload', true)::text);
            END IF;
            RETURN NULL;
        END $$
    """)
    op.execute("""
        CREATE TRIGGER events_notify_insert AFTER INSERT ON events
        REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION gridgov_notify_events()
    """)
    op.execute("""
        CREATE TRIGGER events_notify_update AFTER UPDATE ON events
        REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION gridgov_notify_events()
    """)


def downgrade() -> None:
    op.execute("DROP TRIGGER events_notify_update ON events")
    op.execute("DROP TRIGGER events_notify_insert ON events")
    op.execute("DROP FUNCTION gridgov_notify_events()")
    for table in LAYER_TABLES:
        op.execute(f"DROP TRIGGER {table}_notify_layer ON {table}")
    op.execute("DROP FUNCTION gridgov_notify_layer()")
