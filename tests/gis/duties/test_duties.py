"""Departments and the responsibility list on a hand-built district: the owner a case gets, the list's check,
the import (all or nothing, GB18030), and a department handling a case from its queue to the league table."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from gis.cases import workflow
from gis.cases.stats import department_league
from gis.core.errors import Forbidden, InvalidInput
from gis.core.models import Event, EventMove, Responsibility
from gis.duties import (
    create_department,
    decode_csv,
    departments_csv,
    gaps,
    import_departments,
    import_responsibilities,
    owner_of_event,
    set_member,
)
from tests.factories import area, grid, person, rect, reported_event

DAY = dt.date(2020, 1, 1)


@pytest.fixture
def town(session):
    """A district of two streets (west, east), one community each, one grid each; departments; members."""
    district = area(session, "district", "310101", rect(0, 0, 400, 200), name="测试区")
    west = area(session, "street", "310101001", rect(0, 0, 200, 200), name="西街道", parent=district)
    east = area(session, "street", "310101002", rect(200, 0, 400, 200), name="东街道", parent=district)
    cw = area(session, "community", "310101001001", rect(0, 0, 200, 200), name="西社区", parent=west)
    ce = area(session, "community", "310101002001", rect(200, 0, 400, 200), name="东社区", parent=east)
    gw, ge = grid(session, cw, 1, rect(0, 0, 200, 200)), grid(session, ce, 1, rect(200, 0, 400, 200))
    deps = {"cg": create_department(session, "CGJ", "城管执法局", "district"),
            "sw": create_department(session, "SWJ", "水务局", "district"),
            "west": create_department(session, "JD001", "西街道办事处", "street", area_code="310101001"),
            "wcom": create_department(session, "SQ001001", "西社区居委会", "community", area_code="310101001001")}
    member, _ = person(session, "department", "cg-member")
    set_member(session, member, deps["cg"])
    west_member, _ = person(session, "department", "west-member")
    set_member(session, west_member, deps["west"])
    commander, _ = person(session, "commander", "boss")
    verifier, _ = person(session, "commander", "checker")
    session.commit()
    return {"west": west, "east": east, "gw": gw, "ge": ge, "deps": deps, "member": member,
            "west_member": west_member, "commander": commander, "verifier": verifier}


def _row(session, owner, *, category=None, major=None, level="grid", area_obj=None, co=(), hours=None):
    session.add(Responsibility(category=category, major_code=major, level=level,
                               area_id=area_obj.id if area_obj else None, owner_id=owner.id,
                               co_ids=[d.id for d in co], time_limit_hours=hours, valid_from=DAY))
    session.flush()


def test_the_most_specific_row_owns_the_case(session, town):
    deps = town["deps"]
    _row(session, deps["cg"], major="01")  # 公用设施, everywhere
    _row(session, deps["west"], major="01", area_obj=town["west"])  # 公用设施 in the west street
    _row(session, deps["sw"], category="01002", co=[deps["cg"]])  # 污水井盖, everywhere
    _row(session, deps["wcom"], category="01002", area_obj=session.get(type(town["west"]), town["gw"].community_id))
    west_cover = reported_event(session, grid=town["gw"], x=50, category="01001")
    east_cover = reported_event(session, grid=town["ge"], x=250, category="01001")
    west_sewer = reported_event(session, grid=town["gw"], x=60, category="01002")
    east_sewer = reported_event(session, grid=town["ge"], x=260, category="01002")
    assert owner_of_event(session, west_cover).code == "JD001"  # an area over everywhere
    assert owner_of_event(session, east_cover).code == "CGJ"
    assert owner_of_event(session, west_sewer).code == "SQ001001"  # category over major, smaller area wins
    east = owner_of_event(session, east_sewer)
    assert east.code == "SWJ" and east.co_ids == (deps["cg"].id,)
    east_cover.level = "district"
    assert owner_of_event(session, east_cover) is None  # no row at district level


def test_the_check_reports_a_category_without_an_owner_in_a_street(session, town):
    deps = town["deps"]
    _row(session, deps["cg"], major="01")
    _row(session, deps["west"], category="02001", area_obj=town["west"])
    found = gaps(session, levels=("grid",))
    missing = {(g.category, g.street) for g in found}
    assert ("02001", "310101002") in missing  # owned in the west street only
    assert ("02001", "310101001") not in missing
    assert not any(g.category.startswith("01") for g in found)  # the major class covers its categories


def test_dispatch_by_the_list_handled_from_the_queue_and_ranked(session, town):
    deps = town["deps"]
    _row(session, deps["cg"], major="01", co=[deps["sw"]], hours=8)
    case = reported_event(session, grid=town["ge"], x=250, category="01001", title="井盖缺失")
    session.commit()
    register = workflow.apply_move(session, case.id, town["commander"], "register")
    assert register.detail["proposed_owner"]["code"] == "CGJ"
    summary = workflow.case_summary(session, case, role="commander")
    assert summary["proposed_owner"]["code"] == "CGJ" and summary["co_departments"][0]["code"] == "SWJ"
    workflow.apply_move(session, case.id, town["commander"], "dispatch")  # to the proposed owner
    assert case.owner_department_id == deps["cg"].id and case.handler_id is None
    queue, _ = workflow.todo(session, town["member"])
    assert [c["id"] for c in queue["to_handle"]] == [case.id]
    assert workflow.todo(session, town["west_member"])[0]["to_handle"] == []
    with pytest.raises(Forbidden):
        workflow.apply_move(session, case.id, town["west_member"], "start")
    workflow.apply_move(session, case.id, town["member"], "start")
    workflow.apply_move(session, case.id, town["member"], "handle", note="已补装")
    workflow.apply_move(session, case.id, town["verifier"], "verify")
    session.commit()
    league = department_league(session, date_from=dt.date(2000, 1, 1), min_count=1)
    row = next(r for r in league["rows"] if r["code"] == "CGJ")
    assert (row["dispatched"], row["handled_on_time"], row["rank"]) == (1, 1, 1)
    assert row["on_time_handling_ratio"] == 1.0 and row["return_ratio"] == 0.0


def test_a_department_sends_a_case_back_with_a_reason_and_it_is_counted(session, town):
    deps = town["deps"]
    _row(session, deps["cg"], major="01")
    case = reported_event(session, grid=town["ge"], x=250, category="01001")
    session.commit()
    workflow.apply_move(session, case.id, town["commander"], "register")
    workflow.apply_move(session, case.id, town["commander"], "dispatch", department="CGJ")
    with pytest.raises(InvalidInput):
        workflow.apply_move(session, case.id, town["member"], "return")
    workflow.apply_move(session, case.id, town["member"], "return", note="属水务局管辖")
    assert (case.status, case.owner_department_id) == ("registered", None)
    assert [c["id"] for c in workflow.todo(session, town["commander"])[0]["returned"]] == [case.id]
    workflow.apply_move(session, case.id, town["commander"], "dispatch", department="SWJ")
    session.commit()
    returns = session.scalar(select(func.count()).select_from(EventMove)
                             .where(EventMove.move == "return", EventMove.department_id == deps["cg"].id))
    assert returns == 1
    league = department_league(session, date_from=dt.date(2000, 1, 1), min_count=1, rank_by="return_ratio")
    cg = next(r for r in league["rows"] if r["code"] == "CGJ")
    assert (cg["returned"], cg["received"], cg["return_ratio"]) == (1, 1, 1.0)


def test_escalation_re_proposes_the_owner_at_the_new_level(session, town):
    deps = town["deps"]
    _row(session, deps["wcom"], major="01", level="grid")
    _row(session, deps["west"], major="01", level="community")
    case = reported_event(session, grid=town["gw"], x=50, category="01001")
    session.commit()
    workflow.apply_move(session, case.id, town["commander"], "register")
    escalated = workflow.apply_move(session, case.id, town["commander"], "escalate")
    assert escalated.detail["proposed_owner"]["code"] == "JD001"


def test_the_import_is_all_or_nothing_and_reads_gb18030(session, town):
    good = ("类别代码,大类代码,层级,区域代码,责任部门,协办部门,处置时限,生效日期,失效日期\n"
            ",01,网格,,CGJ,SWJ、JD001,12,2020-01-01,\n"
            "02001,,街道,310101001,JD001,,,2020-01-01,2030-01-01\n")
    report = import_responsibilities(session, decode_csv(good.encode("gb18030")))
    assert report.created == 2
    bad = good.replace("CGJ,", "NOPE,").replace("2020-01-01,2030", "2031-01-01,2030")
    with pytest.raises(InvalidInput) as refused:
        import_responsibilities(session, bad)
    problems = {(e["line"], e["column"]) for e in refused.value.extra["errors"]}
    assert problems == {(2, "owner"), (3, "valid_to")}
    with pytest.raises(InvalidInput):  # the same rows again overlap the stored ones
        import_responsibilities(session, good)
    assert session.scalar(select(func.count()).select_from(Responsibility)) == 2
    assert session.scalar(select(func.count()).select_from(Event)) == 0


def test_departments_export_and_import_back_all_or_nothing(session, town):
    exported = departments_csv(session)
    assert exported.splitlines()[0] == "code,name,level,area,contact"
    assert "JD001,西街道办事处,street,310101001" in exported
    with pytest.raises(InvalidInput) as refused:
        import_departments(session, "部门代码,部门名称,层级,服务区域\nPCS001,西派出所,街道,310101001\nCGJ,重复,区,\n")
    assert [(e["line"], e["column"]) for e in refused.value.extra["errors"]] == [(3, "code")]
    assert import_departments(session, decode_csv("部门代码,部门名称,层级,服务区域\nPCS001,西派出所,街道,310101001\n"
                                                  .encode("gb18030"))) == 1
    assert "PCS001,西派出所,street,310101001" in departments_csv(session)
