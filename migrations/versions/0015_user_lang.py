"""each user may choose the language of the pages, problems and messages: users.lang (zh, en, or null = the browser's)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("lang", sa.String(length=2), nullable=True))
    op.create_check_constraint(op.f("ck_users_lang"), "users", "lang IN ('zh', 'en')")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_users_lang"), "users", type_="check")
    op.drop_column("users", "lang")
