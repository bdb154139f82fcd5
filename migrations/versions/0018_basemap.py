"""the basemap from the district's own data: roads, water and place names, drawn under every layer

Revision ID: 0018
Revises: 0017
"""
from __future__ import annotations

import geoalchemy2
import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

# (table, its class column, the values it takes, the geometry type)
TABLES = (
    ("base_roads", "class", ("motorway", "arterial", "secondary", "local", "path"), "MULTILINESTRING"),
    ("base_water", "kind", ("sea", "lake", "river", "canal"), "MULTIPOLYGON"),
    ("base_places", "kind", ("district", "town", "village", "neighbourhood", "poi"), "POINT"),
)


def upgrade() -> None:
    for table, column, values, shape in TABLES:
        quoted = ", ".join(f"'{v}'" for v in values)
        checks = [sa.CheckConstraint(f"{column} IN ({quoted})", name=op.f(f"ck_{table}_{column}")),
                  sa.CheckConstraint("ST_IsValid(geom)", name=op.f(f"ck_{table}_geom_valid"))]
        op.create_table(
            table,
            sa.Column("id", sa.BigInteger(), nullable=False),
            sa.Column(column, sa.String(length=16), nullable=False),
            sa.Column("name", sa.Text(), nullable=table != "base_places"),
            sa.Column("geom", geoalchemy2.types.Geometry(geometry_type=shape, srid=4326, spatial_index=False,
                                                         from_text="ST_GeomFromEWKT", name="geometry"),
                      nullable=False),
            *checks,
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        )
        op.create_index(f"ix_{table}_geom", table, ["geom"], unique=False, postgresql_using="gist")
    # The tiles of the basemap layers are cached like the others: say when their rows change.
    for table, *_ in TABLES:
        op.execute(f"CREATE TRIGGER {table}_notify_layer AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION gridgov_notify_layer()")


def downgrade() -> None:
    for table, *_ in reversed(TABLES):
        op.drop_index(f"ix_{table}_geom", table_name=table, postgresql_using="gist")
        op.drop_table(table)
