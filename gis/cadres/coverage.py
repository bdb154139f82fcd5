"""Coverage of an area by cadres' contracts (包片联网): what is covered, twice, by nobody, and the load.

The rules (docs/coverage.md says the same):

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
from gis.cadres.coverage_sql import COVERAGE_SQL, GRID_AT, GRID_CURRENT, SCOPE_AREA, SCOPE_CADRE
from gis.spatial.areas import area_by_code, communities_of

MIN_OVERLAP_M2 = 1.0  # overlaps smaller than this are drawing noise, not coverage
BUILDING_MIN_INSIDE = 0.5  # a drawn polygon covers a building when this share of its footprint is inside


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
    sql = COVERAGE_SQL.format(in_force=IN_FORCE_SQL, grid_version=GRID_AT if at else GRID_CURRENT,
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
    result = _run(session, SCOPE_AREA, {"community_ids": communities_of(session, area), "cadre_type": cadre_type},
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
    result = _run(session, SCOPE_CADRE, {"cadre_id": cadre.id}, day)
    loads = _loads(result["cadres"])
    return loads[0] if loads else CadreLoad(code=cadre.code, name=cadre.name, type=cadre.type)
