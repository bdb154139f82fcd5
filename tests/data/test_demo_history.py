"""Demo case histories follow the state table, stay in the past, and feed the statistics."""
from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import select, text

from data.demo_history import simulate
from gis.cases import stats, workflow
from gis.core.models import Cadre, Contract, Event, EventMove, User
from tests.factories import grid, hierarchy, rect, reported_event

NOW = dt.datetime(2026, 11, 26, 15, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
STATUSES = ("reported", "rejected", "registered", "dispatched", "in_progress", "handled", "closed")


def test_histories_follow_the_state_table(session):
    _, _, community = hierarchy(session)
    covered = grid(session, community, 1, rect(0, 0, 200, 200))
    bare = grid(session, community, 2, rect(200, 0, 400, 200))
    cadre = Cadre(code="GW001", name="王网格", type="网格员")
    session.add(cadre)
    session.flush()
    session.add(Contract(cadre_id=cadre.id, grid_code=covered.code, role="网格员", valid_from=dt.date(2025, 1, 1)))
    made = []
    for i in range(140):
        status = STATUSES[i % len(STATUSES)]
        g = covered if i % 2 else bare
        made.append(reported_event(session, grid=g, x=50 + (i % 2) * 200, status=status, category="11002",
                          reported_at=NOW - dt.timedelta(days=20 - i / 10)))
    session.commit()
    assert simulate(session, now=NOW) == 140
    session.commit()
    worker = session.scalar(select(User).where(User.name == "gwGW001"))
    assert worker.role == "worker" and session.get(Cadre, cadre.id).user_id == worker.id
    moves: dict[int, list[EventMove]] = {}
    for m in session.scalars(select(EventMove).order_by(EventMove.event_id, EventMove.at, EventMove.id)):
        moves.setdefault(m.event_id, []).append(m)
    kinds = Counter()
    for e in session.scalars(select(Event)):
        line = moves[e.id]
        assert line[0].move == "report" and line[0].at == e.reported_at
        assert e.first_deadline_at is not None and line[-1].to_status == e.status
        for before, after in zip(line, line[1:]):
            assert before.at < after.at <= NOW
            row = workflow.transition(after.from_status, after.move)
            assert row is not None and row.to_status == after.to_status, (e.id, after.move)
            assert before.to_status == after.from_status
        handlers = {m.actor_id for m in line if m.move == "handle"}
        assert not handlers & {m.actor_id for m in line if m.move in ("verify", "rework")}
        if e.handler_id is not None:
            assert e.handler_id == (worker.id if e.grid_id == covered.id else
                                    session.scalar(select(User.id).where(User.name == "dispatcher")))
        kinds.update(m.move for m in line)
    assert kinds["verify"] == 20 and kinds["reject"] == 20 and kinds["report"] == 140
    # Nothing to do a second time.
    assert simulate(session, now=NOW) == 0
    # The statistics see them: 100 registered (5 statuses × 20; not the reported nor the rejected ones).
    stats.refresh_dirty(session, now=NOW)
    report = stats.indicators(session, stats.StatsQuery(group="community", date_from=dt.date(2026, 11, 1),
                                                        date_to=dt.date(2026, 11, 30)))
    assert report.rows[0]["registered"] == 100 and report.rows[0]["closed_all"] == 20


def test_the_demo_district_opens_with_histories_counters_and_statistics(demo_db_url, monkeypatch, tmp_path):
    """What `gridgov run` does after loading the demo: users, then histories and one tick."""
    from api.cli.demo import ensure_demo_users as _ensure_demo_users
    from api.cli.workflow import demo_history
    from gis.core.db import make_engine, session_factory

    monkeypatch.setenv("GRIDGOV_VAR", str(tmp_path))
    engine = make_engine(demo_db_url)
    with session_factory(engine)() as s:
        _ensure_demo_users(s)
        s.commit()
    demo_history(engine)
    with session_factory(engine)() as s:
        without = s.scalar(select(Event.id).where(Event.first_deadline_at.is_(None)).limit(1))
        assert without is None
        # Cases dispatched in the demo worker's grids are dispatched to the demo worker.
        worker = s.scalar(select(User.id).where(User.name == "worker"))
        others = s.execute(text("""
            SELECT count(*) FROM events e JOIN grids g ON g.id = e.grid_id
            JOIN user_grids ug ON ug.grid_code = g.code AND ug.user_id = :w
            WHERE e.handler_id IS NOT NULL AND e.handler_id <> :w"""), {"w": worker}).scalar()
        assert others == 0
        assert s.scalar(select(Event.id).where(Event.handler_id == worker).limit(1)) is not None
        counters = stats.counters(s)
        assert counters["open"] > 0 and counters["overdue"] > 0
        assert 0 < counters["closure_ratio"] <= 1 and 0 < counters["on_time_closure_ratio"] <= counters["closure_ratio"]
        today = stats.local_today(s)
        streets = stats.indicators(s, stats.StatsQuery(group="street", date_from=today - dt.timedelta(days=120),
                                                       date_to=today)).rows
        registered = s.scalar(text("SELECT count(*) FROM events WHERE registered_at IS NOT NULL "
                                   "AND status NOT IN ('rejected', 'merged')"))
        assert registered > 1000 and sum(r["registered"] for r in streets) == registered
        assert len(streets) >= 3 and all(r["street"]["code"] for r in streets)  # demo events have their grids
    engine.dispose()
