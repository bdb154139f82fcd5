"""The assignment rule on hand-drawn grids: inside, shared edge, shared corner, snapped, outside, accuracy."""
from __future__ import annotations

import datetime as dt

import pytest
from pyproj import Geod
from sqlalchemy import text

from gis.core.errors import InvalidInput, NotFound
from gis.core.models import Event, Grid
from gis.spatial.assign import assign_events, locate_point
from tests.factories import building, cadre, contract, geodesic_offset, grid, lonlat, rect, three_grids

UTC = dt.UTC
GEOD = Geod(ellps="WGS84")


@pytest.fixture
def grids(session):
    made = three_grids(session)
    session.commit()
    return made


def test_inside(session, grids):
    loc = locate_point(session, *lonlat(100, 100))
    assert (loc.status, loc.grid.code, loc.distance_m) == ("inside", grids["a"].code, 0.0)
    assert loc.grid.name == "网格A"
    assert loc.community.code == "310101001001" and loc.street.code == "310101001"
    assert loc.district.code == "310101" and loc.district.name == "测试区"
    assert loc.nearest_grid is None


def test_shared_edge_goes_to_the_smallest_code_and_says_edge(session, grids):
    loc = locate_point(session, *lonlat(200, 50))  # on the A|B edge
    assert (loc.status, loc.grid.code) == ("edge", grids["a"].code)
    loc = locate_point(session, *lonlat(300, 100))  # on the B|C edge
    assert (loc.status, loc.grid.code) == ("edge", grids["b"].code)


def test_shared_corner_of_three_grids(session, grids):
    loc = locate_point(session, *lonlat(200, 100))
    assert (loc.status, loc.grid.code, loc.distance_m) == ("edge", grids["a"].code, 0.0)


def test_outer_boundary_point_is_covered(session, grids):
    # ST_Covers: a point on the community's outer boundary belongs to the grid drawn there.
    loc = locate_point(session, *lonlat(400, 50))
    assert (loc.status, loc.grid.code) == ("inside", grids["b"].code)


def test_just_outside_snaps_within_snap_m_measured_on_the_ellipsoid(session, grids):
    edge = lonlat(400, 50)
    near = geodesic_offset(*edge, 90, 29.5)
    loc = locate_point(session, *near)
    assert (loc.status, loc.grid.code) == ("snapped", grids["b"].code)
    assert loc.distance_m == pytest.approx(29.5, abs=0.05)
    assert loc.community.code == "310101001001"  # the snapped grid's community
    beyond = geodesic_offset(*edge, 90, 30.5)
    loc = locate_point(session, *beyond)
    assert (loc.status, loc.grid) == ("outside", None)
    assert loc.nearest_grid.code == grids["b"].code
    assert loc.distance_m == pytest.approx(30.5, abs=0.05)
    assert loc.district is None and loc.community is None


def test_snap_m_is_configurable(session, grids):
    near = geodesic_offset(*lonlat(400, 50), 90, 29.5)
    assert locate_point(session, *near, snap_m=10).status == "outside"
    assert locate_point(session, *geodesic_offset(*lonlat(400, 50), 90, 45), snap_m=50).status == "snapped"


def test_far_outside_reports_the_nearest_grid_and_distance(session, grids):
    far = geodesic_offset(*lonlat(200, 200), 0, 800)  # 800 m north of the A|C corner
    loc = locate_point(session, *far)
    assert (loc.status, loc.grid) == ("outside", None)
    assert loc.nearest_grid.code == grids["a"].code  # A and C tie at the corner: smallest code
    assert loc.distance_m == pytest.approx(800, abs=0.5)
    very_far = (10.0, 10.0)  # Africa: still answers, with some grid and the distance
    loc = locate_point(session, *very_far)
    assert loc.status == "outside" and loc.distance_m > 1_000_000


def test_no_grids_at_all_is_outside_without_a_nearest(session):
    loc = locate_point(session, 121.47, 31.23)
    assert (loc.status, loc.grid, loc.nearest_grid, loc.distance_m) == ("outside", None, None, None)


def test_accuracy_circle_crossing_an_edge_is_ambiguous(session, grids):
    p = geodesic_offset(*lonlat(200, 50), 270, 3)  # 3 m inside A, west of the A|B edge
    assert locate_point(session, *p, accuracy_m=2).status == "inside"
    loc = locate_point(session, *p, accuracy_m=10)
    assert (loc.status, loc.grid.code, loc.distance_m) == ("ambiguous", grids["a"].code, 0.0)
    # An accuracy circle of 0 m (or none) is a point: the edge rule applies as usual.
    assert locate_point(session, *lonlat(200, 50), accuracy_m=0).status == "edge"
    assert locate_point(session, *lonlat(200, 50), accuracy_m=5).status == "ambiguous"


@pytest.mark.parametrize("metres", [3.0, 25.0, 90.0])
def test_accuracy_circle_is_measured_to_the_centimetre(session, grids, metres):
    # The edge is `metres` away, measured on the ellipsoid: a circle 1 cm shorter stays inside.
    p = geodesic_offset(*lonlat(200, 100), 270, metres)  # due west of the A|B|C corner, inside A
    assert locate_point(session, *p, accuracy_m=metres - 0.01).status == "inside"
    assert locate_point(session, *p, accuracy_m=metres + 0.01).status == "ambiguous"


def test_ambiguous_point_goes_to_the_grid_of_the_building_covering_it(session, grids):
    # A footprint straddling the A|B edge, mostly in B (its point on surface lies in B).
    building(session, "3101010010010020001", rect(195, 40, 240, 60), name="跨界楼")
    session.commit()
    p = geodesic_offset(*lonlat(200, 50), 270, 3)
    loc = locate_point(session, *p, accuracy_m=10)
    assert (loc.status, loc.grid.code, loc.building.code) == ("ambiguous", grids["b"].code, "3101010010010020001")
    assert loc.distance_m == pytest.approx(3, abs=0.05)  # how far the point is from the grid it got
    # Without the accuracy circle crossing the edge the covering grid keeps it.
    assert locate_point(session, *p, accuracy_m=1).grid.code == grids["a"].code


def test_snapped_point_whose_circle_reaches_the_grid_is_ambiguous(session, grids):
    near = geodesic_offset(*lonlat(400, 50), 90, 20)
    loc = locate_point(session, *near, accuracy_m=25)
    assert (loc.status, loc.grid.code) == ("ambiguous", grids["b"].code)
    assert loc.distance_m == pytest.approx(20, abs=0.05)
    assert locate_point(session, *near, accuracy_m=15).status == "snapped"


def test_building_covering_else_nearest_within_15_m(session, grids):
    building(session, "B1", rect(50, 50, 60, 60))
    building(session, "B2", rect(60, 50, 70, 60))  # shares a wall with B1
    session.commit()
    assert locate_point(session, *lonlat(55, 55)).building.code == "B1"
    assert locate_point(session, *lonlat(60, 55)).building.code == "B1"  # shared wall: smallest code
    east = lonlat(70, 55)
    assert locate_point(session, *geodesic_offset(*east, 90, 14.5)).building.code == "B2"
    assert locate_point(session, *geodesic_offset(*east, 90, 15.5)).building is None


def test_grid_versions_valid_at_the_time(session, grids):
    community = grids["community"]
    cut = dt.datetime(2025, 1, 1, tzinfo=UTC)
    # Grid 004 covered a strip north of the community until the cut, then moved further north.
    grid(session, community, 4, rect(0, 300, 400, 400), valid_to=cut, name="旧")
    grid(session, community, 4, rect(0, 500, 400, 600), valid_from=cut, version=2, name="新")
    session.commit()
    p = lonlat(100, 350)
    before = locate_point(session, *p, at=dt.datetime(2024, 6, 1, tzinfo=UTC))
    assert (before.status, before.grid.code, before.grid.name) == ("inside", f"{community.code}004", "旧")
    after = locate_point(session, *p, at=dt.datetime(2025, 6, 1, tzinfo=UTC))
    assert after.status == "outside"
    assert locate_point(session, *p, at=cut).status == "outside"  # valid_to is exclusive
    assert locate_point(session, *p, at=cut - dt.timedelta(microseconds=1)).grid.name == "旧"


def test_cadres_by_grid_contract_and_drawn_area_at_the_date(session, grids):
    a_code = grids["a"].code
    leader = cadre(session, "C-LEAD", name="王书记", type_="镇街领导", phone="13800000000")
    worker = cadre(session, "C-WORK", name="李网格员", type_="网格员", phone="13900000000")
    old = cadre(session, "C-OLD", name="张旧", type_="网格员")
    police = cadre(session, "C-POL", name="赵警官", type_="三官一律")
    other = cadre(session, "C-B", name="钱", type_="网格员")
    contract(session, leader, grid_code=a_code, valid_from=dt.date(2024, 1, 1))
    contract(session, worker, grid_code=a_code, valid_from=dt.date(2025, 3, 1))
    contract(session, old, grid_code=a_code, valid_from=dt.date(2023, 1, 1), valid_to=dt.date(2025, 3, 1))
    contract(session, police, geom=rect(50, 50, 150, 150))  # a drawn area inside A
    contract(session, other, grid_code=grids["b"].code)
    session.commit()
    p = lonlat(100, 100)
    # 2025-03-01 00:30 in Beijing is still 2025-02-28 in UTC: contract dates are China dates.
    at = dt.datetime(2025, 2, 28, 16, 30, tzinfo=UTC)
    loc = locate_point(session, *p, at=at)
    assert [c.code for c in loc.cadres] == ["C-LEAD", "C-POL", "C-WORK"]  # by type order, then code
    assert {c.type for c in loc.cadres} == {"镇街领导", "三官一律", "网格员"}
    assert "phone" not in str(loc.to_json()) and "13800000000" not in str(loc.to_json())
    earlier = locate_point(session, *p, at=dt.datetime(2025, 2, 28, 15, 30, tzinfo=UTC))
    assert [c.code for c in earlier.cadres] == ["C-LEAD", "C-POL", "C-OLD"]
    outside_area = locate_point(session, *lonlat(20, 20), at=at)
    assert [c.code for c in outside_area.cadres] == ["C-LEAD", "C-WORK"]


def test_location_json_has_the_issue_shape(session, grids):
    body = locate_point(session, *lonlat(200, 50)).to_json()
    assert list(body)[:8] == ["status", "distance_m", "district", "street", "community", "grid", "building",
                              "cadres"]
    assert body["grid"] == {"code": grids["a"].code, "name": "网格A"}
    assert body["building"] is None


@pytest.mark.parametrize("lon,lat,acc", [(float("nan"), 31.0, None), (121.0, 91.0, None), (181.0, 31.0, None),
                                         (121.0, 31.0, -1.0), (121.0, 31.0, float("inf"))])
def test_bad_point_is_invalid_input(session, lon, lat, acc):
    with pytest.raises(InvalidInput):
        locate_point(session, lon, lat, accuracy_m=acc)


def test_prepared_locate_raises_the_servers_own_error_and_keeps_the_connection(db_url, grids):
    # execute_locate runs past psycopg's cursor: an error of the statement must still come out as
    # psycopg's class for it (here a lock timeout), not as a lost connection, and the connection
    # must stay usable; only a dead connection is an outage (tests/api/test_errors.py).
    import psycopg

    from gis.spatial.assign import execute_locate, prepare_locate

    libpq = db_url.replace("postgresql+psycopg://", "postgresql://")
    lon, lat = lonlat(100, 100)
    params = {"lon": lon, "lat": lat, "at": dt.datetime.now(UTC), "accuracy_m": None, "snap_m": 30.0}
    with psycopg.connect(libpq, autocommit=True) as conn, psycopg.connect(libpq) as locker:
        prepare_locate(conn)
        assert execute_locate(conn, params).grid_code == grids["a"].code
        conn.execute("SET lock_timeout = '50ms'")
        locker.execute("LOCK TABLE grids IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            execute_locate(conn, params)
        locker.rollback()
        assert not conn.broken
        row = execute_locate(conn, params)
        assert (row.status, row.grid_code) == ("inside", grids["a"].code)


# -- bulk -------------------------------------------------------------------------------------
def _event(session, lon, lat, *, accuracy_m=None, occurred_at=None, **kw) -> Event:
    from geoalchemy2.shape import from_shape
    from shapely import Point

    ev = Event(geom=from_shape(Point(lon, lat), srid=4326), category=_category(session), title="t",
               accuracy_m=accuracy_m, occurred_at=occurred_at or dt.datetime(2025, 6, 1, tzinfo=UTC), **kw)
    session.add(ev)
    session.flush()
    return ev


def _category(session) -> str:
    from sqlalchemy import select

    from gis.core.models import Category

    return session.scalar(select(Category.code).where(Category.kind == "event").order_by(Category.code).limit(1))


def _hand_drawn_events(session, grids):
    building(session, "3101010010010020001", rect(195, 40, 240, 60))
    e = {
        "inside": _event(session, *lonlat(100, 100)),
        "edge": _event(session, *lonlat(200, 50)),
        "corner": _event(session, *lonlat(200, 100)),
        "snapped": _event(session, *geodesic_offset(*lonlat(400, 50), 90, 29.5)),
        "outside": _event(session, *geodesic_offset(*lonlat(400, 50), 90, 30.5)),
        "ambiguous": _event(session, *geodesic_offset(*lonlat(200, 50), 270, 3), accuracy_m=10),
        "precise": _event(session, *geodesic_offset(*lonlat(200, 50), 270, 3), accuracy_m=1),
    }
    session.commit()
    return e


@pytest.mark.parametrize("grid_driven", [True, False])
def test_bulk_assigns_like_locate(session, grids, monkeypatch, grid_driven):
    import gis.spatial.assign.bulk

    monkeypatch.setattr(gis.spatial.assign.bulk, "GRID_DRIVEN_MIN_EVENTS", 0 if grid_driven else 10**9)
    events = _hand_drawn_events(session, grids)
    counts = assign_events(session, scope="all")
    session.commit()
    assert counts == {"inside": 2, "edge": 2, "snapped": 1, "outside": 1, "ambiguous": 1, "changed": 7}
    for name, ev in events.items():
        session.refresh(ev)
        loc = locate_point(session, *_lonlat(session, ev), accuracy_m=ev.accuracy_m, at=ev.occurred_at)
        assert (ev.assign_status, ev.grid_id, ev.assign_distance_m, ev.building_id, ev.community_id,
                ev.street_id, ev.district_id) == (loc.status, loc.grid_id, loc.distance_m, loc.building_id,
                                                  loc.community_id, loc.street_id, loc.district_id), name
    assert events["ambiguous"].grid_id == grids["b"].id
    assert events["outside"].grid_id is None and events["outside"].assign_distance_m == pytest.approx(30.5, abs=0.05)


def _lonlat(session, ev: Event) -> tuple[float, float]:
    from sqlalchemy import func, select

    return session.execute(select(func.ST_X(Event.geom), func.ST_Y(Event.geom)).where(Event.id == ev.id)).one()


def test_bulk_rerun_changes_nothing_and_scopes(session, grids):
    events = _hand_drawn_events(session, grids)
    assign_events(session)
    session.commit()
    again = assign_events(session)
    assert again["changed"] == 0 and again["inside"] == 2
    fresh = _event(session, *lonlat(300, 150))
    session.commit()
    counts = assign_events(session, scope="unassigned")
    # 'unassigned' covers events never assigned and those with no grid (the outside one).
    assert counts["changed"] == 1 and counts["inside"] == 1 and counts["outside"] == 1
    session.refresh(fresh)
    assert fresh.grid_id == grids["c"].id
    # Redraw grid C to end at x=250: the event at x=300 is then 50 m outside every grid; at
    # --grid C scope, the events assigned to C are reassigned under the new boundary.
    c = session.get(Grid, grids["c"].id)
    from geoalchemy2.shape import from_shape

    c.geom = from_shape(rect(200, 100, 250, 200), srid=4326)
    session.commit()
    counts = assign_events(session, scope=grids["c"].code)
    session.refresh(fresh)
    assert (fresh.assign_status, fresh.grid_id) == ("outside", None)
    assert counts["changed"] == 1
    session.refresh(events["inside"])
    assert events["inside"].assign_status == "inside"


def test_bulk_uses_each_events_time_for_grid_versions(session, grids):
    community = grids["community"]
    cut = dt.datetime(2025, 1, 1, tzinfo=UTC)
    old = grid(session, community, 4, rect(0, 300, 400, 400), valid_to=cut)
    grid(session, community, 4, rect(0, 500, 400, 600), valid_from=cut, version=2)
    early = _event(session, *lonlat(100, 350), occurred_at=dt.datetime(2024, 5, 1, tzinfo=UTC))
    late = _event(session, *lonlat(100, 350), occurred_at=dt.datetime(2025, 5, 1, tzinfo=UTC))
    session.commit()
    assign_events(session)
    session.refresh(early)
    session.refresh(late)
    assert (early.assign_status, early.grid_id) == ("inside", old.id)
    assert (late.assign_status, late.grid_id) == ("outside", None)


def test_bulk_scope_errors(session, grids):
    with pytest.raises(NotFound):
        assign_events(session, scope="310101001001999")
    with pytest.raises(InvalidInput):
        assign_events(session, scope="everything")


def test_bulk_progress_reports_while_running(session, grids, monkeypatch):
    import gis.spatial.assign.bulk

    monkeypatch.setattr(gis.spatial.assign.bulk, "GRID_DRIVEN_MIN_EVENTS", 0)
    _hand_drawn_events(session, grids)
    seen = []
    assign_events(session, progress=lambda phase, done, total: seen.append((phase, done, total)))
    assert ("grids", 3, 3) in seen
    assert any(phase == "written" for phase, _, _ in seen)
    assert seen[-1] == ("done", 7, 7)


def test_events_import_assigns_new_and_moved_events(session, grids, tmp_path):
    from data.io import import_file

    a_lon, a_lat = lonlat(100, 100)
    b_lon, b_lat = lonlat(300, 50)
    path = tmp_path / "events.csv"
    path.write_text("category,title,occurred_at,lon,lat\n"
                    f"21001,在A,2025-05-01T08:00:00+08:00,{a_lon},{a_lat}\n"
                    f"21001,在边上,2025-05-01T08:00:00+08:00,{lonlat(200, 50)[0]},{lonlat(200, 50)[1]}\n")
    import_file(session, "events", path)
    session.commit()
    rows = dict(session.execute(text("SELECT title, grid_id FROM events")).all())
    assert rows == {"在A": grids["a"].id, "在边上": grids["a"].id}
    moved_id = session.scalar(text("SELECT id FROM events WHERE title = '在A'"))
    # The same event re-imported at a point in grid B: its assignment follows it.
    path.write_text("id,category,title,occurred_at,lon,lat\n"
                    f"{moved_id},21001,在A,2025-05-01T08:00:00+08:00,{b_lon},{b_lat}\n")
    import_file(session, "events", path)
    session.commit()
    assert session.execute(text("SELECT assign_status, grid_id FROM events WHERE id = :i"),
                           {"i": moved_id}).one() == ("inside", grids["b"].id)
