"""contracts and coverage: event_is_open(), open-events index, one contract per cadre and grid at a time, map views

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0001'
branch_labels = None
depends_on = None

# The same rules as gis/cadres/coverage.py (tests/gis/cadres/test_coverage.py checks the views agree with it):
# - a contract is in force on day D when valid_from <= D < valid_to (valid_to NULL: open-ended);
# - "current" grids are the versions with valid_to NULL;
# - a drawn polygon holds a grid when the union of one cadre's polygons overlaps the grid by at
#   least MIN_OVERLAP_M2 = 1 m² (smaller overlaps are drawing noise), and covers that part of it;
# - areas are geodesic: ST_Area on the geography type, in m².

OPEN_FUNCTION = """
CREATE FUNCTION event_is_open(status text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT status NOT IN ('closed', 'rejected') $$
"""

LIVE = "k.valid_from <= CURRENT_DATE AND (k.valid_to IS NULL OR k.valid_to > CURRENT_DATE)"

CONTRACTED_AREAS = f"""
CREATE VIEW v_contracted_areas AS
WITH live AS (
    SELECT k.cadre_id, k.grid_code, k.geom FROM contracts k WHERE {LIVE}
),
whole AS (
    SELECT DISTINCT l.cadre_id, g.code, g.geom, g.area_m2
    FROM live l JOIN grids g ON g.code = l.grid_code AND g.valid_to IS NULL
),
drawn AS (
    SELECT d.*, ST_Area(d.part::geography) AS part_m2
    FROM (SELECT l.cadre_id, g.code, g.area_m2,
                 ST_Union(ST_CollectionExtract(ST_Intersection(g.geom, l.geom), 3)) AS part
          FROM live l JOIN grids g ON g.valid_to IS NULL AND ST_Intersects(l.geom, g.geom)
          WHERE l.geom IS NOT NULL
          GROUP BY l.cadre_id, g.code, g.area_m2) d
),
held AS (
    SELECT cadre_id, code, geom AS part, area_m2 AS part_m2, 1.0::float8 AS fraction, 1 AS whole
    FROM whole
    UNION ALL
    SELECT d.cadre_id, d.code, d.part, d.part_m2, d.part_m2 / NULLIF(d.area_m2, 0), 0
    FROM drawn d
    WHERE d.part_m2 >= 1.0
      AND NOT EXISTS (SELECT 1 FROM whole w WHERE w.cadre_id = d.cadre_id AND w.code = d.code)
)
SELECT c.id AS cadre_id, c.code AS cadre_code, c.name AS cadre_name, c.type AS cadre_type,
       ST_Multi(ST_CollectionExtract(ST_Union(h.part), 3))::geometry(MultiPolygon, 4326) AS geom,
       sum(h.part_m2) AS area_m2,
       sum(h.fraction) AS grids,
       sum(h.whole)::int AS whole_grids
FROM held h JOIN cadres c ON c.id = h.cadre_id
GROUP BY c.id, c.code, c.name, c.type
"""

UNCOVERED_GRIDS = f"""
CREATE VIEW v_uncovered_grids AS
SELECT g.id, g.code, g.name, g.geom, g.area_m2,
       (SELECT count(*) FROM events e JOIN grids v ON v.id = e.grid_id
        WHERE v.code = g.code AND event_is_open(e.status)) AS open_events
FROM grids g
WHERE g.valid_to IS NULL
  AND g.code NOT IN (SELECT k.grid_code FROM contracts k WHERE k.grid_code IS NOT NULL AND {LIVE})
  AND NOT EXISTS (
      SELECT 1
      FROM (SELECT ST_Union(ST_CollectionExtract(ST_Intersection(k.geom, g.geom), 3)) AS part
            FROM contracts k
            WHERE k.geom IS NOT NULL AND {LIVE} AND ST_Intersects(k.geom, g.geom)
            GROUP BY k.cadre_id) p
      WHERE ST_Area(p.part::geography) >= 1.0)
"""


def upgrade() -> None:
    op.execute(OPEN_FUNCTION)
    # A cadre holds a grid at most once at any time: two planners adding the same contract at
    # once cannot both succeed (btree_gist is enabled by 0001). grid_code leads, because the
    # planner also uses this index to find a grid's contracts.
    op.execute("""
        ALTER TABLE contracts ADD CONSTRAINT ex_contracts_cadre_grid_dates
        EXCLUDE USING gist (grid_code WITH =, cadre_id WITH =, daterange(valid_from, valid_to) WITH &&)
        WHERE (grid_code IS NOT NULL)
    """)
    # Open events per grid, read from the index alone; the predicate is the function, so the
    # definition stays in one place and pg_get_indexdef round-trips it unchanged.
    op.create_index('ix_events_open_grid_id', 'events', ['grid_id'], unique=False,
                    postgresql_where=sa.text("event_is_open(status)"))
    op.execute(CONTRACTED_AREAS)
    op.execute(UNCOVERED_GRIDS)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS v_uncovered_grids")
    op.execute("DROP VIEW IF EXISTS v_contracted_areas")
    op.drop_index('ix_events_open_grid_id', table_name='events')
    op.execute("ALTER TABLE contracts DROP CONSTRAINT IF EXISTS ex_contracts_cadre_grid_dates")
    op.execute("DROP FUNCTION IF EXISTS event_is_open(text)")
