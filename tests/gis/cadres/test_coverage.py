"""Coverage of an area by contracts, on hand-drawn grids whose answers are worked out by hand.

The scene (metres east/north of the factories' origin): one community 500 m × 100 m cut into five
100 m × 100 m grids G1…G5 (all the same geodesic area, ≈ 10,000 m²):

    G1 [0,100]    A and B (both 网格员) contract it whole           → shared by A and B
    G2 [100,200]  C (镇街领导) contracts it whole
    G3 [200,300]  D (网格员) draws x 200–250                        → half covered
    G4 [300,400]  E (网格员) contracted it until yesterday (ended)   → uncovered today
    G5 [400,500]  nobody                                            → uncovered
    F (网格员) has no contracts.

Buildings (households / population): b1 in G1 10/30, b2 in G2 20/50, in G3: b3 wholly inside D's
polygon 5/12, b4 outside 7/20, b5 40 % inside 8/25, b6 60 % inside 6/15; b7 in G4 4/9, b8 in G5 3/8.
Open events: G1 1 (+1 closed), G2 0, G3 2 (one inside D's polygon), G4 2 (+1 closed, +1 rejected), G5 3.
"""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from gis.cadres.contracts import today
from gis.cadres.coverage import cadre_load, coverage_of, gini, max_median_ratio
from gis.core.errors import InvalidInput, NotFound
from gis.core.models import CLOSED_EVENT_STATUSES, EVENT_STATUSES, OPEN_EVENT_STATUSES
from tests.factories import area, cadre, contract, event, grid, grid_building, hierarchy, rect

GRID_M2 = 10_000  # each hand-drawn grid is 100 m × 100 m (the metre plane is good to ~0.5 %)


def build_scene(session) -> dict:
    """The scene above; returns its objects by name."""
    district, street, community = hierarchy(session, rect(0, 0, 500, 100))
    empty = area(session, "community", "310101001002", rect(0, 100, 500, 200), name="空社区", parent=street)
    g = {i: grid(session, community, i, rect(100 * (i - 1), 0, 100 * i, 100)) for i in range(1, 6)}
    day = today(session)
    a, b, c, d, e, f = (cadre(session, code, t) for code, t in
                        (("A", "网格员"), ("B", "网格员"), ("C", "镇街领导"), ("D", "网格员"), ("E", "网格员"),
                         ("F", "网格员")))
    contract(session, a, grid_code=g[1].code)
    contract(session, b, grid_code=g[1].code)
    contract(session, c, grid_code=g[2].code)
    contract(session, d, geom=rect(200, 0, 250, 100))
    contract(session, e, grid_code=g[4].code, valid_to=day - dt.timedelta(days=1))
    for grid_obj, box, hh, pop in ((g[1], (20, 20, 40, 40), 10, 30), (g[2], (120, 20, 140, 40), 20, 50),
                                   (g[3], (210, 20, 230, 40), 5, 12), (g[3], (260, 20, 280, 40), 7, 20),
                                   (g[3], (244, 50, 259, 70), 8, 25), (g[3], (241, 70, 256, 90), 6, 15),
                                   (g[4], (320, 20, 340, 40), 4, 9), (g[5], (420, 20, 440, 40), 3, 8)):
        grid_building(session, grid_obj, rect(*box), households=hh, population=pop)
    for grid_obj, x, status in ((g[1], 50, "reported"), (g[1], 60, "closed"),
                                (g[3], 220, "dispatched"), (g[3], 270, "in_progress"),
                                (g[4], 350, "registered"), (g[4], 355, "handled"), (g[4], 360, "closed"),
                                (g[4], 370, "rejected"),
                                (g[5], 450, "reported"), (g[5], 455, "reported"), (g[5], 460, "reported")):
        event(session, grid_obj, x, 50, status=status)
    session.commit()
    return {"district": district, "street": street, "community": community, "empty": empty, "g": g,
            "day": day, "cadres": {"A": a, "B": b, "C": c, "D": d, "E": e, "F": f}}


@pytest.fixture
def scene(session):
    return build_scene(session)


def _codes(rows):
    return [r["code"] for r in rows]


def test_district_coverage_by_hand(session, scene):
    g = scene["g"]
    cov = coverage_of(session, "310101")
    out = cov.to_dict()
    assert out["area"] == {"code": "310101", "name": "测试区", "level": "district"}
    assert out["area_m2"] == pytest.approx(5 * GRID_M2, rel=5e-3)
    # G1 + G2 + half of G3, out of five equal grids.
    assert out["coverage_ratio"] == pytest.approx(2.5 / 5, abs=1e-6)
    assert out["covered_m2"] == pytest.approx(2.5 * GRID_M2, rel=5e-3)
    assert out["buildings"] == {"total": 8, "covered": 4, "ratio": 0.5}  # b1, b2, b3, b6
    assert out["households"] == {"total": 63, "covered": 41, "ratio": round(41 / 63, 6)}
    assert out["population"] == {"total": 169, "covered": 107, "ratio": round(107 / 169, 6)}
    # Uncovered: most open events first (G5 has 3, G4 2); E's contract ended yesterday.
    assert out["uncovered_grids"] == [{"code": g[5].code, "name": "网格5", "open_events": 3},
                                      {"code": g[4].code, "name": "网格4", "open_events": 2}]
    assert out["shared_grids"] == [{"code": g[1].code, "cadres": ["A", "B"]}]
    loads = {c["code"]: c for c in out["cadres"]}
    assert sorted(loads) == ["A", "B", "C", "D"]  # E ended, F holds nothing
    for code in "AB":
        assert loads[code] | {"area_m2": 0} == {"code": code, "name": f"干部{code}", "type": "网格员", "grids": 1.0,
                                                "area_m2": 0, "buildings": 1, "households": 10,
                                                "population": 30, "open_events": 1}
        assert loads[code]["area_m2"] == pytest.approx(GRID_M2, rel=5e-3)
    assert (loads["C"]["grids"], loads["C"]["buildings"], loads["C"]["households"], loads["C"]["open_events"]) \
        == (1.0, 1, 20, 0)
    # D's polygon: half of G3; b3 (inside) and b6 (60 % inside), not b5 (40 %); one of G3's two events.
    assert loads["D"]["grids"] == pytest.approx(0.5, abs=1e-4)
    assert loads["D"]["area_m2"] == pytest.approx(GRID_M2 / 2, rel=5e-3)
    assert (loads["D"]["buildings"], loads["D"]["households"], loads["D"]["population"],
            loads["D"]["open_events"]) == (2, 11, 27, 1)
    # Households per cadre 10, 10, 20, 11: median 10.5; Gini Σ|xi−xj| / (2 n² mean) = 62 / 408.
    assert out["balance"]["max_median_ratio"] == pytest.approx(20 / 10.5, abs=1e-4)
    assert out["balance"]["gini_households"] == pytest.approx(62 / 408, abs=1e-4)


def test_street_and_community_see_the_same_grids(session, scene):
    district = coverage_of(session, "310101").to_dict()
    for code in ("310101001", "310101001001"):
        other = coverage_of(session, code).to_dict()
        assert {k: v for k, v in other.items() if k != "area"} == {k: v for k, v in district.items() if k != "area"}


def test_one_cadre_type(session, scene):
    g = scene["g"]
    grid_workers = coverage_of(session, "310101", cadre_type="网格员").to_dict()
    assert grid_workers["coverage_ratio"] == pytest.approx(1.5 / 5, abs=1e-6)
    assert _codes(grid_workers["uncovered_grids"]) == [g[5].code, g[4].code, g[2].code]
    assert _codes(grid_workers["cadres"]) == ["A", "B", "D"]
    leaders = coverage_of(session, "310101", cadre_type="镇街领导").to_dict()
    # Open events 3, 2, 2, 1: the tie between G3 and G4 goes by code.
    assert [(r["code"], r["open_events"]) for r in leaders["uncovered_grids"]] == [
        (g[5].code, 3), (g[3].code, 2), (g[4].code, 2), (g[1].code, 1)]
    assert leaders["shared_grids"] == []
    assert leaders["balance"] == {"max_median_ratio": 1.0, "gini_households": 0.0}


def test_as_of_a_date_uses_the_contracts_of_that_day(session, scene):
    g, day = scene["g"], scene["day"]
    # E's contract has valid_to = yesterday: it held G4 the day before, not yesterday (half-open).
    before = coverage_of(session, "310101", at=day - dt.timedelta(days=2)).to_dict()
    assert _codes(before["uncovered_grids"]) == [g[5].code]
    assert before["coverage_ratio"] == pytest.approx(3.5 / 5, abs=1e-6)
    assert "E" in _codes(before["cadres"])
    yesterday = coverage_of(session, "310101", at=(day - dt.timedelta(days=1)).isoformat()).to_dict()
    assert _codes(yesterday["uncovered_grids"]) == [g[5].code, g[4].code]
    # Before any contract started (all began 2020-01-01) nothing is covered.
    old = coverage_of(session, "310101", at=dt.date(2019, 12, 31)).to_dict()
    assert old["covered_m2"] == 0 and old["cadres"] == [] and len(old["uncovered_grids"]) == 5


def test_contract_ending_today_no_longer_holds_today(session, scene):
    g, day = scene["g"], scene["day"]
    contract(session, scene["cadres"]["F"], grid_code=g[5].code, valid_from=day - dt.timedelta(days=30),
             valid_to=day)
    session.commit()
    assert g[5].code in _codes(coverage_of(session, "310101").to_dict()["uncovered_grids"])
    earlier = coverage_of(session, "310101", at=day - dt.timedelta(days=1)).to_dict()
    assert g[5].code not in _codes(earlier["uncovered_grids"])


def test_area_without_grids(session, scene):
    out = coverage_of(session, "310101001002").to_dict()
    assert out == {
        "area": {"code": "310101001002", "name": "空社区", "level": "community"},
        "area_m2": 0.0, "covered_m2": 0.0, "coverage_ratio": None,
        "buildings": {"total": 0, "covered": 0, "ratio": None},
        "households": {"total": 0, "covered": 0, "ratio": None},
        "population": {"total": 0, "covered": 0, "ratio": None},
        "uncovered_grids": [], "shared_grids": [], "cadres": [],
        "balance": {"max_median_ratio": None, "gini_households": None},
    }


def test_cadre_load(session, scene):
    d = cadre_load(session, "D")
    assert (d.grids, d.buildings, d.households, d.population, d.open_events) == (pytest.approx(0.5, abs=1e-6),
                                                                                2, 11, 27, 1)
    assert d.area_m2 == pytest.approx(GRID_M2 / 2, rel=5e-3)
    f = cadre_load(session, "F")
    assert (f.code, f.type, f.grids, f.area_m2, f.buildings, f.households, f.open_events) == (
        "F", "网格员", 0, 0, 0, 0, 0)
    e_then = cadre_load(session, "E", at=scene["day"] - dt.timedelta(days=2))
    assert (e_then.grids, e_then.buildings, e_then.households, e_then.open_events) == (1.0, 1, 4, 2)
    assert cadre_load(session, "E").grids == 0


def test_polygons_splitting_a_grid_cleanly_do_not_share_it(session):
    _, _, community = hierarchy(session, rect(0, 0, 200, 100))
    g1 = grid(session, community, 1, rect(0, 0, 100, 100))
    g2 = grid(session, community, 2, rect(100, 0, 200, 100))
    p, q = cadre(session, "P"), cadre(session, "Q")
    contract(session, p, geom=rect(0, 0, 60, 100))
    # Q's polygon also strays 0.004 m into G2: 0.4 m² of drawing noise, not coverage.
    contract(session, q, geom=rect(60, 0, 100.004, 100))
    session.commit()
    out = coverage_of(session, "310101").to_dict()
    assert out["shared_grids"] == []
    assert _codes(out["uncovered_grids"]) == [g2.code]
    assert out["coverage_ratio"] == pytest.approx(0.5, abs=1e-5)
    loads = {c["code"]: c["grids"] for c in out["cadres"]}
    assert loads == {"P": pytest.approx(0.6, abs=1e-4), "Q": pytest.approx(0.4, abs=1e-4)}

    # R, of the same type, draws x 50–100: it overlaps both P (10 m) and Q (40 m) in G1.
    r = cadre(session, "R")
    contract(session, r, geom=rect(50, 0, 100, 100))
    # S is a leader: overlapping cadres of another type do not make a grid shared.
    contract(session, cadre(session, "S", "镇街领导"), grid_code=g1.code)
    session.commit()
    out = coverage_of(session, "310101").to_dict()
    assert out["shared_grids"] == [{"code": g1.code, "cadres": ["P", "Q", "R"]}]
    assert out["coverage_ratio"] == pytest.approx(0.5, abs=1e-5)  # overlaps are counted once


def test_whole_and_drawn_contracts_of_one_cadre_count_once(session):
    _, _, community = hierarchy(session, rect(0, 0, 100, 100))
    g1 = grid(session, community, 1, rect(0, 0, 100, 100))
    grid_building(session, g1, rect(10, 10, 20, 20), households=5)
    event(session, g1, 15, 15)
    p = cadre(session, "P")
    contract(session, p, grid_code=g1.code)
    contract(session, p, geom=rect(0, 0, 50, 100))
    session.commit()
    load = cadre_load(session, "P")
    assert (load.grids, load.buildings, load.households, load.open_events) == (1.0, 1, 5, 1)
    assert coverage_of(session, "310101").to_dict()["shared_grids"] == []


def test_as_of_a_date_uses_the_grid_versions_of_that_day(session):
    _, _, community = hierarchy(session, rect(0, 0, 100, 100))
    cut = dt.datetime(2024, 6, 1, 9, 30, tzinfo=dt.UTC)
    old = grid(session, community, 1, rect(0, 0, 100, 100), valid_to=cut)
    grid(session, community, 1, rect(0, 0, 100, 50), version=2, valid_from=cut)
    grid_building(session, old, rect(10, 60, 20, 70), households=7)  # still points at version 1
    contract(session, cadre(session, "P"), grid_code=old.code)
    session.commit()
    now = coverage_of(session, "310101").to_dict()
    assert now["area_m2"] == pytest.approx(GRID_M2 / 2, rel=5e-3) and now["coverage_ratio"] == pytest.approx(1)
    assert now["households"]["covered"] == 7  # buildings count by grid code, across versions
    then = coverage_of(session, "310101", at=dt.date(2024, 5, 1)).to_dict()
    assert then["area_m2"] == pytest.approx(GRID_M2, rel=5e-3)
    # The reshape happened on 2024-06-01: that day's figures use the new version.
    assert coverage_of(session, "310101", at=dt.date(2024, 6, 1)).area_m2 == pytest.approx(GRID_M2 / 2, rel=5e-3)


def test_bad_input(session, scene):
    with pytest.raises(NotFound, match="area"):
        coverage_of(session, "999999")
    with pytest.raises(InvalidInput, match="at"):
        coverage_of(session, "310101", at="2025-13-01")
    with pytest.raises(InvalidInput, match="cadre type"):
        coverage_of(session, "310101", cadre_type="村长")
    with pytest.raises(NotFound, match="cadre"):
        cadre_load(session, "NOBODY")


@pytest.mark.parametrize("values,expected", [
    ([0, 100, 100, 200], 0.375),       # Σ|xi−xj| = 1200 over ordered pairs; 1200 / (2·16·100)
    ([100, 300, 500], 8 / 27),         # 1600 / (2·9·300)
    ([50, 50, 50], 0.0),
    ([0, 0, 0, 90], 0.75),             # one holds all: (n−1)/n
])
def test_gini_by_hand(values, expected):
    assert gini(values) == pytest.approx(expected)


def test_gini_and_max_median_undefined():
    assert gini([]) is None and gini([0, 0]) is None
    assert max_median_ratio([]) is None and max_median_ratio([0, 0, 5]) is None
    assert max_median_ratio([100, 300, 500]) == pytest.approx(500 / 300)
    assert max_median_ratio([0, 100, 100, 200]) == pytest.approx(2.0)


def test_event_is_open_in_sql_matches_python(session):
    assert set(OPEN_EVENT_STATUSES) | set(CLOSED_EVENT_STATUSES) == set(EVENT_STATUSES)
    for status in EVENT_STATUSES:
        in_sql = session.scalar(text("SELECT event_is_open(:s)"), {"s": status})
        assert in_sql == (status in OPEN_EVENT_STATUSES), status


def test_map_views_agree_with_coverage(session, scene):
    cov = coverage_of(session, "310101").to_dict()
    uncovered = session.execute(text(
        "SELECT code, name, open_events FROM v_uncovered_grids ORDER BY open_events DESC, code")).mappings().all()
    assert [dict(r) for r in uncovered] == cov["uncovered_grids"]
    areas = session.execute(text(
        "SELECT cadre_code, cadre_name, cadre_type, area_m2, grids, whole_grids, ST_GeometryType(geom) AS type, "
        "ST_SRID(geom) AS srid, ST_Area(geom::geography) AS geom_m2 FROM v_contracted_areas ORDER BY cadre_code"
    )).mappings().all()
    assert [r["cadre_code"] for r in areas] == _codes(cov["cadres"])
    for row, load in zip(areas, cov["cadres"]):
        assert row["area_m2"] == pytest.approx(load["area_m2"], abs=0.1)
        assert row["grids"] == pytest.approx(load["grids"], abs=1e-4)
        assert row["geom_m2"] == pytest.approx(row["area_m2"], rel=1e-6)
        assert (row["type"], row["srid"]) == ("ST_MultiPolygon", 4326)
    assert {r["cadre_code"]: r["whole_grids"] for r in areas} == {"A": 1, "B": 1, "C": 1, "D": 0}


def test_contracted_area_is_dissolved_per_cadre(session):
    _, _, community = hierarchy(session, rect(0, 0, 300, 100))
    grids = [grid(session, community, i, rect(100 * (i - 1), 0, 100 * i, 100)) for i in (1, 2, 3)]
    p = cadre(session, "P")
    for g in grids[:2]:
        contract(session, p, grid_code=g.code)
    contract(session, p, geom=rect(200, 0, 230, 100))
    session.commit()
    row = session.execute(text(
        "SELECT ST_NumGeometries(geom) AS parts, ST_NRings(geom) AS rings, grids, area_m2 "
        "FROM v_contracted_areas")).one()
    assert (row.parts, row.rings) == (1, 1)  # two grids and a polygon beside them: one piece
    assert row.grids == pytest.approx(2.3, abs=1e-4)
    assert row.area_m2 == pytest.approx(2.3 * GRID_M2, rel=5e-3)


def test_hand_scene_agrees_with_independent_shapely(session, scene):
    from tests.independent_coverage import assert_agrees, independent_coverage

    assert_agrees(coverage_of(session, "310101").to_dict(), independent_coverage(session, "310101", scene["day"]))


def test_generated_scene_agrees_with_independent_shapely(session):
    """Random contracts, polygons, buildings and events (seeded) over a 6 × 4 block of grids."""
    import random

    from tests.independent_coverage import assert_agrees, independent_coverage

    rng = random.Random(5)
    _, _, community = hierarchy(session, rect(0, 0, 600, 400))
    grids = [grid(session, community, 1 + i + 6 * j, rect(100 * i, 100 * j, 100 * (i + 1), 100 * (j + 1)))
             for j in range(4) for i in range(6)]
    people = [cadre(session, f"K{n:02d}", "网格员" if n % 3 else "三官一律") for n in range(12)]
    pairs = rng.sample([(p, g) for p in people for g in grids], 20)
    for who, g in pairs:
        contract(session, who, grid_code=g.code)
    for _ in range(6):
        x, y = rng.uniform(0, 500), rng.uniform(0, 300)
        contract(session, rng.choice(people), geom=rect(x, y, x + rng.uniform(30, 160), y + rng.uniform(30, 160)))
    for _ in range(200):
        g = rng.choice(grids)
        x, y = rng.uniform(2, 80), rng.uniform(2, 80)
        gx, gy = (grids.index(g) % 6) * 100, (grids.index(g) // 6) * 100
        grid_building(session, g, rect(gx + x, gy + y, gx + x + rng.uniform(8, 18), gy + y + rng.uniform(8, 18)),
                 households=rng.randrange(0, 40), population=rng.randrange(0, 100))
    for _ in range(300):
        g = rng.choice(grids)
        gx, gy = (grids.index(g) % 6) * 100, (grids.index(g) // 6) * 100
        event(session, g, gx + rng.uniform(0, 100), gy + rng.uniform(0, 100),
              status=rng.choice(["reported", "dispatched", "closed", "rejected", "handled"]))
    session.commit()
    ours = coverage_of(session, "310101").to_dict()
    assert ours["shared_grids"] and ours["uncovered_grids"] and 0 < ours["coverage_ratio"] < 1  # a real mix
    assert_agrees(ours, independent_coverage(session, "310101", today(session)))


def test_a_polygon_covering_a_grid_entirely_takes_its_buildings_and_events_by_grid(session):
    """Like a whole-grid contract: buildings and events count by the grid they are assigned to."""
    _, _, community = hierarchy(session, rect(0, 0, 200, 100))
    g1 = grid(session, community, 1, rect(0, 0, 100, 100))
    g2 = grid(session, community, 2, rect(100, 0, 200, 100))
    # Assigned to G1 but mostly over the line in G2 (a straddler), and an event snapped to G1.
    grid_building(session, g1, rect(90, 10, 120, 20), households=9)
    grid_building(session, g2, rect(150, 10, 160, 20), households=4)   # in G2, outside the polygon
    event(session, g1, 130, 50)                                         # located in G2, assigned to G1
    p = cadre(session, "P")
    contract(session, p, geom=rect(0, 0, 105, 100))                     # all of G1, 5 m of G2
    session.commit()
    load = cadre_load(session, "P")
    assert (load.buildings, load.households, load.open_events) == (1, 9, 1)
    assert load.grids == pytest.approx(1.05, abs=1e-4)
    out = coverage_of(session, "310101").to_dict()
    assert out["buildings"] == {"total": 2, "covered": 1, "ratio": 0.5}
