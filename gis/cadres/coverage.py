"""Coverage of an area by cadres' contracts (包片联网): what is covered, twice, by nobody, and the load.

The rules (README "Contracts and coverage" says the same):

- **When.** `at` is a date. Contracts count when in force that day (valid_from <= at < valid_to);
  grids are the versions in force at the end of that day (an edit made that day counts), midnight
  taken in the database's TimeZone. Without `at`: today's contracts (CURRENT_DATE) and the current
  grid versions (valid_to NULL), as the map layers show them.
- **Which grids.** The area's grids are those of its communities (the hierarchy, not geometry).
  Grids of a community tile it without overlap, so sums over grids are areas of unions.
- **Area** is geodesic: ST_Area on the geography type (WGS84 ellipsoid), in m², never degrees.
- **Whole-grid contracts** cover their grid entirely: its area, its buildings (buildings.grid_id),
  their households and population, and its open events (events.grid_id), counted by grid code
  over all the grid's versions.
- **Drawn polygons** cover grids by area fraction: a cadre's polygons, unioned and clipped to a
  grid, cover that part of it (overlaps under MIN_OVERLAP_M2 are drawing noise and count as
  nothing). A grid the polygon covers *entirely* counts like a whole-grid contract: all its
  buildings and open events, by assignment. In a grid it covers *in part*, a building counts when
  at least half its footprint lies inside (BUILDING_MIN_INSIDE), with all its households and
  population, and an open event when its point lies inside (ST_Covers, so the edge counts).
- **Covered** area is the union of everyone's coverage (counted once); a building is covered when
  at least one cadre covers it.
- **Uncovered grids** are grids nobody covers any part of; listed with their open events, most
  first (ties by code): the places "seen but not managed".
- **Shared grids**: some part of the grid (at least MIN_OVERLAP_M2) is covered by two or more
  cadres *of the same type*; two cadres who split a grid cleanly between their polygons do not
  share it. Listed with the cadres whose coverage overlaps.
- **Load** of a cadre within the area: grids (whole grids + area fractions), area_m2, buildings,
  households, population, open events. Balance over the cadres listed: max / median households
  and the Gini coefficient of households per cadre (null when undefined: no cadres, or zero).
- **Open** events are those whose status is not closed or rejected (gis.core.models.CLOSED_EVENT_STATUSES,
  SQL function event_is_open); the count is of their current status, whatever `at` says.
- Buildings and households are counted from the building register (楼栋 → 户): that is the unit a
  drawn polygon covers by footprint. The grids' own households column is not used here.

Everything is one set-based SQL statement over grid sets: no per-grid queries or loops.
"""
from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.cadres.contracts import IN_FORCE_SQL, cadre_by_code, check_cadre_type, parse_date
from gis.spatial.areas import area_by_code, communities_of

MIN_OVERLAP_M2 = 1.0  # overlaps smaller than this are drawing noise, not coverage
BUILDING_MIN_INSIDE = 0.5  # a drawn polygon covers a building when this share of its footprint is inside

# Grid versions "in force at the end of :day" (or current, when no day is given).
_GRID_AT = ("(g.valid_from IS NULL OR g.valid_from < CAST(:day AS date) + 1)"
            " AND (g.valid_to IS NULL OR g.valid_to >= CAST(:day AS date) + 1)")
_GRID_CURRENT = "g.valid_to IS NULL"

# The grids of an area: its communities' grids. The community ids are looked up first and sent
# as an array, so the planner knows how many grids to expect (a whole city takes parallel hash
# joins over buildings and events; one community takes the grid_id indexes).
_SCOPE_AREA = "g.community_id = ANY(CAST(:community_ids AS integer[]))"
# The grids a cadre's contracts touch (for one cadre's load, wherever it lies).
_SCOPE_CADRE = """g.id IN (
        SELECT g2.id FROM grids g2 JOIN live l ON l.grid_code = g2.code
        UNION SELECT g2.id FROM grids g2 JOIN live l ON l.geom IS NOT NULL AND ST_Intersects(l.geom, g2.geom))"""

_COVERAGE_SQL = """
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


# -- results ----------------------------------------------------------------------------------
@dataclass
class CadreLoad:
    """One cadre's load: grids (whole + fractions), area, buildings, households, people, open events."""

    code: str
    name: str
    type: str
    grids: float = 0.0
    area_m2: float = 0.0
    buildings: int = 0
    households: int = 0
    population: int = 0
    open_events: int = 0

    def to_dict(self) -> dict:
        """JSON-ready values (m² to 0.1, grids to 4 decimals)."""
        out = asdict(self)
        out["grids"] = round(self.grids, 4)
        out["area_m2"] = round(self.area_m2, 1)
        return out


@dataclass
class Covered:
    """A total and how much of it is covered; ratio is None when the total is zero."""

    total: int
    covered: int

    @property
    def ratio(self) -> float | None:
        """covered / total (0–1), or None when there is nothing to cover."""
        return _ratio(self.covered, self.total)

    def to_dict(self) -> dict:
        """{"total", "covered", "ratio"}."""
        return {"total": self.total, "covered": self.covered, "ratio": _round(self.ratio, 6)}


@dataclass
class Coverage:
    """The coverage of one area (optionally for one cadre type, as of a date)."""

    area: dict
    at: dt.date | None
    cadre_type: str | None
    grids: int
    area_m2: float
    covered_m2: float
    buildings: Covered
    households: Covered
    population: Covered
    open_events: int
    uncovered_grids: list[dict] = field(default_factory=list)
    shared_grids: list[dict] = field(default_factory=list)
    cadres: list[CadreLoad] = field(default_factory=list)

    @property
    def coverage_ratio(self) -> float | None:
        """covered_m2 / area_m2 (0–1), or None for an area without grids."""
        return _ratio(self.covered_m2, self.area_m2)

    @property
    def balance(self) -> dict:
        """max / median households per cadre, and the Gini coefficient of households per cadre."""
        loads = [c.households for c in self.cadres]
        return {"max_median_ratio": _round(max_median_ratio(loads), 4),
                "gini_households": _round(gini(loads), 4)}

    def to_dict(self) -> dict:
        """Exactly the JSON shape of the coverage API."""
        return {
            "area": self.area,
            "area_m2": round(self.area_m2, 1),
            "covered_m2": round(self.covered_m2, 1),
            "coverage_ratio": _round(self.coverage_ratio, 6),
            "buildings": self.buildings.to_dict(),
            "households": self.households.to_dict(),
            "population": self.population.to_dict(),
            "uncovered_grids": self.uncovered_grids,
            "shared_grids": self.shared_grids,
            "cadres": [c.to_dict() for c in self.cadres],
            "balance": self.balance,
        }

    def csv_rows(self) -> list[dict]:
        """The report as flat rows (CSV_COLUMNS): one `area` row, then cadres, uncovered, shared."""
        balance = self.balance
        rows = [{
            "record": "area", "code": self.area["code"], "name": self.area["name"], "type": self.area["level"],
            "grids": self.grids, "area_m2": round(self.area_m2, 1), "covered_m2": round(self.covered_m2, 1),
            "coverage_ratio": _round(self.coverage_ratio, 6),
            "buildings": self.buildings.total, "buildings_covered": self.buildings.covered,
            "households": self.households.total, "households_covered": self.households.covered,
            "population": self.population.total, "population_covered": self.population.covered,
            "open_events": self.open_events, "cadres": len(self.cadres),
            "max_median_ratio": balance["max_median_ratio"], "gini_households": balance["gini_households"],
        }]
        for c in self.cadres:
            d = c.to_dict()
            rows.append({"record": "cadre", **{k: d[k] for k in ("code", "name", "type", "grids", "area_m2",
                                                                 "buildings", "households", "population",
                                                                 "open_events")}})
        for g in self.uncovered_grids:
            rows.append({"record": "uncovered_grid", "code": g["code"], "name": g["name"],
                         "open_events": g["open_events"]})
        for g in self.shared_grids:
            rows.append({"record": "shared_grid", "code": g["code"], "cadres": " ".join(g["cadres"])})
        return [{col: row.get(col, "") for col in CSV_COLUMNS} for row in rows]


CSV_COLUMNS = ("record", "code", "name", "type", "grids", "area_m2", "covered_m2", "coverage_ratio",
               "buildings", "buildings_covered", "households", "households_covered", "population",
               "population_covered", "open_events", "cadres", "max_median_ratio", "gini_households")


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


# -- balance figures --------------------------------------------------------------------------
def gini(values: list[float]) -> float | None:
    """Gini coefficient (0 = equal, → 1 = one holds all): Σ|xi − xj| / (2 n² mean); None if undefined."""
    n, total = len(values), sum(values)
    if n == 0 or total <= 0:
        return None
    ordered = sorted(values)
    # Equivalent closed form over the sorted values (ranks i = 1…n): 2 Σ i·x_i / (n Σ x) − (n + 1) / n.
    weighted = sum(i * x for i, x in enumerate(ordered, start=1))
    return 2 * weighted / (n * total) - (n + 1) / n


def max_median_ratio(values: list[float]) -> float | None:
    """The largest value over the median; None when there are none or the median is zero."""
    if not values:
        return None
    median = statistics.median(values)
    return max(values) / median if median else None


# -- queries ----------------------------------------------------------------------------------
def _run(session: Session, scope: str, params: dict[str, Any], at: dt.date | None) -> dict:
    sql = _COVERAGE_SQL.format(in_force=IN_FORCE_SQL, grid_version=_GRID_AT if at else _GRID_CURRENT,
                               scope=scope)
    day = at if at is not None else session.scalar(text("SELECT CURRENT_DATE"))
    # JIT is off for every connection (gis.core.db.make_engine): it cost 7.7 s of 11 s here at city
    # scale. work_mem: room for the hashed lookups over a whole city's grids and holdings, for
    # this statement only, restored for the rest of the transaction. (If the statement fails,
    # the transaction is aborted and the local setting goes with it.)
    previous = session.scalar(text("SELECT current_setting('work_mem')"))
    session.execute(text("SELECT set_config('work_mem', '64MB', true)"))
    row = session.execute(text(sql), {"day": day, "min_overlap_m2": MIN_OVERLAP_M2,
                                      "building_min_inside": BUILDING_MIN_INSIDE,
                                      "cadre_type": None, "cadre_id": None, "community_ids": None,
                                      **params}).one()
    session.execute(text("SELECT set_config('work_mem', :mem, true)"), {"mem": previous})
    return row._asdict()


def _loads(rows: list[dict]) -> list[CadreLoad]:
    return [CadreLoad(code=r["code"], name=r["name"], type=r["type"], grids=float(r["grids"]),
                      area_m2=float(r["area_m2"]), buildings=int(r["buildings"]),
                      households=int(r["households"]), population=int(r["population"]),
                      open_events=int(r["open_events"])) for r in rows]


def coverage_of(session: Session, area_code: str, *, cadre_type: str | None = None,
                at: dt.date | str | None = None) -> Coverage:
    """The coverage of a district, street or community by contracts (rules in the module docstring)."""
    day = parse_date(at, "at")
    cadre_type = check_cadre_type(cadre_type)
    area = area_by_code(session, area_code)
    result = _run(session, _SCOPE_AREA, {"community_ids": communities_of(session, area), "cadre_type": cadre_type},
                  day)
    t = result["totals"]
    return Coverage(
        area={"code": area.code, "name": area.name, "level": area.level},
        at=day, cadre_type=cadre_type, grids=int(t["grids"]),
        area_m2=float(t["area_m2"]), covered_m2=float(t["covered_m2"]),
        buildings=Covered(int(t["buildings"]), int(t["buildings_covered"])),
        households=Covered(int(t["households"]), int(t["households_covered"])),
        population=Covered(int(t["population"]), int(t["population_covered"])),
        open_events=int(t["open_events"]),
        uncovered_grids=result["uncovered"], shared_grids=result["shared"],
        cadres=_loads(result["cadres"]),
    )


def cadre_load(session: Session, cadre_code: str, at: dt.date | str | None = None) -> CadreLoad:
    """One cadre's whole load, wherever their grids lie (zeros for a cadre without contracts)."""
    day = parse_date(at, "at")
    cadre = cadre_by_code(session, cadre_code)
    result = _run(session, _SCOPE_CADRE, {"cadre_id": cadre.id}, day)
    loads = _loads(result["cadres"])
    return loads[0] if loads else CadreLoad(code=cadre.code, name=cadre.name, type=cadre.type)
