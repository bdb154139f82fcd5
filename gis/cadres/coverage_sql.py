"""The one set-based statement that computes coverage over grid sets (its rules: gis/cadres/coverage.py)."""

from gis.core import dated

# Grid versions "in force at the end of :day" (or current, when no day is given).
GRID_AT = dated.in_force_just_before("g", "(CAST(:day AS date) + 1)")
GRID_CURRENT = dated.current("g")

# The grids of an area: its communities' grids. The community ids are looked up first and sent
# as an array, so the planner knows how many grids to expect (a whole city takes parallel hash
# joins over buildings and events; one community takes the grid_id indexes).
SCOPE_AREA = "g.community_id = ANY(CAST(:community_ids AS integer[]))"
# The grids a cadre's contracts touch (for one cadre's load, wherever it lies).
SCOPE_CADRE = """g.id IN (
        SELECT g2.id FROM grids g2 JOIN live l ON l.grid_code = g2.code
        UNION SELECT g2.id FROM grids g2 JOIN live l ON l.geom IS NOT NULL AND ST_Intersects(l.geom, g2.geom))"""

COVERAGE_SQL = """
WITH
live AS MATERIALIZED (          -- contracts in force that day, of the cadres asked about
    SELECT k.id, k.cadre_id, k.grid_code, k.geom, c.type
    FROM contracts k JOIN cadres c ON c.id = k.cadre_id
    WHERE {in_force}
      AND (CAST(:cadre_type AS text) IS NULL OR c.type = CAST(:cadre_type AS text))
      AND (CAST(:cadre_id AS integer) IS NULL OR k.cadre_id = CAST(:cadre_id AS integer))
),
area_grids AS MATERIALIZED (    -- the grid versions that make up the area that day
    SELECT g.id, g.code, g.name, g.geom, g.area_m2 FROM grids g WHERE {grid_version} AND {scope}
),
grid_stats AS MATERIALIZED (   -- per grid code: buildings, households, people, open events
    -- The aggregates join base tables (not the CTEs above) so that a whole city can use a
    -- parallel hash join over buildings and events; a small area still uses the grid_id index.
    SELECT a.code, a.name, a.area_m2,
           coalesce(b.buildings, 0) AS buildings, coalesce(b.households, 0) AS households,
           coalesce(b.population, 0) AS population, coalesce(e.open_events, 0) AS open_events
    FROM area_grids a
    LEFT JOIN (SELECT g.code, count(*) AS buildings, sum(b.households) AS households,
                      sum(b.population) AS population
               FROM buildings b JOIN grids v ON v.id = b.grid_id
               JOIN grids g ON g.code = v.code AND {grid_version} AND {scope}
               GROUP BY g.code) b USING (code)
    LEFT JOIN (SELECT g.code, count(*) AS open_events
               FROM events e JOIN grids v ON v.id = e.grid_id
               JOIN grids g ON g.code = v.code AND {grid_version} AND {scope}
               WHERE event_is_open(e.status)
               GROUP BY g.code) e USING (code)
),
whole AS MATERIALIZED (         -- (grid, cadre) held by a whole-grid contract
    -- (no DISTINCT needed: the exclusion constraint allows one contract per cadre and grid a day)
    SELECT a.code, l.cadre_id, l.type, a.area_m2 FROM live l JOIN area_grids a ON a.code = l.grid_code
),
cadre_polygons AS MATERIALIZED (  -- each cadre's drawn polygons in force, dissolved
    SELECT l.cadre_id, l.type, ST_Union(l.geom) AS geom FROM live l
    WHERE l.geom IS NOT NULL GROUP BY l.cadre_id, l.type
),
drawn AS MATERIALIZED (         -- (grid, cadre) parts covered by the cadre's drawn polygons
    SELECT x.code, x.cadre_id, x.type, x.part, x.inside, x.grid_m2,
           CASE WHEN x.inside THEN x.grid_m2 ELSE ST_Area(x.part::geography) END AS part_m2
    FROM (SELECT g.code, g.area_m2 AS grid_m2, p.cadre_id, p.type, c.inside,
                 -- a grid wholly inside the polygon is its own part: no overlay needed
                 CASE WHEN c.inside THEN g.geom
                      ELSE ST_CollectionExtract(ST_Intersection(g.geom, p.geom), 3) END AS part
          FROM cadre_polygons p
          JOIN grids g ON ST_Intersects(p.geom, g.geom)      -- the spatial index, not a scan of the CTE
          CROSS JOIN LATERAL (SELECT ST_Covers(p.geom, g.geom) AS inside OFFSET 0) c
          WHERE g.id IN (SELECT id FROM area_grids)) x
),
hold AS MATERIALIZED (          -- who covers what fraction of which grid
    -- whole: a whole-grid contract (buildings and events by grid); entire: all its area is covered
    SELECT w.code, w.cadre_id, w.type, true AS whole, true AS entire, 1.0::float8 AS fraction,
           w.area_m2 AS part_m2, NULL::geometry AS part
    FROM whole w
    UNION ALL
    SELECT d.code, d.cadre_id, d.type, false, d.inside, d.part_m2 / NULLIF(d.grid_m2, 0), d.part_m2, d.part
    FROM drawn d
    WHERE d.part_m2 >= :min_overlap_m2
      AND NOT EXISTS (SELECT 1 FROM whole w WHERE w.code = d.code AND w.cadre_id = d.cadre_id)
),
grid_hold AS MATERIALIZED (     -- per grid: covered entirely by someone? how many holders?
    SELECT code, bool_or(entire) AS entire, count(*) AS n, max(part_m2) AS one_m2
    FROM hold GROUP BY code
),
grid_cover AS MATERIALIZED (
    -- Only grids nobody covers entirely need their drawn parts dissolved, and one part needs no union.
    SELECT s.*, (h.code IS NOT NULL) AS held, coalesce(h.entire, false) AS entire,
           CASE WHEN h.entire THEN s.area_m2 WHEN h.n = 1 THEN h.one_m2
                ELSE coalesce(dc.covered_m2, 0) END AS covered_m2
    FROM grid_stats s
    LEFT JOIN grid_hold h USING (code)
    LEFT JOIN (SELECT x.code, ST_Area(ST_Union(x.part)::geography) AS covered_m2
               FROM hold x JOIN grid_hold h USING (code)
               WHERE NOT h.entire AND h.n > 1
               GROUP BY x.code) dc USING (code)
),
partial AS MATERIALIZED (       -- (grid, cadre) where a drawn polygon covers only part of the grid
    SELECT h.code, h.cadre_id, p.geom
    FROM hold h JOIN cadre_polygons p ON p.cadre_id = h.cadre_id
    WHERE NOT h.entire
),
-- In those grids, buildings count by footprint and events by point. Each pair looks up its
-- grid's buildings and open events by key (LATERAL, row by row): the planner cannot estimate
-- these sets, and a plan that does not depend on its guess stays fast at every size.
drawn_buildings AS MATERIALIZED (  -- buildings of partly covered grids, at least half inside
    SELECT pt.cadre_id, b.id, pt.code, b.households, b.population
    FROM partial pt
    CROSS JOIN LATERAL (
        SELECT b.id, b.households, b.population
        FROM grids v JOIN buildings b ON b.grid_id = v.id
        WHERE v.code = pt.code
          -- (a CASE, so the grid_id index alone finds the candidates; only straddlers need the overlay)
          AND CASE WHEN NOT pt.geom && b.geom THEN false          -- bounding boxes first: no GEOS
                   WHEN ST_Covers(pt.geom, b.geom) THEN true
                   WHEN ST_Intersects(pt.geom, b.geom)
                   THEN ST_Area(ST_Intersection(pt.geom, b.geom)::geography)
                        >= :building_min_inside * ST_Area(b.geom::geography)
                   ELSE false END
        OFFSET 0) b
),
drawn_events AS MATERIALIZED (  -- open events of partly covered grids whose point is inside
    SELECT pt.cadre_id, e.id
    FROM partial pt
    CROSS JOIN LATERAL (
        SELECT e.id
        FROM grids v JOIN events e ON e.grid_id = v.id
        WHERE v.code = pt.code AND event_is_open(e.status)
          AND CASE WHEN NOT pt.geom && e.geom THEN false WHEN ST_Covers(pt.geom, e.geom) THEN true
                   ELSE false END                                  -- (a CASE: by the index on grid_id)
        OFFSET 0) e
),
cadre_rows AS (
    SELECT c.code, c.name, c.type, h.grids, h.area_m2,
           coalesce(el.buildings, 0) + coalesce(dl.buildings, 0) AS buildings,
           coalesce(el.households, 0) + coalesce(dl.households, 0) AS households,
           coalesce(el.population, 0) + coalesce(dl.population, 0) AS population,
           coalesce(el.open_events, 0) + coalesce(de.open_events, 0) AS open_events
    FROM (SELECT cadre_id, sum(fraction) AS grids, sum(part_m2) AS area_m2 FROM hold GROUP BY cadre_id) h
    JOIN cadres c ON c.id = h.cadre_id
    LEFT JOIN (SELECT x.cadre_id, sum(s.buildings) AS buildings, sum(s.households) AS households,
                      sum(s.population) AS population, sum(s.open_events) AS open_events
               FROM hold x JOIN grid_stats s USING (code)
               WHERE x.entire GROUP BY x.cadre_id) el ON el.cadre_id = h.cadre_id
    LEFT JOIN (SELECT cadre_id, count(*) AS buildings, sum(households) AS households,
                      sum(population) AS population
               FROM drawn_buildings GROUP BY cadre_id) dl ON dl.cadre_id = h.cadre_id
    LEFT JOIN (SELECT cadre_id, count(*) AS open_events FROM drawn_events GROUP BY cadre_id) de
           ON de.cadre_id = h.cadre_id
),
shared AS (                     -- grids where two cadres of one type cover the same part
    SELECT p.code, array_agg(DISTINCT c.code ORDER BY c.code) AS cadres
    FROM (SELECT h1.code, h1.cadre_id AS a, h2.cadre_id AS b
          FROM hold h1 JOIN hold h2
            ON h1.code = h2.code AND h1.type = h2.type AND h1.cadre_id < h2.cadre_id
          WHERE h1.whole OR h2.whole
             OR ST_Area(ST_Intersection(h1.part, h2.part)::geography) >= :min_overlap_m2) p
    CROSS JOIN LATERAL (VALUES (p.a), (p.b)) AS x(cadre_id)
    JOIN cadres c ON c.id = x.cadre_id
    GROUP BY p.code
),
drawn_covered AS (              -- buildings covered by footprint in grids nobody covers entirely
    SELECT DISTINCT d.id, d.households, d.population FROM drawn_buildings d
    WHERE (d.code IN (SELECT code FROM grid_hold WHERE entire)) IS NOT TRUE     -- a hashed lookup
),
totals AS (
    SELECT count(*) AS grids, coalesce(sum(area_m2), 0) AS area_m2,
           coalesce(sum(covered_m2), 0) AS covered_m2,
           coalesce(sum(buildings), 0) AS buildings, coalesce(sum(households), 0) AS households,
           coalesce(sum(population), 0) AS population, coalesce(sum(open_events), 0) AS open_events,
           coalesce(sum(buildings) FILTER (WHERE entire), 0)
             + (SELECT count(*) FROM drawn_covered) AS buildings_covered,
           coalesce(sum(households) FILTER (WHERE entire), 0)
             + (SELECT coalesce(sum(households), 0) FROM drawn_covered) AS households_covered,
           coalesce(sum(population) FILTER (WHERE entire), 0)
             + (SELECT coalesce(sum(population), 0) FROM drawn_covered) AS population_covered
    FROM grid_cover
)
SELECT (SELECT row_to_json(t) FROM totals t) AS totals,
       (SELECT coalesce(json_agg(json_build_object('code', code, 'name', name, 'open_events', open_events)
                                 ORDER BY open_events DESC, code), '[]')
        FROM grid_cover WHERE NOT held) AS uncovered,
       (SELECT coalesce(json_agg(json_build_object('code', code, 'cadres', cadres) ORDER BY code), '[]')
        FROM shared) AS shared,
       (SELECT coalesce(json_agg(row_to_json(r) ORDER BY r.code), '[]') FROM cadre_rows r) AS cadres
"""
