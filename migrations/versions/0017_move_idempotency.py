"""Moves sent from a phone's outbox carry an Idempotency-Key: a resend is the same move, never a second.

Revision ID: 0017
Revises: 0016
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("event_moves", sa.Column("idempotency_key", sa.String(length=128), nullable=True))
    op.create_unique_constraint(op.f("uq_event_moves_actor_id_idempotency_key"), "event_moves",
                                ["actor_id", "idempotency_key"])


def downgrade() -> None:
    op.drop_constraint(op.f("uq_event_moves_actor_id_idempotency_key"), "event_moves", type_="unique")
    op.drop_column("event_moves", "idempotency_key")
