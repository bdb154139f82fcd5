"""Two planners editing at the same moment, in real threads on their own PostGIS connections."""
from __future__ import annotations

import threading
import time

import shapely
from shapely.geometry import mapping
from sqlalchemy import text

from gis.core.db import session_factory
from gis.core.errors import PreconditionFailed
from gis.spatial.editing import EditRejected, commit_edit, grid_etag, parse_edit
from gis.spatial.topology import Rules, validate_partition
from tests.factories import four_squares, gapped_grids, lonlat, rect, two_grids

RULES = Rules(area_m2=None, households=None)


def _race(engine, community_id: int, edits: list[tuple[dict, set[str]]]) -> list:
    """Run the edits in threads that all start while a third connection holds the community, so they
    queue at the same moment; let go once every one of them is waiting. Returns results or errors."""
    results: list = [None] * len(edits)
    holder = engine.connect()
    hold = holder.begin()
    holder.execute(text("SELECT id FROM admin_areas WHERE id = :c FOR NO KEY UPDATE"), {"c": community_id})

    def run(i: int, body: dict, etags: set[str]) -> None:
        with session_factory(engine)() as session:
            try:
                edit = parse_edit({"note": "并发测试"} | body)
                results[i] = commit_edit(session, edit, user_id=None, if_match=etags, rules=RULES)
                session.commit()
            except Exception as exc:  # the outcome under test
                session.rollback()
                results[i] = exc

    threads = [threading.Thread(target=run, args=(i, body, etags)) for i, (body, etags) in enumerate(edits)]
    for t in threads:
        t.start()
    try:
        # Autocommit: inside one transaction pg_stat_activity would show the same snapshot forever.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watch:
            deadline = time.monotonic() + 20
            while watch.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                     "AND wait_event_type = 'Lock'")).scalar() < len(edits):
                assert time.monotonic() < deadline, f"the editors never queued on the community lock: {results}"
                time.sleep(0.02)
    finally:
        hold.rollback()
        holder.close()
    for t in threads:
        t.join(timeout=30)
    return results


def _reshape(code: str, geom) -> dict:
    return {"op": "reshape", "grids": [{"code": code, "geometry": mapping(geom)}]}


def test_two_planners_filling_one_gap_can_never_leave_an_overlap(engine, session):
    g = gapped_grids(session)
    session.commit()
    results = _race(engine, g["community"].id, [
        (_reshape(g["west"].code, rect(0, 0, 160, 100)), {grid_etag(g["west"].code, 1)}),
        (_reshape(g["east"].code, rect(140, 0, 300, 100)), {grid_etag(g["east"].code, 1)}),
    ])
    # Each edit alone is valid (it fills part of the gap); together they would overlap by 20 m.
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], EditRejected), results
    assert [p["rule"] for p in errors[0].extra["problems"]] == ["overlap"]
    report = validate_partition(session, g["community"].code, RULES)
    assert "overlap" not in report.counts(report.errors)
    assert session.scalar(text("SELECT count(*) FROM grid_edits")) == 1


def test_two_planners_moving_the_same_boundary_one_gets_412(engine, session):
    g = two_grids(session)
    session.commit()
    etags = {grid_etag(g[1].code, 1), grid_etag(g[2].code, 1)}
    results = _race(engine, g[0].id, [
        ({"op": "move_vertices", "moves": [{"from": lonlat(100, 100), "to": lonlat(120, 100)}]}, etags),
        ({"op": "move_vertices", "moves": [{"from": lonlat(100, 100), "to": lonlat(80, 100)}]}, etags),
    ])
    winners = [r for r in results if not isinstance(r, Exception)]
    losers = [r for r in results if isinstance(r, Exception)]
    assert len(winners) == 1 and len(losers) == 1 and isinstance(losers[0], PreconditionFailed), results
    assert {c["version"] for c in losers[0].extra["current"]} == {2}
    # The winner's edit is what the database holds: nothing was overwritten.
    top = session.scalar(text("SELECT ST_AsText(geom) FROM grids WHERE code = :c AND valid_to IS NULL"),
                         {"c": g[1].code})
    assert shapely.equals(shapely.from_wkt(top), shapely.geometry.shape(
        next(o for o in winners[0].opened if o["code"] == g[1].code)["geometry"]))


def test_two_planners_on_different_neighbours_both_keep_their_edit(engine, session):
    g = four_squares(session)
    session.commit()
    west = {grid_etag(g["nw"].code, 1), grid_etag(g["sw"].code, 1)}
    east = {grid_etag(g["ne"].code, 1), grid_etag(g["se"].code, 1)}
    results = _race(engine, g["community"].id, [
        ({"op": "move_vertices", "moves": [{"from": lonlat(0, 100), "to": lonlat(0, 130)}]}, west),
        ({"op": "move_vertices", "moves": [{"from": lonlat(200, 100), "to": lonlat(200, 70)}]}, east),
    ])
    assert not any(isinstance(r, Exception) for r in results), results
    rows = dict(session.execute(text("SELECT code, version FROM grids WHERE valid_to IS NULL")).all())
    assert rows == {g[k].code: 2 for k in ("nw", "ne", "sw", "se")}
    assert validate_partition(session, g["community"].code, RULES).valid
    coords = {tuple(c) for wkt in session.scalars(text("SELECT ST_AsText(geom) FROM grids WHERE valid_to IS NULL"))
              for c in shapely.get_coordinates(shapely.from_wkt(wkt))}
    assert {lonlat(0, 130), lonlat(200, 70)} <= coords
