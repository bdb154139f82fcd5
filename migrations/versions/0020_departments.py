"""Departments, the responsibility list (权责清单), department members, and dispatch to a department (issue 25).

Adds the role `department`, users.department_id, events.owner_department_id, event_moves.department_id and
the move `return` (退单: a department sends a case back as not theirs).

Revision ID: 0020
Revises: 0019
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

OLD_ROLES = "'admin', 'planner', 'commander', 'worker', 'viewer'"
OLD_MOVES = ("'report', 'register', 'reject', 'merge', 'dispatch', 'start', 'handle', 'verify', 'rework', "
             "'postpone', 'escalate', 'deescalate', 'note', 'overdue'")


def _checks(roles: str, moves: str) -> None:
    op.execute("ALTER TABLE users DROP CONSTRAINT ck_users_role")
    op.execute(f"ALTER TABLE users ADD CONSTRAINT ck_users_role CHECK (role IN ({roles}))")
    op.execute("ALTER TABLE event_moves DROP CONSTRAINT ck_event_moves_move")
    op.execute(f"ALTER TABLE event_moves ADD CONSTRAINT ck_event_moves_move CHECK (move IN ({moves}))")


def upgrade() -> None:
    op.create_table(
        "departments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=True),
        sa.Column("contact", sa.Text(), server_default="", nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.CheckConstraint("level IN ('district', 'street', 'community')", name=op.f("ck_departments_level")),
        sa.CheckConstraint("code ~ '^[A-Za-z0-9_.-]{1,32}$'", name=op.f("ck_departments_code_format")),
        sa.ForeignKeyConstraint(["area_id"], ["admin_areas.id"], name=op.f("fk_departments_area_id_admin_areas"),
                                ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_departments")),
        sa.UniqueConstraint("code", name=op.f("uq_departments_code")),
    )
    op.create_table(
        "responsibilities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=True),
        sa.Column("major_code", sa.String(length=8), nullable=True),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("co_ids", postgresql.ARRAY(sa.Integer()), server_default="{}", nullable=False),
        sa.Column("time_limit_hours", sa.Numeric(6, 1), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.CheckConstraint("(category IS NULL) <> (major_code IS NULL)",
                           name=op.f("ck_responsibilities_category_or_major")),
        sa.CheckConstraint("level IN ('grid', 'community', 'street', 'district')", name=op.f("ck_responsibilities_level")),
        sa.CheckConstraint("time_limit_hours IS NULL OR time_limit_hours > 0",
                           name=op.f("ck_responsibilities_time_limit_positive")),
        sa.CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name=op.f("ck_responsibilities_dates_ordered")),
        sa.ForeignKeyConstraint(["category"], ["categories.code"], name=op.f("fk_responsibilities_category_categories"),
                                ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["area_id"], ["admin_areas.id"], name=op.f("fk_responsibilities_area_id_admin_areas"),
                                ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["owner_id"], ["departments.id"], name=op.f("fk_responsibilities_owner_id_departments"),
                                ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_responsibilities")),
    )
    op.create_index("ix_responsibilities_lookup", "responsibilities", ["level", "category", "major_code"])
    op.add_column("users", sa.Column("department_id", sa.Integer(), nullable=True))
    op.create_foreign_key(op.f("fk_users_department_id_departments"), "users", "departments", ["department_id"],
                          ["id"], ondelete="SET NULL")
    op.add_column("events", sa.Column("owner_department_id", sa.Integer(), nullable=True))
    op.create_foreign_key(op.f("fk_events_owner_department_id_departments"), "events", "departments",
                          ["owner_department_id"], ["id"], ondelete="SET NULL")
    op.create_index("ix_events_owner_department_id", "events", ["owner_department_id"])
    op.add_column("event_moves", sa.Column("department_id", sa.Integer(), nullable=True))
    op.create_foreign_key(op.f("fk_event_moves_department_id_departments"), "event_moves", "departments",
                          ["department_id"], ["id"], ondelete="SET NULL")
    _checks(OLD_ROLES + ", 'department'", OLD_MOVES + ", 'return'")


def downgrade() -> None:
    op.execute("DELETE FROM event_moves WHERE move = 'return'")
    op.execute("UPDATE users SET role = 'viewer' WHERE role = 'department'")
    _checks(OLD_ROLES, OLD_MOVES)
    op.drop_constraint(op.f("fk_event_moves_department_id_departments"), "event_moves", type_="foreignkey")
    op.drop_column("event_moves", "department_id")
    op.drop_index("ix_events_owner_department_id", table_name="events")
    op.drop_constraint(op.f("fk_events_owner_department_id_departments"), "events", type_="foreignkey")
    op.drop_column("events", "owner_department_id")
    op.drop_constraint(op.f("fk_users_department_id_departments"), "users", type_="foreignkey")
    op.drop_column("users", "department_id")
    op.drop_index("ix_responsibilities_lookup", table_name="responsibilities")
    op.drop_table("responsibilities")
    op.drop_table("departments")
