"""An independent coverage computation for checking gis.cadres.coverage: raw rows in, shapely + pyproj out.

It reads plain rows (no PostGIS functions beyond returning geometries as WKB) and applies the
rules of gis/cadres/coverage.py's docstring with shapely's STRtree and pyproj's geodesic areas on the
WGS84 ellipsoid. It shares no code with gis.cadres.coverage, so agreement means the SQL is right.
"""
from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict

import numpy as np
import shapely
from pyproj import Geod
from sqlalchemy import text

GEOD = Geod(ellps="WGS84")
MIN_OVERLAP_M2 = 1.0
BUILDING_MIN_INSIDE = 0.5
CLOSED = {"closed", "rejected"}


def geodesic_m2(geom) -> float:
    """Geodesic area on the WGS84 ellipsoid, m² (0 for empty or non-areal geometries)."""
    if geom is None or geom.is_empty:
        return 0.0
    polys = shapely.get_parts(geom)
    total = 0.0
    for part in polys:
        if part.geom_type in ("Polygon", "MultiPolygon"):
            total += abs(GEOD.geometry_area_perimeter(part)[0])
        elif part.geom_type == "GeometryCollection":
            total += geodesic_m2(part)
    return total


def _rows(session, sql, **params):
    return [dict(r) for r in session.execute(text(sql), params).mappings()]


def independent_coverage(session, area_code: str, day: dt.date, cadre_type: str | None = None) -> dict:
    """Coverage of an area as of `day` (current grid versions), optionally for one cadre type, in Python."""
    areas = {r["id"]: r for r in _rows(session, "SELECT id, code, name, level, parent_id FROM admin_areas")}
    root = next(a for a in areas.values() if a["code"] == area_code)

    def inside(a):
        while a is not None:
            if a["id"] == root["id"]:
                return True
            a = areas.get(a["parent_id"])
        return False

    communities = {a["id"] for a in areas.values() if a["level"] == "community" and inside(a)}
    versions = _rows(session, "SELECT id, code, name, community_id, valid_to, ST_AsBinary(geom) AS wkb FROM grids")
    grids = {v["code"]: v for v in versions if v["valid_to"] is None and v["community_id"] in communities}
    code_of_version = {v["id"]: v["code"] for v in versions if v["code"] in grids}
    codes = sorted(grids)
    geoms = {c: shapely.from_wkb(grids[c]["wkb"]) for c in codes}
    area_of = {c: geodesic_m2(geoms[c]) for c in codes}

    cadres = {r["id"]: r for r in _rows(session, "SELECT id, code, name, type FROM cadres")}
    live = [r for r in _rows(session, "SELECT cadre_id, grid_code, ST_AsBinary(geom) AS wkb, valid_from, valid_to "
                                      "FROM contracts")
            if r["valid_from"] <= day and (r["valid_to"] is None or r["valid_to"] > day)
            and (cadre_type is None or cadres[r["cadre_id"]]["type"] == cadre_type)]

    whole = {(k["grid_code"], k["cadre_id"]) for k in live if k["grid_code"] in grids}
    polygons = defaultdict(list)
    for k in live:
        if k["wkb"] is not None:
            polygons[k["cadre_id"]].append(shapely.from_wkb(k["wkb"]))
    drawn = {cid: shapely.union_all(ps) for cid, ps in polygons.items()}

    # Holdings: (code, cadre) → (fraction, part geometry or None for whole).
    tree = shapely.STRtree([geoms[c] for c in codes])
    hold: dict[tuple[str, int], tuple[float, object]] = {}
    for code, cid in whole:
        hold[(code, cid)] = (1.0, None)
    for cid, geom in drawn.items():
        for i in tree.query(geom, predicate="intersects"):
            code = codes[i]
            if (code, cid) in hold:
                continue
            part = shapely.intersection(geoms[code], geom)
            part_m2 = geodesic_m2(part)
            if part_m2 >= MIN_OVERLAP_M2:
                hold[(code, cid)] = (part_m2 / area_of[code], part)
    by_grid = defaultdict(list)
    for (code, cid), value in hold.items():
        by_grid[code].append((cid, *value))

    covered_m2 = 0.0
    wholly = set()
    for code, holders in by_grid.items():
        if any(part is None for _, _, part in holders):
            wholly.add(code)
            covered_m2 += area_of[code]
        else:
            covered_m2 += geodesic_m2(shapely.union_all([part for _, _, part in holders]))

    shared = {}
    for code, holders in by_grid.items():
        names = set()
        for i, (a, _, pa) in enumerate(holders):
            for b, _, pb in holders[i + 1:]:
                if cadres[a]["type"] != cadres[b]["type"]:
                    continue
                if pa is None or pb is None or geodesic_m2(shapely.intersection(pa, pb)) >= MIN_OVERLAP_M2:
                    names |= {cadres[a]["code"], cadres[b]["code"]}
        if names:
            shared[code] = sorted(names)

    buildings = [b for b in _rows(session, "SELECT id, grid_id, households, population, ST_AsBinary(geom) AS wkb "
                                           "FROM buildings") if b["grid_id"] in code_of_version]
    events = [e for e in _rows(session, "SELECT id, grid_id, status, ST_AsBinary(geom) AS wkb FROM events")
              if e["grid_id"] in code_of_version]
    open_events = [e for e in events if e["status"] not in CLOSED]
    open_by_grid = defaultdict(int)
    for e in open_events:
        open_by_grid[code_of_version[e["grid_id"]]] += 1

    b_geoms = shapely.from_wkb([b["wkb"] for b in buildings]) if buildings else np.array([])
    e_geoms = shapely.from_wkb([e["wkb"] for e in open_events]) if open_events else np.array([])
    holding_cadres = {cid for (_, cid) in hold}

    # A whole-grid contract, or a polygon covering the grid entirely, takes all the grid's buildings
    # and open events (by their grid); a polygon covering part of a grid takes that grid's buildings
    # at least half inside it and its open events whose point it covers.
    buildings_of, events_of = defaultdict(list), defaultdict(list)
    for i, b in enumerate(buildings):
        buildings_of[code_of_version[b["grid_id"]]].append(i)
    for i, e in enumerate(open_events):
        events_of[code_of_version[e["grid_id"]]].append(i)
    cadre_buildings = defaultdict(set)
    cadre_events = defaultdict(set)
    for (code, cid), (_, part) in hold.items():
        if part is None or shapely.covers(drawn[cid], geoms[code]):
            cadre_buildings[cid].update(buildings_of[code])
            cadre_events[cid].update(events_of[code])
            continue
        polygon = drawn[cid]
        for i in buildings_of[code]:
            fp = b_geoms[i]
            if shapely.covers(polygon, fp) or \
                    geodesic_m2(shapely.intersection(polygon, fp)) >= BUILDING_MIN_INSIDE * geodesic_m2(fp):
                cadre_buildings[cid].add(i)
        for i in events_of[code]:
            if shapely.covers(polygon, e_geoms[i]):
                cadre_events[cid].add(i)

    covered_buildings = set().union(*cadre_buildings.values()) if cadre_buildings else set()
    loads = []
    for cid in sorted(holding_cadres, key=lambda c: cadres[c]["code"]):
        mine = [(code, f) for (code, c), (f, _) in hold.items() if c == cid]
        loads.append({
            "code": cadres[cid]["code"], "type": cadres[cid]["type"],
            "grids": sum(f for _, f in mine), "area_m2": sum(f * area_of[code] for code, f in mine),
            "buildings": len(cadre_buildings[cid]),
            "households": sum(buildings[i]["households"] for i in cadre_buildings[cid]),
            "population": sum(buildings[i]["population"] for i in cadre_buildings[cid]),
            "open_events": len(cadre_events[cid]),
        })
    households = [c["households"] for c in loads]
    return {
        "area_m2": sum(area_of.values()),
        "covered_m2": covered_m2,
        "buildings": (len(buildings), len(covered_buildings)),
        "households": (sum(b["households"] for b in buildings),
                       sum(buildings[i]["households"] for i in covered_buildings)),
        "population": (sum(b["population"] for b in buildings),
                       sum(buildings[i]["population"] for i in covered_buildings)),
        "uncovered": sorted(((c, open_by_grid[c]) for c in codes if c not in by_grid), key=lambda x: (-x[1], x[0])),
        "shared": sorted(shared.items()),
        "cadres": loads,
        "max_median": (max(households) / statistics.median(households)
                       if households and statistics.median(households) else None),
    }


def assert_agrees(ours: dict, theirs: dict, rel: float = 1e-3) -> None:
    """Coverage numbers within `rel` (0.1 %), uncovered and shared lists exact."""
    import pytest

    assert ours["area_m2"] == pytest.approx(theirs["area_m2"], rel=rel)
    assert ours["covered_m2"] == pytest.approx(theirs["covered_m2"], rel=rel, abs=1.0)
    for key in ("buildings", "households", "population"):
        total, covered = theirs[key]
        assert ours[key]["total"] == pytest.approx(total, rel=rel), key
        assert ours[key]["covered"] == pytest.approx(covered, rel=rel), key
    assert [(g["code"], g["open_events"]) for g in ours["uncovered_grids"]] == theirs["uncovered"]
    assert [(g["code"], g["cadres"]) for g in ours["shared_grids"]] == theirs["shared"]
    assert [c["code"] for c in ours["cadres"]] == [c["code"] for c in theirs["cadres"]]
    for mine, other in zip(ours["cadres"], theirs["cadres"]):
        for key in ("grids", "area_m2", "buildings", "households", "population", "open_events"):
            assert mine[key] == pytest.approx(other[key], rel=rel, abs=1e-3 if key == "grids" else 0.5), \
                (mine["code"], key)
    if theirs["max_median"] is not None:
        assert ours["balance"]["max_median_ratio"] == pytest.approx(theirs["max_median"], rel=rel)
