"""The live event stream (LISTEN/NOTIFY → server-sent events), the counters and search."""
from __future__ import annotations

import http.client
import json
import socket
import threading
import time

from sqlalchemy import text

from tests.conftest import auth
from tests.factories import four_grids, lonlat


def _insert(engine, grid_id: int, title: str, x: float = 50, y: float = 50) -> int:
    lon, lat = lonlat(x, y)
    with engine.begin() as conn:
        return conn.execute(text(
            "INSERT INTO events (geom, category, title, grid_id) VALUES "
            "(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), '11001', :title, :g) RETURNING id"),
            {"lon": lon, "lat": lat, "title": title, "g": grid_id}).scalar_one()


class Stream:
    """An SSE client on a thread, collecting (event, id, data) until closed."""

    def __init__(self, base: str, token: str, last_id: int | None = None):
        host, port = base.split("//")[1].split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=10)
        headers = {"Authorization": f"Bearer {token}"}
        if last_id is not None:
            headers["Last-Event-ID"] = str(last_id)
        self.conn.connect()
        self.sock = self.conn.sock  # kept: the response may take the connection over
        self.conn.request("GET", "/api/v1/stream/events", headers=headers)
        self.response = self.conn.getresponse()
        assert self.response.status == 200 and self.response.getheader("Content-Type").startswith("text/event-stream")
        self.messages: list[tuple[str, str | None, str]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        buf = ""
        try:
            while True:
                chunk = self.response.read1(4096).decode()
                if not chunk:
                    return
                buf += chunk
                while "\n\n" in buf:
                    block, buf = buf.split("\n\n", 1)
                    fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
                    if "event" in fields:
                        self.messages.append((fields["event"], fields.get("id"), fields.get("data", "")))
        except (OSError, http.client.HTTPException):  # closed by close()
            return

    def wait(self, predicate, timeout: float = 3.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if predicate(self.messages):
                return True
            time.sleep(0.02)
        return False

    def close(self):
        # Shut the socket down for real, as a closed browser tab does (closing the connection
        # object alone leaves the socket open while the response still refers to it).
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.conn.close()


def test_new_events_reach_every_stream_that_may_see_them(live_server, make_user, session, engine):
    _, grids, _, _ = four_grids(session)
    session.commit()
    boss = Stream(live_server, make_user("commander"))
    worker = Stream(live_server, make_user("worker", grids=[grids[0].code]))
    try:
        mine = _insert(engine, grids[0].id, "在我的网格")
        other = _insert(engine, grids[3].id, "别人的网格", 350, 50)
        assert boss.wait(lambda m: {int(i) for e, i, _ in m if e == "insert"} >= {mine, other})
        feature = json.loads(next(d for e, i, d in boss.messages if i == str(mine)))
        assert feature["properties"]["grid_code"] == grids[0].code and "contact" not in feature["properties"]
        assert worker.wait(lambda m: any(i == str(mine) for _, i, _ in m))
        time.sleep(0.3)
        assert not any(i == str(other) for _, i, _ in worker.messages)  # not the worker's grid
    finally:
        boss.close()
        worker.close()


def test_a_bulk_change_asks_maps_to_reload(live_server, make_user, session, engine):
    _, grids, _, _ = four_grids(session)
    session.commit()
    stream = Stream(live_server, make_user("commander"))
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE events SET status = 'registered'"))  # 5 rows: ids are sent
            conn.execute(text(
                "INSERT INTO events (geom, category, title) SELECT ST_SetSRID(ST_MakePoint(121.47, 31.23), 4326), "
                "'11001', 'bulk' FROM generate_series(1, 150)"))
        assert stream.wait(lambda m: any(e == "reload" for e, _, _ in m))
        assert stream.wait(lambda m: sum(e == "update" for e, _, _ in m) == 5)
    finally:
        stream.close()


def test_reconnecting_stream_gets_what_it_missed(live_server, make_user, session, engine):
    _, grids, _, events = four_grids(session)
    session.commit()
    missed = _insert(engine, grids[1].id, "断线期间")
    stream = Stream(live_server, make_user("commander"), last_id=events[-1].id)
    try:
        assert stream.wait(lambda m: [i for e, i, _ in m if e == "insert"] == [str(missed)])
    finally:
        stream.close()


def test_streams_beyond_the_cap_get_503_and_the_slot_comes_back(app, live_server, make_user, session, engine):
    # Each open stream holds a server thread: past MAX_STREAMS a map is told to come back later
    # (and polls meanwhile) rather than leave no thread for anybody's requests.
    app.config["MAX_STREAMS"] = 2
    token = make_user("commander")
    first, second = Stream(live_server, token), Stream(live_server, token)
    try:
        host, port = live_server.split("//")[1].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("GET", "/api/v1/stream/events", headers={"Authorization": f"Bearer {token}"})
        refused = conn.getresponse()
        body = json.loads(refused.read())
        assert refused.status == 503 and refused.getheader("Content-Type") == "application/problem+json"
        assert int(refused.getheader("Retry-After")) > 0 and "MAX_STREAMS" in body["detail"]
        conn.close()
        # Other requests are still served while the streams are open.
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("GET", "/api/v1/counters", headers={"Authorization": f"Bearer {token}"})
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        first.close()
    # The closed stream's slot is free again once the server notices: when writing to it fails
    # (a heartbeat or an event; TCP lets the first write after the close through).
    _, grids, _, _ = four_grids(session)
    session.commit()
    deadline = time.monotonic() + 10
    while True:
        _insert(engine, grids[0].id, "唤醒")
        time.sleep(0.2)
        try:
            third = Stream(live_server, token)
            break
        except AssertionError:
            assert time.monotonic() < deadline, "the closed stream's slot never came back"
    assert second.wait(lambda m: any(e == "insert" for e, _, _ in m))
    third.close()
    second.close()


def test_stream_needs_a_role_that_may_see_events(client, make_user):
    assert client.get("/api/v1/stream/events").status_code == 401
    assert client.get("/api/v1/stream/events", headers=auth(make_user("viewer"))).status_code == 403


def test_counters_today_and_open_and_the_loops_figures(client, make_user, session):
    _, grids, _, _ = four_grids(session)
    session.execute(text("UPDATE events SET occurred_at = now() - interval '3 days' WHERE title = '事件4'"))
    session.commit()
    body = client.get("/api/v1/counters", headers=auth(make_user("commander"))).json
    assert body["today_events"] == 4 and body["open_events"] == 4
    # Issue #8 fills these: nothing overdue, and no case registered yet, so no closure rate.
    assert body["overdue_events"] == 0 and body["closure_rate"] is None
    worker = client.get("/api/v1/counters", headers=auth(make_user("worker", grids=[grids[0].code]))).json
    assert worker["today_events"] == 2 and worker["open_events"] == 1


def test_search_by_grid_code_and_building_and_name(client, make_user, session):
    _, grids, buildings, _ = four_grids(session)
    buildings[2].name = "幸福小区3号楼"
    session.commit()
    token = auth(make_user("viewer"))
    hit = client.get(f"/api/v1/search?q={grids[2].code}", headers=token).json["results"]
    assert [(r["type"], r["code"]) for r in hit] == [("grid", grids[2].code)]
    by_name = client.get("/api/v1/search?q=幸福小区", headers=token).json["results"]
    assert [(r["type"], r["code"]) for r in by_name] == [("building", buildings[2].code)]
    assert len(client.get("/api/v1/search?q=310101001001", headers=token).json["results"]) >= 5
    assert client.get("/api/v1/search?q=%25%25", headers=token).json["results"] == []  # % is literal
    assert client.get("/api/v1/search?q=x", headers=token).status_code == 400
