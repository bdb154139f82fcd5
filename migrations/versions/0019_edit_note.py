"""Every grid edit saved from now on says why: grid_edits.note is required (older edits keep theirs, or none).

The column exists since 0007 (nullable); adding it is skipped when present. The check is NOT VALID:
edits saved before the rule stay as they were, every new or changed row must carry a non-blank note.

Revision ID: 0019
Revises: 0018
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("grid_edits")}
    if "note" not in columns:
        op.add_column("grid_edits", sa.Column("note", sa.Text(), nullable=True))
    op.execute("ALTER TABLE grid_edits ADD CONSTRAINT ck_grid_edits_note "
               "CHECK (note IS NOT NULL AND btrim(note) <> '') NOT VALID")


def downgrade() -> None:
    op.execute("ALTER TABLE grid_edits DROP CONSTRAINT ck_grid_edits_note")
