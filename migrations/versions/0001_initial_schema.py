"""initial schema: admin areas, grid codes and versions, buildings, events, cadres, contracts, users, audit

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""
import csv
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


CATEGORIES_CSV = Path(__file__).resolve().parents[2] / "data" / "categories.csv"


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    # btree_gist lets one exclusion constraint say "versions of a grid code never overlap in time".
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.create_geospatial_table('admin_areas',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('area_m2', sa.Float(), sa.Computed('ST_Area(geom::geography)', persisted=True), nullable=False),
    sa.CheckConstraint("(level = 'district' AND code ~ '^[0-9]{6}$' AND parent_id IS NULL) OR (level = 'street' AND code ~ '^[0-9]{9}$' AND parent_id IS NOT NULL) OR (level = 'community' AND code ~ '^[0-9]{12}$' AND parent_id IS NOT NULL)", name=op.f('ck_admin_areas_code_fits_level')),
    sa.CheckConstraint("level IN ('district', 'street', 'community')", name=op.f('ck_admin_areas_level')),
    sa.CheckConstraint('ST_IsValid(geom)', name=op.f('ck_admin_areas_geom_valid')),
    sa.ForeignKeyConstraint(['parent_id'], ['admin_areas.id'], name=op.f('fk_admin_areas_parent_id_admin_areas'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_areas')),
    sa.UniqueConstraint('code', name=op.f('uq_admin_areas_code'))
    )
    op.create_geospatial_index('ix_admin_areas_geom', 'admin_areas', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index('ix_admin_areas_parent_id', 'admin_areas', ['parent_id'], unique=False)
    op.create_table('categories',
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('major_code', sa.String(length=8), nullable=False),
    sa.Column('major_name', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('default_level', sa.String(length=16), server_default='grid', nullable=False),
    sa.Column('time_limit_hours', sa.Numeric(precision=6, scale=1), nullable=False),
    sa.Column('urgent', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.CheckConstraint("default_level IN ('grid', 'community', 'street', 'district')", name=op.f('ck_categories_default_level')),
    sa.CheckConstraint("kind IN ('event', 'component')", name=op.f('ck_categories_kind')),
    sa.CheckConstraint('time_limit_hours > 0', name=op.f('ck_categories_time_limit_positive')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_categories'))
    )
    op.create_table('grid_codes',
    sa.Column('code', sa.String(length=15), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("code ~ '^[0-9]{15}$'", name=op.f('ck_grid_codes_code_format')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_grid_codes'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.Text(), nullable=True),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.Text(), nullable=True),
    sa.Column('token_hash', sa.String(length=64), nullable=True),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("role IN ('admin', 'planner', 'commander', 'worker', 'viewer')", name=op.f('ck_users_role')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('name', name=op.f('uq_users_name')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_users_token_hash'))
    )
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('entity', sa.String(length=32), nullable=False),
    sa.Column('entity_id', sa.Text(), nullable=True),
    sa.Column('before', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('after', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_audit_log_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    op.create_index('ix_audit_log_entity', 'audit_log', ['entity', 'entity_id'], unique=False)
    op.create_table('cadres',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('organisation', sa.Text(), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("type IN ('镇街领导', '三官一律', '机关干部', '网格员', '下沉力量', '社会力量')", name=op.f('ck_cadres_type')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_cadres_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cadres')),
    sa.UniqueConstraint('code', name=op.f('uq_cadres_code')),
    sa.UniqueConstraint('user_id', name=op.f('uq_cadres_user_id'))
    )
    op.create_geospatial_table('grids',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=15), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=16), server_default='basic', nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('area_m2', sa.Float(), sa.Computed('ST_Area(geom::geography)', persisted=True), nullable=False),
    sa.Column('households', sa.Integer(), server_default='0', nullable=False),
    sa.Column('population', sa.Integer(), server_default='0', nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=True),
    sa.Column('valid_to', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint("code ~ '^[0-9]{15}$'", name=op.f('ck_grids_code_format')),
    sa.CheckConstraint("kind IN ('basic', 'special')", name=op.f('ck_grids_kind')),
    sa.CheckConstraint('ST_IsValid(geom)', name=op.f('ck_grids_geom_valid')),
    sa.CheckConstraint('households >= 0 AND population >= 0', name=op.f('ck_grids_counts_nonnegative')),
    sa.CheckConstraint('valid_to IS NULL OR valid_from IS NULL OR valid_to > valid_from', name=op.f('ck_grids_validity_order')),
    sa.CheckConstraint('version >= 1', name=op.f('ck_grids_version_positive')),
    sa.ForeignKeyConstraint(['code'], ['grid_codes.code'], name=op.f('fk_grids_code_grid_codes'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['community_id'], ['admin_areas.id'], name=op.f('fk_grids_community_id_admin_areas'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grids')),
    sa.UniqueConstraint('code', 'version', name=op.f('uq_grids_code_version'))
    )
    op.create_index('ix_grids_community_id', 'grids', ['community_id'], unique=False)
    op.create_geospatial_index('ix_grids_current_geom', 'grids', ['geom'], unique=False, postgresql_using='gist', postgresql_where=sa.text('valid_to IS NULL'), postgresql_ops={})
    op.create_geospatial_index('ix_grids_geom', 'grids', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index('uq_grids_current_code', 'grids', ['code'], unique=True, postgresql_where=sa.text('valid_to IS NULL'))
    op.create_table('user_grids',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('grid_code', sa.String(length=15), nullable=False),
    sa.ForeignKeyConstraint(['grid_code'], ['grid_codes.code'], name=op.f('fk_user_grids_grid_code_grid_codes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_grids_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'grid_code', name=op.f('pk_user_grids'))
    )
    op.create_geospatial_table('buildings',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('floors', sa.Integer(), nullable=True),
    sa.Column('households', sa.Integer(), server_default='0', nullable=False),
    sa.Column('population', sa.Integer(), server_default='0', nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('ST_IsValid(geom)', name=op.f('ck_buildings_geom_valid')),
    sa.CheckConstraint('floors IS NULL OR floors >= 0', name=op.f('ck_buildings_floors_nonnegative')),
    sa.CheckConstraint('households >= 0 AND population >= 0', name=op.f('ck_buildings_counts_nonnegative')),
    sa.ForeignKeyConstraint(['grid_id'], ['grids.id'], name=op.f('fk_buildings_grid_id_grids'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_buildings')),
    sa.UniqueConstraint('code', name=op.f('uq_buildings_code'))
    )
    op.create_geospatial_index('ix_buildings_geom', 'buildings', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index('ix_buildings_grid_id', 'buildings', ['grid_id'], unique=False)
    op.create_geospatial_table('contracts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cadre_id', sa.Integer(), nullable=False),
    sa.Column('grid_code', sa.String(length=15), nullable=True),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('role', sa.Text(), nullable=False),
    sa.Column('valid_from', sa.Date(), server_default=sa.text('CURRENT_DATE'), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('flag', sa.Text(), nullable=True),
    sa.CheckConstraint('(grid_code IS NULL) <> (geom IS NULL)', name=op.f('ck_contracts_grid_or_polygon')),
    sa.CheckConstraint('geom IS NULL OR ST_IsValid(geom)', name=op.f('ck_contracts_geom_valid')),
    sa.CheckConstraint('valid_to IS NULL OR valid_to > valid_from', name=op.f('ck_contracts_validity_order')),
    sa.ForeignKeyConstraint(['cadre_id'], ['cadres.id'], name=op.f('fk_contracts_cadre_id_cadres'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['grid_code'], ['grid_codes.code'], name=op.f('fk_contracts_grid_code_grid_codes'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contracts'))
    )
    op.create_index('ix_contracts_cadre_id', 'contracts', ['cadre_id'], unique=False)
    op.create_geospatial_index('ix_contracts_geom', 'contracts', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index('ix_contracts_grid_code', 'contracts', ['grid_code'], unique=False)
    op.create_geospatial_table('events',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), server_default='', nullable=False),
    sa.Column('status', sa.String(length=16), server_default='reported', nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('reported_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('reporter_id', sa.Integer(), nullable=True),
    sa.Column('source_crs', sa.String(length=32), server_default='wgs84', nullable=False),
    sa.Column('source_x', sa.Float(), nullable=True),
    sa.Column('source_y', sa.Float(), nullable=True),
    sa.Column('accuracy_m', sa.Float(), nullable=True),
    sa.Column('grid_id', sa.Integer(), nullable=True),
    sa.Column('community_id', sa.Integer(), nullable=True),
    sa.Column('street_id', sa.Integer(), nullable=True),
    sa.Column('district_id', sa.Integer(), nullable=True),
    sa.Column('building_id', sa.BigInteger(), nullable=True),
    sa.Column('assign_status', sa.String(length=16), nullable=True),
    sa.Column('assign_distance_m', sa.Float(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=128), nullable=True),
    sa.Column('contact', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("assign_status IS NULL OR assign_status IN ('inside', 'edge', 'snapped', 'outside', 'ambiguous')", name=op.f('ck_events_assign_status')),
    sa.CheckConstraint("status IN ('reported', 'registered', 'dispatched', 'in_progress', 'handled', 'closed', 'rejected')", name=op.f('ck_events_status')),
    sa.CheckConstraint('accuracy_m IS NULL OR accuracy_m >= 0', name=op.f('ck_events_accuracy_nonnegative')),
    sa.ForeignKeyConstraint(['building_id'], ['buildings.id'], name=op.f('fk_events_building_id_buildings'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['category'], ['categories.code'], name=op.f('fk_events_category_categories'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['community_id'], ['admin_areas.id'], name=op.f('fk_events_community_id_admin_areas'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['district_id'], ['admin_areas.id'], name=op.f('fk_events_district_id_admin_areas'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['grid_id'], ['grids.id'], name=op.f('fk_events_grid_id_grids'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reporter_id'], ['users.id'], name=op.f('fk_events_reporter_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['street_id'], ['admin_areas.id'], name=op.f('fk_events_street_id_admin_areas'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events')),
    sa.UniqueConstraint('reporter_id', 'idempotency_key', name=op.f('uq_events_reporter_id_idempotency_key'))
    )
    op.create_geospatial_index('ix_events_geom', 'events', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index('ix_events_grid_id', 'events', ['grid_id'], unique=False)
    op.create_index('ix_events_occurred_at', 'events', ['occurred_at'], unique=False)
    op.create_index('ix_events_status', 'events', ['status'], unique=False)

    op.execute("""
        ALTER TABLE grids ADD CONSTRAINT ex_grids_code_validity
        EXCLUDE USING gist (code WITH =, tstzrange(valid_from, valid_to) WITH &&)
    """)
    # Every grid version registers its code, so codes are remembered after retirement.
    op.execute("""
        CREATE FUNCTION grid_codes_register() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO grid_codes (code) VALUES (NEW.code) ON CONFLICT DO NOTHING;
            RETURN NEW;
        END $$
    """)
    op.execute("""
        CREATE TRIGGER grids_register_code BEFORE INSERT OR UPDATE OF code ON grids
        FOR EACH ROW EXECUTE FUNCTION grid_codes_register()
    """)
    categories = sa.table(
        "categories", sa.column("code"), sa.column("name"), sa.column("major_code"),
        sa.column("major_name"), sa.column("kind"), sa.column("default_level"),
        sa.column("time_limit_hours"), sa.column("urgent"),
    )
    with CATEGORIES_CSV.open(encoding="utf-8") as f:
        rows = [dict(r, time_limit_hours=float(r["time_limit_hours"]), urgent=r["urgent"] == "true")
                for r in csv.DictReader(f)]
    op.bulk_insert(categories, rows)


def downgrade() -> None:
    op.drop_index('ix_events_status', table_name='events')
    op.drop_index('ix_events_occurred_at', table_name='events')
    op.drop_index('ix_events_grid_id', table_name='events')
    op.drop_geospatial_index('ix_events_geom', table_name='events', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('events')
    op.drop_index('ix_contracts_grid_code', table_name='contracts')
    op.drop_geospatial_index('ix_contracts_geom', table_name='contracts', postgresql_using='gist', column_name='geom')
    op.drop_index('ix_contracts_cadre_id', table_name='contracts')
    op.drop_geospatial_table('contracts')
    op.drop_index('ix_buildings_grid_id', table_name='buildings')
    op.drop_geospatial_index('ix_buildings_geom', table_name='buildings', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('buildings')
    op.drop_table('user_grids')
    op.drop_index('uq_grids_current_code', table_name='grids', postgresql_where=sa.text('valid_to IS NULL'))
    op.drop_geospatial_index('ix_grids_geom', table_name='grids', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_index('ix_grids_current_geom', table_name='grids', postgresql_using='gist', postgresql_where=sa.text('valid_to IS NULL'), column_name='geom')
    op.drop_index('ix_grids_community_id', table_name='grids')
    op.execute("DROP TRIGGER grids_register_code ON grids")
    op.execute("DROP FUNCTION grid_codes_register()")
    op.drop_geospatial_table('grids')
    op.drop_table('cadres')
    op.drop_index('ix_audit_log_entity', table_name='audit_log')
    op.drop_table('audit_log')
    op.drop_table('users')
    op.drop_table('grid_codes')
    op.drop_table('categories')
    op.drop_index('ix_admin_areas_parent_id', table_name='admin_areas')
    op.drop_geospatial_index('ix_admin_areas_geom', table_name='admin_areas', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('admin_areas')
