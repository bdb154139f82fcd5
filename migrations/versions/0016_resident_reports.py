"""Residents' reports counted per client address: an index on the audit rows of the residents' channel.

Revision ID: 0016
Revises: 0015
"""
from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The residents' limit (gis/cases/residents.py) counts one address's reports of the last hour on
    # every report; the partial index keeps that a few index entries however long the trail grows.
    op.execute("CREATE INDEX ix_audit_log_resident_reports ON audit_log (address, at) "
               "WHERE action = 'resident.report'")


def downgrade() -> None:
    op.execute("DROP INDEX ix_audit_log_resident_reports")
