"""photos attached to events: original, GPS-stripped variant and thumbnail by hash, with their EXIF facts

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attachments",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("move_id", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.CHAR(length=64), nullable=False),
        sa.Column("public_sha256", sa.CHAR(length=64), nullable=False),
        sa.Column("thumb_sha256", sa.CHAR(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("taken_lon", sa.Float(), nullable=True),
        sa.Column("taken_lat", sa.Float(), nullable=True),
        sa.Column("flags", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("distance_m", sa.Float(), nullable=True),
        sa.Column("uploaded_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("bytes > 0 AND width > 0 AND height > 0", name=op.f("ck_attachments_sizes_positive")),
        sa.CheckConstraint("flags <@ ARRAY['far', 'old', 'future', 'no_exif_time']::text[]",
                           name=op.f("ck_attachments_flags")),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name=op.f("fk_attachments_event_id_events"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["move_id"], ["event_moves.id"], name=op.f("fk_attachments_move_id_event_moves"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["uploaded_by"], ["users.id"], name=op.f("fk_attachments_uploaded_by_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
        sa.UniqueConstraint("event_id", "sha256", name=op.f("uq_attachments_event_id_sha256")),
    )
    op.create_index(op.f("ix_attachments_move_id"), "attachments", ["move_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_attachments_move_id"), table_name="attachments")
    op.drop_table("attachments")
