"""Bulk and single paths agree on 10k+ random points of the demo district, edges and corners included."""
from __future__ import annotations

import datetime as dt
import json
import random

import pytest
from sqlalchemy import text

import gis.spatial.assign.bulk
from gis.spatial.assign import assign_events, locate_point

UTC = dt.UTC


def _points(session, n_random: int = 8000, n_vertices: int = 1500, n_edges: int = 1500, seed: int = 4):
    """Random points over (and a little beyond) the district, grid corners, and points on grid edges."""
    rng = random.Random(seed)
    x0, y0, x1, y1 = session.execute(text(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
        "(SELECT ST_Extent(geom) AS e FROM grids) s")).one()
    pad_x, pad_y = (x1 - x0) * 0.02, (y1 - y0) * 0.02
    points = []
    # Grid vertices: where two or three grids meet, the tie-break must agree.
    points += [tuple(r) for r in session.execute(text(
        "SELECT ST_X(d.geom), ST_Y(d.geom) FROM grids g, ST_DumpPoints(g.geom) d "
        "ORDER BY md5(g.id::text || d.path::text) LIMIT :n"), {"n": n_vertices})]
    # Points along grid edges (on them up to floating point): edge, inside or snapped by a hair.
    points += [tuple(r) for r in session.execute(text(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_LineInterpolatePoint(ST_ExteriorRing((ST_Dump(g.geom)).geom),"
        " (abs(hashtext(g.code)) % 1000) / 1000.0) AS p FROM grids g ORDER BY md5(g.code) LIMIT :n) s"),
        {"n": n_edges})]
    n_random = max(n_random, 10_200 - len(points))
    points += [(rng.uniform(x0 - pad_x, x1 + pad_x), rng.uniform(y0 - pad_y, y1 + pad_y)) for _ in range(n_random)]
    return points, rng


@pytest.mark.slow
def test_bulk_equals_single_on_the_demo_district(demo_session, monkeypatch):
    session = demo_session
    # The demo loader assigned its own events as it loaded them (gis.spatial.assign.insert_assigned).
    assert session.scalar(text("SELECT count(*) FROM events WHERE assign_status IS NULL")) == 0
    assert session.scalar(text("SELECT count(*) FROM events WHERE grid_id IS NOT NULL")) > 15_000
    points, rng = _points(session)
    assert len(points) >= 10_000
    now = dt.datetime.now(UTC)
    rows = [{"lon": lon, "lat": lat,
             "acc": round(rng.uniform(1, 40), 1) if rng.random() < 0.6 else None,
             "at": now - dt.timedelta(seconds=rng.randrange(0, 90 * 86400))} for lon, lat in points]
    ids = session.execute(text(
        "INSERT INTO events (geom, category, title, accuracy_m, occurred_at) "
        "SELECT ST_SetSRID(ST_MakePoint(lon, lat), 4326), '21001', 'agree', acc, at "
        "FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(lon float8, lat float8, acc float8, at timestamptz) "
        "RETURNING id"), {"rows": _json(rows)}).scalars().all()
    session.commit()
    # The grid-driven bulk statement, as `gridgov assign --all` runs it on a city.
    monkeypatch.setattr(gis.spatial.assign.bulk, "GRID_DRIVEN_MIN_EVENTS", 0)
    counts = assign_events(session, scope="all")
    session.commit()
    assert counts["inside"] > 5000 and counts["edge"] > 100 and counts["ambiguous"] > 500
    assert counts["snapped"] > 0 and counts["outside"] > 0
    stored = session.execute(text(
        "SELECT id, ST_X(geom), ST_Y(geom), accuracy_m, occurred_at, assign_status, grid_id, assign_distance_m,"
        " building_id, community_id, street_id, district_id FROM events WHERE id = ANY(:ids) ORDER BY id"),
        {"ids": ids}).all()
    mismatches = _mismatches(session, [(r[0], r[1], r[2], r[3], r[4], tuple(r[5:])) for r in stored])
    session.rollback()
    assert mismatches == [], f"{len(mismatches)} of {len(stored)} differ, e.g. {mismatches[:3]}"


def _mismatches(session, stored: list[tuple]) -> list[tuple]:
    """(id, lon, lat, accuracy_m, at, stored assignment) rows whose assignment locate_point disagrees with."""
    out = []
    for event_id, lon, lat, accuracy_m, at, assigned in stored:
        loc = locate_point(session, lon, lat, accuracy_m=accuracy_m, at=at)
        single = (loc.status, loc.grid_id, loc.distance_m, loc.building_id, loc.community_id, loc.street_id,
                  loc.district_id)
        if assigned != single:
            out.append((event_id, assigned, single))
    return out


def _json(rows: list[dict]) -> str:
    import json

    return json.dumps([{**r, "at": r["at"].isoformat()} for r in rows])


@pytest.mark.parametrize("grid_driven", [True, False], ids=["grid-driven", "probe"])
def test_imported_events_are_assigned_as_locate_places_them(demo_session, monkeypatch, tmp_path, grid_driven):
    # An events import assigns its rows in a staging table before writing them (insert_assigned):
    # the same rule as locate, on corners, edges and points beyond the district.
    import csv

    from data.io import import_file

    session = demo_session
    points, rng = _points(session, n_random=1500, n_vertices=400, n_edges=400, seed=11)
    points = points[:2300]
    now = dt.datetime.now(UTC)
    path = tmp_path / "events.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["category", "title", "occurred_at", "lon", "lat"])
        for i, (lon, lat) in enumerate(points):
            at = now - dt.timedelta(seconds=rng.randrange(0, 90 * 86400))
            out.writerow(["21001", f"导入{i}", at.isoformat(), repr(lon), repr(lat)])
    monkeypatch.setattr(gis.spatial.assign.bulk, "GRID_DRIVEN_MIN_EVENTS", 0 if grid_driven else 10**9)
    before = session.scalar(text("SELECT max(id) FROM events"))
    done = import_file(session, "events", path)
    assert done.added == len(points)
    assert any(note.startswith("assigned: ") and "inside" in note for note in done.notes)
    stored = session.execute(text(
        "SELECT id, ST_X(geom), ST_Y(geom), occurred_at, assign_status, grid_id, assign_distance_m,"
        " building_id, community_id, street_id, district_id FROM events WHERE id > :before ORDER BY id"),
        {"before": before}).all()
    assert len(stored) == len(points)
    statuses = {row[4] for row in stored}
    assert {"inside", "edge", "snapped", "outside"} <= statuses
    mismatches = _mismatches(session, [(r[0], r[1], r[2], None, r[3], tuple(r[4:])) for r in stored])
    session.rollback()
    assert mismatches == [], f"{len(mismatches)} of {len(stored)} differ, e.g. {mismatches[:3]}"


def test_the_api_locates_as_locate_point_does(demo_app, demo_session):
    # GET /api/v1/locate runs the statement through the read pool's named prepared statement
    # (PQexecPrepared, text parameters), mostly on its fast path; it must answer exactly as
    # locate_point on a plain session.
    from gis.core.users import create_user

    session = demo_session
    points, rng = _points(session, n_vertices=25, n_edges=25, seed=21)
    points = points[:50] + points[-150:]  # the corners and edges, and random points
    _, token = create_user(session, "locate-check", "viewer")
    session.commit()
    client = demo_app.test_client()
    now = dt.datetime.now(UTC)
    for lon, lat in points:
        acc = round(rng.uniform(1, 40), 1) if rng.random() < 0.5 else None
        at = (now - dt.timedelta(seconds=rng.randrange(0, 90 * 86400))).replace(microsecond=rng.randrange(10**6))
        query = {"lon": repr(lon), "lat": repr(lat), "at": at.isoformat()}
        if acc is not None:
            query["accuracy_m"] = str(acc)
        answer = client.get("/api/v1/locate", query_string=query, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.get_data(as_text=True)
        expected = locate_point(session, lon, lat, accuracy_m=acc, at=at).to_json()
        assert answer.json == json.loads(json.dumps(expected)), (lon, lat, acc, at)
