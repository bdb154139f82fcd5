"""Every list the CLI or the API cuts short says how many it left out."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from api import stream as stream_api
from api.listing import more_line
from data.io import import_file
from gis.cadres.coverage import coverage_of
from gis.cases import workflow
from gis.cases.open311 import find_requests
from gis.core.db import make_engine, session_factory
from gis.core.errors import InvalidInput
from gis.core.models import User
from gis.core.users import create_user
from tests.api.test_cli import gridgov
from tests.api.test_stream import Stream, _insert
from tests.conftest import auth
from tests.factories import cadre, feature_collection, four_grids, rect, two_grids
from webmap import catalog

DISTRICT = "350209"


def _token(url: str, role: str) -> str:
    engine = make_engine(url)
    with session_factory(engine)() as s:
        _, token = create_user(s, f"{role}-omitted", role)
        s.commit()
    engine.dispose()
    return token


def _scalar(url: str, sql: str, **params):
    engine = make_engine(url)
    with engine.connect() as conn:
        value = conn.execute(text(sql), params).scalar()
    engine.dispose()
    return value


def _block(lines: list[str], head: str) -> list[str]:
    """The indented lines listed under the line starting with `head`."""
    start = next(i for i, line in enumerate(lines) if line.startswith(head))
    out = []
    for line in lines[start + 1:]:
        if not line.startswith("    "):
            break
        out.append(line)
    return out


# -- the command line -------------------------------------------------------------------------
def test_gridgov_coverage_says_how_many_grids_it_left_out(demo_db_url):
    engine = make_engine(demo_db_url)
    with session_factory(engine)() as s:
        full = coverage_of(s, DISTRICT).to_dict()
    engine.dispose()
    shared, uncovered = len(full["shared_grids"]), len(full["uncovered_grids"])
    assert shared > 20, "the demo district should share more grids than the command lists"
    done = gridgov(demo_db_url, "coverage", DISTRICT)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    listed = _block(lines, "  " + catalog.t("cli.coverage.shared", n=shared))
    assert len(listed) == 21 and listed[-1] == more_line(shared - 20, "    ")
    assert listed[-1].strip() == catalog.t("cli.more", n=f"{shared - 20:,}")
    gaps = _block(lines, "  " + catalog.t("cli.coverage.uncovered", n=uncovered))
    assert len(gaps) == min(uncovered, 20) + (uncovered > 20)
    more = [line for line in gaps if line.strip().startswith("…")]
    assert more == ([more_line(uncovered - 20, "    ")] if uncovered > 20 else [])


def test_gridgov_grids_check_says_how_many_problems_it_left_out(demo_db_url):
    full = json.loads(gridgov(demo_db_url, "grids", "check", DISTRICT, "--json", "--limit", "100000").stdout)
    warnings = len(full["warnings"])
    assert warnings > 3 and full["warnings_omitted"] == 0
    cut = json.loads(gridgov(demo_db_url, "grids", "check", DISTRICT, "--json", "--limit", "3").stdout)
    assert len(cut["warnings"]) == 3 and cut["warnings_omitted"] == warnings - 3
    assert cut["errors_omitted"] == max(len(full["errors"]) - 3, 0)
    lines = gridgov(demo_db_url, "grids", "check", DISTRICT, "--limit", "3").stdout.splitlines()
    shown = [line for line in lines if line.startswith(catalog.t("cli.grids.warning", detail=""))]
    assert len(shown) == 3 and lines[lines.index(shown[-1]) + 1] == more_line(warnings - 3)


def test_a_command_error_lists_fifty_problems_and_counts_every_one_left_out(db_url, session, tmp_path, client,
                                                                           make_user):
    _, west, _ = two_grids(session)
    cadre(session, "C1")
    session.commit()
    rows = 260  # each with one problem, no role; the domain lists 200 of them, the command 50
    path = tmp_path / "contracts.csv"
    path.write_text("cadre_code,grid_code,role,valid_from,valid_to\n" + f"C1,{west.code},,,\n" * rows,
                    encoding="utf-8")
    done = gridgov(db_url, "contract", "import", str(path))
    assert done.returncode == 1
    err = done.stderr.splitlines()
    assert sum(line.startswith("  - ") for line in err) == 50
    assert err[-1] == more_line(rows - 50, "  ")
    # The API's problem lists what the domain keeps and counts the rest beside it.
    answer = client.post("/api/v1/contracts/import", data=path.read_bytes(), content_type="text/csv",
                         headers=auth(make_user("planner")))
    assert answer.status_code == 400
    assert len(answer.json["errors"]) == 200 and answer.json["errors_omitted"] == rows - 200


def test_a_duplicate_key_on_many_rows_names_ten_and_counts_the_rest(session, tmp_path):
    path = tmp_path / "areas.geojson"
    path.write_text(feature_collection([({"level": "district", "code": "999999", "name": f"区{i}", "parent_code": ""},
                                         rect(0, 0, 10, 10)) for i in range(13)]))
    with pytest.raises(InvalidInput) as caught:
        import_file(session, "areas", path)
    assert "row 13: duplicate code 999999: rows 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 3 more all have it" in \
        caught.value.extra["errors"]


# -- the API ----------------------------------------------------------------------------------
def test_the_events_list_says_how_many_events_come_after_each_page(demo_app, demo_db_url):
    token = _token(demo_db_url, "commander")
    grid = _scalar(demo_db_url, "SELECT g.code FROM events e JOIN grids g ON g.id = e.grid_id "
                                "GROUP BY g.code HAVING count(*) BETWEEN 4 AND 12 ORDER BY g.code LIMIT 1")
    total = _scalar(demo_db_url, "SELECT count(*) FROM events e JOIN grids g ON g.id = e.grid_id "
                                 "WHERE g.code = :c", c=grid)
    client = demo_app.test_client()
    url, seen, omitted = f"/api/v1/events?grid={grid}&limit=3", 0, []
    while url:
        page = client.get(url, headers=auth(token)).json
        seen += len(page["events"])
        omitted.append(page["events_omitted"])
        url = page["next"]
    assert seen == total and omitted == [max(total - 3 * (i + 1), 0) for i in range(len(omitted))]
    everything = client.get("/api/v1/events?limit=500", headers=auth(token)).json
    assert everything["events_omitted"] == _scalar(demo_db_url, "SELECT count(*) FROM events") - 500


def test_search_says_how_many_places_it_left_out(demo_app, demo_db_url):
    q = DISTRICT + "001"
    matched = _scalar(demo_db_url, """
        SELECT (SELECT count(*) FROM grids WHERE valid_to IS NULL AND (code LIKE :p OR name LIKE :n))
             + (SELECT count(*) FROM admin_areas WHERE code LIKE :p OR name LIKE :n)
             + (SELECT count(*) FROM buildings WHERE code LIKE :p OR name LIKE :n)""", p=q + "%", n=f"%{q}%")
    found = demo_app.test_client().get(f"/api/v1/search?q={q}", headers=auth(_token(demo_db_url, "viewer"))).json
    assert len(found["results"]) == 10 and found["results_omitted"] == matched - 10 > 0
    building = _scalar(demo_db_url, "SELECT code FROM buildings ORDER BY code DESC LIMIT 1")
    one = demo_app.test_client().get(f"/api/v1/search?q={building}", headers=auth(_token(demo_db_url, "planner"))).json
    assert [r["code"] for r in one["results"]] == [building] and one["results_omitted"] == 0


def test_grid_edits_say_how_many_older_edits_were_left_out(demo_app, demo_db_url):
    engine = make_engine(demo_db_url)
    with engine.begin() as conn:
        community = conn.execute(text(
            "SELECT id FROM admin_areas WHERE level = 'community' ORDER BY code LIMIT 1")).scalar()
        for minutes in range(5):
            conn.execute(text("INSERT INTO grid_edits (op, community_id, at, note, request, impact) VALUES "
                              "('reshape', :c, now() - make_interval(mins => :m), '测试', '{}', '{}')"),
                         {"c": community, "m": minutes})
    engine.dispose()
    client = demo_app.test_client()
    token = _token(demo_db_url, "planner")
    cut = client.get("/api/v1/grid-edits?limit=2", headers=auth(token)).json
    assert len(cut["edits"]) == 2 and cut["edits_omitted"] == 3
    assert client.get("/api/v1/grid-edits", headers=auth(token)).json["edits_omitted"] == 0


def test_overdue_cases_say_how_many_matched_and_how_many_are_listed(demo_app, demo_db_url):
    engine = make_engine(demo_db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE events SET deadline_at = now() - interval '2 hours' WHERE id IN "
                          "(SELECT id FROM events WHERE status = ANY(:open) ORDER BY id LIMIT 7)"),
                     {"open": list(workflow.OPEN_STATUSES)})
        conn.execute(text("UPDATE events SET deadline_at = now() + interval '2 hours' WHERE deadline_at IS NULL"))
    engine.dispose()
    token = _token(demo_db_url, "commander")
    cut = demo_app.test_client().get("/api/v1/cases/overdue?limit=3", headers=auth(token)).json
    assert len(cut["features"]) == 3 and cut["numberReturned"] == 3 and cut["numberMatched"] == 7


def test_to_do_lists_say_how_many_cases_they_left_out(demo_session, demo_app, demo_db_url):
    commander = User(name="omitted-boss", role="commander")
    demo_session.add(commander)
    demo_session.commit()
    reported = demo_session.scalar(text("SELECT count(*) FROM events WHERE status = 'reported'"))
    assert reported > 3
    lists, omitted = workflow.todo(demo_session, commander, limit=3)
    assert len(lists["to_register"]) == 3 and omitted["to_register"] == reported - 3
    answer = demo_app.test_client().get("/api/v1/cases/mine", headers=auth(_token(demo_db_url, "commander"))).json
    assert answer["to_register_omitted"] == max(reported - 200, 0)
    assert len(answer["to_register"]) == min(reported, 200)


def test_open311_says_in_a_header_how_many_requests_it_left_out(demo_session, demo_app, demo_db_url):
    # Staff's view: the demo's reports were all filed by staff, which the public never lists.
    everything, none_left = find_requests(demo_session, staff=True, limit=1_000_000)
    assert none_left == 0 and len(everything) > 5
    first, omitted = find_requests(demo_session, staff=True, limit=5)
    assert first == everything[:5] and omitted == len(everything) - 5
    answer = demo_app.test_client().get("/open311/v2/requests.json",
                                        query_string={"api_key": _token(demo_db_url, "commander")})
    assert answer.status_code == 200
    assert int(answer.headers["X-Omitted-Count"]) == len(everything) - len(answer.json)
    assert len(answer.json) == min(len(everything), 1000)


def test_a_stream_that_missed_more_than_it_replays_is_told_how_many_and_to_reload(
        live_server, make_user, session, engine, monkeypatch):
    monkeypatch.setattr(stream_api, "REPLAY_MAX", 2)
    _, grids, _, events = four_grids(session)
    session.commit()
    for i in range(5):
        _insert(engine, grids[1].id, f"断线期间 {i}")
    stream = Stream(live_server, make_user("commander"), last_id=events[-1].id)
    try:
        assert stream.wait(lambda m: any(e == "reload" for e, _, _ in m))
        event, _, data = stream.messages[0]
        assert event == "reload" and json.loads(data)["missed"] == 5
        assert not any(e == "insert" for e, _, _ in stream.messages)
    finally:
        stream.close()


def test_more_line_says_the_count_in_the_command_lines_language(monkeypatch):
    monkeypatch.delenv("GRIDGOV_LANG", raising=False)
    assert more_line(232) == catalog.t("cli.more", n="232") and "232" in more_line(232)
    monkeypatch.setenv("GRIDGOV_LANG", "en")
    assert more_line(1234, "  ") == "  " + catalog.t("cli.more", "en", n="1,234") == "  … and 1,234 more"
