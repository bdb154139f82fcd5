"""the audit log says who acted, how and from where (actor, via, address, request id), indexed by time

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("actor", sa.Text(), nullable=True))
    op.add_column("audit_log", sa.Column("via", sa.String(length=16), nullable=True))
    op.add_column("audit_log", sa.Column("address", sa.Text(), nullable=True))
    op.add_column("audit_log", sa.Column("request_id", sa.String(length=64), nullable=True))
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    # Rows written before this revision: the actor is the user's name, as far as it is known.
    op.execute("UPDATE audit_log a SET actor = u.name FROM users u WHERE u.id = a.user_id")


def downgrade() -> None:
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    for column in ("request_id", "address", "via", "actor"):
        op.drop_column("audit_log", column)
