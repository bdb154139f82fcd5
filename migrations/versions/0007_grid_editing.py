"""grid editing: edits, lineage between grid versions, events handed over by an edit

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0007'
down_revision = '0006'  # re-chained after merging main (issues #6, #8)
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('events', sa.Column('reassigned_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table('grid_edits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('op', sa.String(length=16), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('request', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('impact', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.CheckConstraint("op IN ('reshape', 'move_vertices', 'split', 'merge', 'create', 'retire')", name=op.f('ck_grid_edits_op')),
    sa.ForeignKeyConstraint(['community_id'], ['admin_areas.id'], name=op.f('fk_grid_edits_community_id_admin_areas'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_grid_edits_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grid_edits'))
    )
    op.create_index('ix_grid_edits_at', 'grid_edits', ['at'], unique=False)
    op.create_index('ix_grid_edits_community_id', 'grid_edits', ['community_id'], unique=False)
    op.create_table('grid_lineage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('edit_id', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=False),
    sa.Column('child_id', sa.Integer(), nullable=False),
    sa.Column('relation', sa.String(length=16), nullable=False),
    sa.CheckConstraint("relation IN ('version', 'split', 'merged', 'absorbed', 'carved')", name=op.f('ck_grid_lineage_relation')),
    sa.CheckConstraint('parent_id <> child_id', name=op.f('ck_grid_lineage_not_self')),
    sa.ForeignKeyConstraint(['child_id'], ['grids.id'], name=op.f('fk_grid_lineage_child_id_grids'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['edit_id'], ['grid_edits.id'], name=op.f('fk_grid_lineage_edit_id_grid_edits'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['parent_id'], ['grids.id'], name=op.f('fk_grid_lineage_parent_id_grids'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grid_lineage')),
    sa.UniqueConstraint('parent_id', 'child_id', name=op.f('uq_grid_lineage_parent_id_child_id'))
    )
    op.create_index('ix_grid_lineage_child_id', 'grid_lineage', ['child_id'], unique=False)
    op.create_index('ix_grid_lineage_edit_id', 'grid_lineage', ['edit_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_grid_lineage_edit_id', table_name='grid_lineage')
    op.drop_index('ix_grid_lineage_child_id', table_name='grid_lineage')
    op.drop_table('grid_lineage')
    op.drop_index('ix_grid_edits_community_id', table_name='grid_edits')
    op.drop_index('ix_grid_edits_at', table_name='grid_edits')
    op.drop_table('grid_edits')
    op.drop_column('events', 'reassigned_at')
