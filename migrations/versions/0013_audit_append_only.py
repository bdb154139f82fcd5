"""the audit log is append-only: the database refuses UPDATE, DELETE and TRUNCATE, except the purge of old rows

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-02
"""
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# Why a trigger and a SECURITY DEFINER function rather than privileges alone: the trigger holds for
# every role but a superuser or the table's owner disabling it, so a bug or a stolen application
# login cannot rewrite history. The one delete allowed is gridgov_audit_purge(days): it runs as the
# owner (so the application's role needs no DELETE on audit_log), refuses a retention under 180 days
# (the Cybersecurity Law keeps network logs at least six months), and marks its own transaction
# with the setting gridgov.audit_purge. The trigger lets a DELETE through only with that mark AND
# only for a row older than 180 days, checked per row: setting the mark by hand gains no more than
# the purge itself may do. A user's removal sets user_id to NULL (ON DELETE SET NULL); that one
# UPDATE is let through, the actor's name stays in the row.
UPGRADE = """
CREATE FUNCTION gridgov_audit_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        RAISE EXCEPTION 'audit_log is append-only: TRUNCATE refused (use gridgov_audit_purge)'
            USING ERRCODE = 'insufficient_privilege';
    ELSIF TG_OP = 'UPDATE' THEN
        IF OLD.user_id IS NOT NULL AND NEW.user_id IS NULL
           AND to_jsonb(NEW) - 'user_id' = to_jsonb(OLD) - 'user_id' THEN
            RETURN NEW;  -- the user was removed; the row keeps the actor's name
        END IF;
        RAISE EXCEPTION 'audit_log is append-only: UPDATE of row % refused', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF current_setting('gridgov.audit_purge', true) = 'on' AND OLD.at < now() - interval '180 days' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: DELETE of row % refused (only gridgov_audit_purge removes rows, '
        'older than 180 days)', OLD.id USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION gridgov_audit_guard();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION gridgov_audit_guard();

CREATE FUNCTION gridgov_audit_purge(days integer) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    removed bigint;
BEGIN
    IF days IS NULL OR days < 180 THEN
        RAISE EXCEPTION 'audit retention must be at least 180 days (network logs are kept six months); got %', days
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM set_config('gridgov.audit_purge', 'on', true);
    DELETE FROM audit_log WHERE at < now() - make_interval(days => days);
    GET DIAGNOSTICS removed = ROW_COUNT;
    PERFORM set_config('gridgov.audit_purge', 'off', true);
    RETURN removed;
END $$;
REVOKE ALL ON FUNCTION gridgov_audit_purge(integer) FROM PUBLIC;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute("""
        DROP FUNCTION gridgov_audit_purge(integer);
        DROP TRIGGER audit_log_no_truncate ON audit_log;
        DROP TRIGGER audit_log_append_only ON audit_log;
        DROP FUNCTION gridgov_audit_guard();
    """)
