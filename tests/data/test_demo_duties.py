"""The demo district's departments and responsibility list: every category has an owner at every level in
every street, and a demo report gets the owner the list names, its member handles it, the league shows it."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from data.demo_history import simulate
from gis.cases import workflow
from gis.cases.stats import department_league
from gis.core.models import Department, Event
from gis.duties import gaps, owner_of_event, set_member
from tests.factories import person


def test_the_demo_list_leaves_no_category_without_an_owner(demo_session):
    names = set(demo_session.scalars(select(Department.name)))
    assert {"城管执法局", "市场监管局", "住建局", "水务局"} <= names
    assert any(n.endswith("派出所") for n in names) and any(n.endswith("居委会") for n in names)
    assert gaps(demo_session) == []


def test_a_demo_report_goes_to_its_owner_and_back_into_the_league(demo_session):
    session = demo_session
    case = session.scalar(select(Event).where(Event.status == "reported", Event.category.like("01001"))
                          .order_by(Event.id).limit(1)) or \
        session.scalar(select(Event).where(Event.status == "reported").order_by(Event.id).limit(1))
    owner = owner_of_event(session, case)
    assert owner is not None and owner.code.startswith("SQ")  # small matters stay in the community
    commander, _ = person(session, "commander", "demo-dispatcher")
    checker, _ = person(session, "commander", "demo-checker")
    member, _ = person(session, "department", "demo-committee")
    set_member(session, member, session.get(Department, owner.department_id))
    session.commit()
    workflow.apply_move(session, case.id, commander, "register")
    workflow.apply_move(session, case.id, commander, "dispatch")
    assert [c["id"] for c in workflow.todo(session, member)[0]["to_handle"]] == [case.id]
    workflow.apply_move(session, case.id, member, "handle", note="已处置")
    workflow.apply_move(session, case.id, checker, "verify")
    session.commit()
    league = department_league(session, date_from=dt.date(2000, 1, 1), min_count=1)
    assert any(r["code"] == owner.code and r["dispatched"] >= 1 for r in league["rows"])


def test_the_demo_histories_dispatch_to_the_departments_the_list_names(demo_session):
    session = demo_session
    simulate(session, now=dt.datetime.now(dt.UTC))
    session.commit()
    dispatched = session.scalars(select(Event).where(Event.dispatched_at.is_not(None)).limit(50)).all()
    assert dispatched and all(e.owner_department_id == owner_of_event(session, e, at=e.reported_at).department_id
                              for e in dispatched)
    league = department_league(session, date_from=dt.date(2000, 1, 1))
    assert sum(r["dispatched"] for r in league["rows"]) == session.scalar(
        select(func.count()).select_from(Event).where(Event.dispatched_at.is_not(None)))
