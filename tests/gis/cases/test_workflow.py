"""The case state machine: every move by every role, the rules beside the table, the rework loop, merges."""
from __future__ import annotations

import datetime as dt
import threading
import time
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from gis.cases import workflow
from gis.core.db import session_factory
from gis.core.errors import Conflict, Forbidden, InvalidInput
from gis.core.models import EVENT_STATUSES, ROLES, Event, EventMove
from gis.duties import create_department, set_member
from tests.factories import grid, hierarchy, person, rect, reported_event

BJ = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def town(session):
    """Grid A (workers h = the handler, and w2) and grid B (worker wx), and one user of every other role."""
    _, _, community = hierarchy(session)
    a = grid(session, community, 1, rect(0, 0, 200, 200))
    b = grid(session, community, 2, rect(200, 0, 400, 200))
    users = {name: person(session, role, name, grids=codes)[0] for name, role, codes in [
        ("admin", "admin", ()), ("planner", "planner", ()), ("commander", "commander", ()),
        ("viewer", "viewer", ()), ("h", "worker", (a.code,)), ("w2", "worker", (a.code,)),
        ("wx", "worker", (b.code,)), ("boss", "commander", ()), ("department", "department", ())]}
    owner = create_department(session, "CGJ", "城管执法局", "district")  # issue 25: cases go to it below
    set_member(session, users["department"], owner)
    session.commit()
    return SimpleNamespace(a=a, b=b, community=community, owner=owner, **users)


def case_in(session, town, status: str, *, level: str = "grid", g=None, x: float = 50) -> Event:
    """A case put straight into `status` (deadline started, dispatched to h where that applies)."""
    target = case_in(session, town, "registered") if status == "merged" else None
    e = reported_event(session, grid=g or town.a, x=x, reported_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    workflow.open_case(session, e)
    now = dt.datetime.now(dt.UTC)
    e.status, e.level = status, level
    if status != "reported":
        e.registered_at = now
    if status in ("dispatched", "in_progress", "handled", "closed"):
        e.handler_id, e.dispatched_at, e.owner_department_id = town.h.id, now, town.owner.id
    if target is not None:
        e.merged_into_id = target.id
    session.commit()
    return e


def actor(town, role: str, move: str):
    """The user of `role` who would naturally try `move`: a worker is the handler only where that matters."""
    if role == "worker":
        return town.h if move in ("start", "handle") else town.w2
    return getattr(town, role)


def params(session, town, move: str) -> dict:
    return {
        "merge": {"target": None},  # filled in by the caller (needs a second case)
        "dispatch": {"handler": "h"},
        "handle": {"note": "已清理 cleaned up"},
        "reject": {"note": "重复来电 not a case"},
        "rework": {"note": "未清理干净 not clean"},
        "postpone": {"note": "需要协调 needs another department", "extra_hours": 8},
        "return": {"note": "不属本部门 not ours"},
        "note": {"note": "现场照片", "photo_ref": "https://files.example.org/p/1.jpg"},
    }.get(move, {})


ROWS = [pytest.param(t, id=f"{t.from_status}-{t.move}") for t in workflow.TRANSITIONS]


@pytest.mark.parametrize("row", ROWS)
def test_every_move_by_every_role(session, town, row):
    for role in ROLES:
        level = "community" if row.move == "deescalate" else "grid"
        e = case_in(session, town, row.from_status, level=level)
        kwargs = params(session, town, row.move)
        if row.move == "merge":
            kwargs["target"] = case_in(session, town, "registered").id
        user = actor(town, role, row.move)
        # A department member acts only on cases dispatched to its department (the rule beside the table).
        allowed = role == "admin" or role in row.roles and (role != "department" or e.owner_department_id is not None)
        if allowed:
            record = workflow.apply_move(session, e.id, user, row.move, **kwargs)
            session.commit()
            assert (record.from_status, record.to_status) == (row.from_status, row.to_status), role
            assert session.get(Event, e.id).status == row.to_status
            assert record.actor_id == user.id
        else:
            with pytest.raises(Forbidden):
                workflow.apply_move(session, e.id, user, row.move, **kwargs)
            session.rollback()
            assert session.get(Event, e.id).status == row.from_status
            assert session.scalar(select(EventMove.id).where(EventMove.event_id == e.id,
                                                             EventMove.move == row.move)) is None


def test_moves_not_in_the_table_are_refused_in_every_state(session, town):
    refused = 0
    for status in EVENT_STATUSES:
        e = case_in(session, town, status)
        for move in workflow.USER_MOVES:
            if workflow.transition(status, move):
                continue
            with pytest.raises(Conflict) as err:
                workflow.apply_move(session, e.id, town.admin, move, note="x", target=1, handler="h", extra_hours=1)
            session.rollback()
            assert err.value.extra["case_status"] == status
            refused += 1
    # 8 states × 13 user moves, minus the 29 rows of the table.
    assert refused == len(EVENT_STATUSES) * len(workflow.USER_MOVES) - len(workflow.TRANSITIONS) == 75


def test_unknown_move_is_bad_input(session, town):
    e = case_in(session, town, "reported")
    with pytest.raises(InvalidInput, match="Unknown move"):
        workflow.apply_move(session, e.id, town.admin, "teleport")
    with pytest.raises(InvalidInput):
        workflow.apply_move(session, e.id, town.admin, "overdue")  # a system move, not a user's


def test_the_handler_may_not_verify_their_own_work(session, town):
    e = case_in(session, town, "handled")
    with pytest.raises(Forbidden, match="Verification"):
        workflow.apply_move(session, e.id, town.h, "verify")
    session.rollback()
    # A commander who reported the work done on the handler's behalf may not verify it either.
    e2 = case_in(session, town, "in_progress")
    workflow.apply_move(session, e2.id, town.commander, "handle", note="代为反馈")
    session.commit()
    with pytest.raises(Forbidden, match="Verification"):
        workflow.apply_move(session, e2.id, town.commander, "verify")
    session.rollback()
    workflow.apply_move(session, e2.id, town.boss, "verify")
    assert session.get(Event, e2.id).status == "closed"


def test_a_worker_acts_only_in_their_grids_and_only_as_handler(session, town):
    e = case_in(session, town, "dispatched")
    with pytest.raises(Forbidden, match="not one of your grids"):
        workflow.apply_move(session, e.id, town.wx, "note", note="不是我的")
    session.rollback()
    with pytest.raises(Forbidden, match="handler"):
        workflow.apply_move(session, e.id, town.w2, "start")
    session.rollback()
    assert workflow.allowed_moves(session, e, town.h) == ["start", "handle", "escalate", "note"]
    assert workflow.allowed_moves(session, e, town.w2) == ["escalate", "note"]
    assert workflow.allowed_moves(session, e, town.wx) == []
    assert workflow.allowed_moves(session, e, town.viewer) == []


def test_reasons_and_reports_are_required(session, town):
    for status, move in [("reported", "reject"), ("handled", "rework"), ("dispatched", "postpone"),
                         ("in_progress", "handle")]:
        e = case_in(session, town, status)
        user = town.h if move == "handle" else town.boss
        with pytest.raises(InvalidInput) as err:
            workflow.apply_move(session, e.id, user, move, extra_hours=8 if move == "postpone" else None)
        session.rollback()
        assert err.value.extra["parameter"] == "note"


def test_the_rework_loop(session, town):
    t0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=BJ)
    e = reported_event(session, grid=town.a, reporter=town.w2, reported_at=t0)
    session.commit()
    steps = [(town.commander, "register", {}), (town.commander, "dispatch", {"handler": "h"}),
             (town.h, "start", {}), (town.h, "handle", {"note": "清理完毕"}),
             (town.w2, "rework", {"note": "仍有垃圾"}), (town.h, "handle", {"note": "再次清理"}),
             (town.w2, "rework", {"note": "还是不干净"}), (town.h, "start", {}),
             (town.h, "handle", {"note": "彻底清理", "photo_ref": "/media/after.jpg"}), (town.w2, "verify", {})]
    for minutes, (user, move, kwargs) in enumerate(steps, start=1):
        workflow.apply_move(session, e.id, user, move, at=t0 + dt.timedelta(minutes=10 * minutes), **kwargs)
    session.commit()
    case = session.get(Event, e.id)
    assert case.status == "closed" and case.rework_count == 2
    assert case.closed_at == t0 + dt.timedelta(minutes=100)
    assert case.handling_work_hours == pytest.approx(100 / 60)  # 09:00 → 10:40 on a Monday
    line = workflow.timeline(session, e.id, role="admin")
    assert [m["move"] for m in line] == ["report", "register", "dispatch", "start", "handle", "rework", "handle",
                                         "rework", "start", "handle", "verify"]
    assert [m["to_status"] for m in line if m["move"] == "rework"] == ["dispatched", "dispatched"]
    assert line[5]["note"] == "仍有垃圾" and line[5]["actor"]["name"] == "w2"
    assert line[9]["photo_ref"] == "/media/after.jpg"
    assert line[2]["handler"] == "h"


def test_postponement_moves_the_deadline_and_clears_the_overdue_flag(session, town):
    e = case_in(session, town, "dispatched")
    e.overdue_since = e.deadline_at
    session.commit()
    first = e.deadline_at
    with pytest.raises(InvalidInput, match="later"):
        workflow.apply_move(session, e.id, town.boss, "postpone", note="x", deadline=first.isoformat())
    session.rollback()
    with pytest.raises(InvalidInput, match="either"):
        workflow.apply_move(session, e.id, town.boss, "postpone", note="x")
    session.rollback()
    later = (first + dt.timedelta(days=3)).isoformat()
    record = workflow.apply_move(session, e.id, town.boss, "postpone", note="等待配件", deadline=later)
    session.commit()
    case = session.get(Event, e.id)
    assert case.deadline_at == first + dt.timedelta(days=3) and case.first_deadline_at == first
    assert case.postponed_count == 1 and case.overdue_since is None and case.status == "dispatched"
    assert dt.datetime.fromisoformat(record.detail["previous_deadline"]) == first


def test_escalation_walks_the_levels_and_stops_at_the_ends(session, town):
    e = case_in(session, town, "registered")
    for expected in ("community", "street", "district"):
        workflow.apply_move(session, e.id, town.h, "escalate", note="处理不了")
        assert session.get(Event, e.id).level == expected
    session.commit()
    with pytest.raises(Conflict, match="district"):
        workflow.apply_move(session, e.id, town.commander, "escalate")
    session.rollback()
    for expected in ("street", "community", "grid"):
        workflow.apply_move(session, e.id, town.commander, "deescalate")
        assert session.get(Event, e.id).level == expected
    with pytest.raises(Conflict, match="grid"):
        workflow.apply_move(session, e.id, town.commander, "deescalate")


def test_dispatch_picks_the_grids_only_worker_or_asks(session, town):
    e = case_in(session, town, "registered")
    with pytest.raises(InvalidInput, match="several workers"):
        workflow.apply_move(session, e.id, town.commander, "dispatch")
    session.rollback()
    with pytest.raises(InvalidInput, match="not a worker of this event's grid"):
        workflow.apply_move(session, e.id, town.commander, "dispatch", handler="wx")
    session.rollback()
    other = case_in(session, town, "registered", g=town.b, x=300)
    record = workflow.apply_move(session, other.id, town.commander, "dispatch")
    assert record.handler_id == town.wx.id
    # Escalated beyond the grid, a case may go to any worker or commander.
    e.level = "street"
    session.commit()
    assert workflow.apply_move(session, e.id, town.commander, "dispatch", handler="wx").handler_id == town.wx.id


def test_registration_may_correct_the_category_and_its_clock(session, town):
    e = case_in(session, town, "reported")
    assert e.category == "16001"  # 其他事件: 24 h at grid level
    workflow.apply_move(session, e.id, town.commander, "register", category="15003")  # 燃气管道泄漏: 1 h, district
    session.commit()
    case = session.get(Event, e.id)
    assert (case.category, case.level) == ("15003", "district")
    cal = workflow.load_calendar(session)
    assert case.deadline_at == case.first_deadline_at == cal.add_working_hours(case.reported_at, 1)
    with pytest.raises(InvalidInput, match="category"):
        workflow.apply_move(session, case_in(session, town, "reported").id, town.commander, "register",
                            category="99999")


def test_merging_keeps_both_reports_and_one_case(session, town):
    case = case_in(session, town, "registered")
    first = case_in(session, town, "reported", x=55)
    second = case_in(session, town, "reported", x=60)
    workflow.apply_move(session, first.id, town.commander, "merge", target=second.id)
    workflow.apply_move(session, second.id, town.w2, "merge", target=case.id)  # a report that had absorbed one
    session.commit()
    rows = {e.id: e for e in session.scalars(select(Event).where(Event.id.in_([case.id, first.id, second.id])))}
    assert rows[first.id].status == rows[second.id].status == "merged"
    # Flat: both point at the surviving case, which the timeline and summary show.
    assert rows[first.id].merged_into_id == rows[second.id].merged_into_id == case.id
    summary = workflow.case_summary(session, rows[case.id], role="admin")
    assert summary["merged_reports"] == sorted([first.id, second.id])
    merges = [m for m in workflow.timeline(session, case.id, role="admin") if m["move"] == "merge"]
    assert merges[0]["detail"] == {"report": second.id, "also": [first.id]}
    with pytest.raises(Conflict, match="open case"):
        closed = case_in(session, town, "closed")
        workflow.apply_move(session, case_in(session, town, "reported").id, town.commander, "merge", target=closed.id)
    session.rollback()
    with pytest.raises(Forbidden, match="your grids"):
        there = case_in(session, town, "registered", g=town.b, x=300)
        workflow.apply_move(session, case_in(session, town, "reported").id, town.w2, "merge", target=there.id)


def test_likely_duplicates_same_category_within_50_m_and_24_h(session, town):
    from tests.factories import lonlat

    t = dt.datetime(2026, 11, 23, 10, 0, tzinfo=BJ)
    near = reported_event(session, grid=town.a, x=100, y=100, reported_at=t - dt.timedelta(hours=3))
    edge = reported_event(session, grid=town.a, x=148, y=100, reported_at=t - dt.timedelta(hours=23))  # 48 m, 23 h
    reported_event(session, grid=town.a, x=152, y=100, reported_at=t)  # 52 m: too far
    old = reported_event(session, grid=town.a, x=100, y=100, reported_at=t - dt.timedelta(hours=25))  # 25 h before t
    reported_event(session, grid=town.a, x=100, y=101, category="21001", reported_at=t)  # another category
    reported_event(session, grid=town.a, x=101, y=100, reported_at=t, status="closed")  # not open
    session.commit()
    lon, lat = lonlat(100, 100)
    found, omitted = workflow.find_duplicates(session, category="16001", lon=lon, lat=lat, at=t)
    assert [d["id"] for d in found] == [near.id, edge.id] and omitted == 0
    assert [d["distance_m"] for d in found] == [0.0, pytest.approx(48, abs=0.3)]
    # Cut to one, it says the other was left out.
    assert workflow.find_duplicates(session, category="16001", lon=lon, lat=lat, at=t, limit=1) == ([found[0]], 1)
    # From an existing report (at t − 3 h): not itself; the 25-hour-old one is now 22 h away in time.
    assert [d["id"] for d in workflow.duplicates_of(session, near.id)[0]] == [old.id, edge.id]


def test_two_people_moving_one_case_at_once_are_serialised(engine, session, town):
    e = case_in(session, town, "handled")
    factory = session_factory(engine)
    first, second = factory(), factory()
    outcome = {}

    def rework():
        try:
            workflow.apply_move(second, e.id, second.get(type(town.boss), town.boss.id), "rework", note="不行")
            second.commit()
            outcome["second"] = "done"
        except Conflict as exc:
            second.rollback()
            outcome["second"] = exc

    workflow.apply_move(first, e.id, first.get(type(town.w2), town.w2.id), "verify")  # holds the row lock
    thread = threading.Thread(target=rework)
    thread.start()
    time.sleep(0.3)
    assert thread.is_alive()  # waiting on the lock, not overwriting
    first.commit()
    thread.join(timeout=10)
    first.close(), second.close()
    assert isinstance(outcome["second"], Conflict) and outcome["second"].extra["case_status"] == "closed"
    session.expire_all()
    assert session.get(Event, e.id).status == "closed" and session.get(Event, e.id).rework_count == 0


def test_state_table_markdown_lists_every_row_and_the_workflow_page_shows_it():
    from gis.core.pgcluster import project_root

    table = workflow.state_table_markdown()
    assert table.count("\n") == len(workflow.TRANSITIONS) + 1
    assert "| handled | verify | closed | worker, commander | by someone other than the handler |" in table
    assert table in (project_root() / "docs" / "workflow.md").read_text(encoding="utf-8")
