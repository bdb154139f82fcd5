"""Contracts: create / change / end / import with validation, over gis, HTTP and the CLI."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from shapely import Polygon
from shapely.geometry import mapping
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from data.io import read_contract_file
from gis.cadres.contracts import (
    change_contract,
    contract_etag,
    create_contract,
    end_contract,
    import_contracts,
    list_contracts,
    rows_from_csv,
    rows_from_geojson,
    today,
)
from gis.cadres.coverage import cadre_load, coverage_of
from gis.core.errors import Conflict, InvalidGeometry, InvalidInput, NotFound, PreconditionFailed
from gis.core.models import AuditEntry, Contract
from tests.api.test_cli import gridgov, pieces
from tests.conftest import auth, problem
from tests.factories import bowtie, cadre, grid, hierarchy, lonlat, rect
from webmap import catalog


@pytest.fixture
def base(session):
    """Two 100 m grids, one retired grid, and cadres A (网格员, with a phone) and B (镇街领导)."""
    _, _, community = hierarchy(session, rect(0, 0, 300, 100))
    g1 = grid(session, community, 1, rect(0, 0, 100, 100))
    g2 = grid(session, community, 2, rect(100, 0, 200, 100))
    retired = grid(session, community, 3, rect(200, 0, 300, 100),
                   valid_to=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    cadre(session, "A", "网格员", phone="13800000001")
    cadre(session, "B", "镇街领导", phone="13800000002")
    session.commit()
    return {"g1": g1.code, "g2": g2.code, "retired": retired.code, "day": today(session)}


def _count(session) -> int:
    return session.scalar(select(func.count()).select_from(Contract))


def _geojson(geom) -> dict:
    return json.loads(json.dumps(mapping(geom)))


# -- gis ----------------------------------------------------------------------------------------
def test_create_grid_contract_starts_today_and_is_audited(session, base):
    made = create_contract(session, "A", grid_code=base["g1"], role="网格长", user_id=None)
    session.commit()
    assert (made.valid_from, made.valid_to, made.grid_code) == (base["day"], None, base["g1"])
    assert [c.id for c in list_contracts(session, cadre_code="A")] == [made.id]
    entry = session.scalar(select(AuditEntry).where(AuditEntry.entity == "contract"))
    assert (entry.action, entry.entity_id, entry.after["grid_code"]) == ("contract.create", str(made.id),
                                                                         base["g1"])


@pytest.mark.parametrize("kwargs,error,words", [
    ({"cadre_code": "NOBODY", "grid_code": "G1"}, InvalidInput, "unknown cadre_code"),
    ({"grid_code": "310101001001999"}, InvalidInput, "unknown grid_code"),
    ({"grid_code": "12345"}, InvalidInput, "15-digit"),
    ({"grid_code": "RETIRED"}, InvalidInput, "no version in force"),
    ({"grid_code": "G1", "role": ""}, InvalidInput, "role is missing"),
    ({"grid_code": "G1", "valid_from": "2025-03-01", "valid_to": "2025-03-01"}, InvalidInput, "must be after"),
    ({"grid_code": "G1", "valid_from": "01/03/2025"}, InvalidInput, "YYYY-MM-DD"),
    ({}, InvalidInput, "grid_code is missing"),
    ({"grid_code": "G1", "geometry": "POLY"}, InvalidInput, "not both"),
    ({"geometry": _geojson(bowtie())}, InvalidGeometry, "Self-intersection"),
    ({"geometry": {"type": "Point", "coordinates": [121.47, 31.23]}}, InvalidGeometry, "Point"),
    ({"geometry": {"type": "Polygon", "coordinates": [[[31.23, 121.47], [31.24, 121.47], [31.24, 121.48],
                                                        [31.23, 121.47]]]}}, InvalidGeometry, "swapped"),
    ({"geometry": _geojson(Polygon([(0, 0), (0.001, 0), (0.001, 0.001)]))}, InvalidInput, "overlaps no grid"),
])
def test_create_refuses_bad_contracts(session, base, kwargs, error, words):
    names = {"G1": base["g1"], "RETIRED": base["retired"], "POLY": _geojson(rect(0, 0, 50, 50))}
    args = {"cadre_code": "A", "role": "网格长"}
    args.update({k: names.get(v, v) if isinstance(v, str) else v for k, v in kwargs.items()})
    with pytest.raises(error) as caught:
        create_contract(session, args.pop("cadre_code"), **args)
    assert words in str(caught.value)
    session.rollback()
    assert _count(session) == 0


def test_a_cadre_holds_a_grid_once_at_a_time(session, base):
    create_contract(session, "A", grid_code=base["g1"], role="网格长", valid_from="2024-01-01",
                    valid_to="2025-01-01")
    session.commit()
    with pytest.raises(Conflict, match="already holds"):
        create_contract(session, "A", grid_code=base["g1"], role="网格长", valid_from="2024-06-01")
    session.rollback()
    # Back to back is fine (the range is half-open), and so is another cadre on the same grid.
    create_contract(session, "A", grid_code=base["g1"], role="网格长", valid_from="2025-01-01")
    create_contract(session, "B", grid_code=base["g1"], role="包片领导")
    session.commit()
    # The database itself refuses a second overlapping holding, whatever writes it.
    with pytest.raises(IntegrityError, match="ex_contracts_cadre_grid_dates"):
        session.execute(text("INSERT INTO contracts (cadre_id, grid_code, role, valid_from) "
                             "SELECT id, :g, 'x', DATE '2030-01-01' FROM cadres WHERE code = 'A'"),
                        {"g": base["g1"]})


def test_polygon_contract_is_stored_in_lon_lat_and_counts_by_fraction(session, base):
    made = create_contract(session, "A", geometry=_geojson(rect(0, 0, 25, 100)), role="包片")
    session.commit()
    assert made.grid_code is None
    assert cadre_load(session, "A").grids == pytest.approx(0.25, abs=1e-4)


def test_change_needs_the_current_etag(session, base):
    made = create_contract(session, "A", grid_code=base["g1"], role="网格长")
    session.commit()
    etag = contract_etag(made)
    changed = change_contract(session, made.id, {"role": "网格员", "valid_to": "2099-01-01"}, if_match=etag)
    session.commit()
    assert (changed.role, changed.valid_to) == ("网格员", dt.date(2099, 1, 1))
    with pytest.raises(PreconditionFailed) as stale:
        change_contract(session, made.id, {"role": "联系人"}, if_match=etag)
    assert stale.value.extra["etag"] == contract_etag(changed)
    session.rollback()
    with pytest.raises(InvalidInput, match="end it and create a new one"):
        change_contract(session, made.id, {"grid_code": base["g2"]}, if_match=contract_etag(changed))
    with pytest.raises(InvalidInput, match="no polygon"):
        change_contract(session, made.id, {"geometry": _geojson(rect(0, 0, 9, 9))}, if_match=contract_etag(changed))
    with pytest.raises(NotFound):
        change_contract(session, 999999, {"role": "x"}, if_match="*")


def test_flag_can_be_cleared(session, base):
    made = create_contract(session, "A", grid_code=base["g1"], role="网格长")
    made.flag = "grid retired by a boundary edit"
    session.commit()
    cleared = change_contract(session, made.id, {"flag": None}, if_match=contract_etag(made))
    assert cleared.flag is None


def test_end_contract(session, base):
    made = create_contract(session, "A", grid_code=base["g1"], role="网格长", valid_from="2024-01-01")
    session.commit()
    ended = end_contract(session, made.id)
    session.commit()
    assert ended.valid_to == base["day"]
    assert list_contracts(session, cadre_code="A") == []  # from today it no longer holds
    assert len(list_contracts(session, cadre_code="A", at=base["day"] - dt.timedelta(days=1))) == 1
    with pytest.raises(Conflict, match="already ends"):
        end_contract(session, made.id)
    with pytest.raises(InvalidInput, match="2024-01-02 at the earliest"):
        end_contract(session, made.id, "2024-01-01", if_match=contract_etag(ended))


CSV_OK = """cadre_code,grid_code,role,valid_from,valid_to
A,{g1},网格长,2024-01-01,
B,{g1},包片领导,2024-01-01,2025-01-01
B,{g2},包片领导,,
"""


def test_import_csv(session, base):
    rows = rows_from_csv(CSV_OK.format(**base).encode("utf-8-sig"))
    report = import_contracts(session, rows)
    session.commit()
    assert (report.rows, report.created, len(report.ids)) == (3, 3, 3)
    stored = {(c.cadre.code, c.grid_code, c.valid_from, c.valid_to) for c in
              list_contracts(session, include_ended=True)}
    assert stored == {("A", base["g1"], dt.date(2024, 1, 1), None),
                      ("B", base["g1"], dt.date(2024, 1, 1), dt.date(2025, 1, 1)),
                      ("B", base["g2"], base["day"], None)}
    assert session.scalar(select(func.count()).select_from(AuditEntry)
                          .where(AuditEntry.action == "contract.import")) == 3


def test_import_with_bad_rows_changes_nothing_and_names_every_row(session, base):
    bad = (CSV_OK + "NOBODY,{g1},网格长,,\n"
           "A,{g2},,2024-01-01,\n"
           "A,{g1},网格长,2024-06-01,\n"
           "B,{retired},网格长,,\n"
           "A,{g2},网格长,2024-13-01,\n").format(**base)
    with pytest.raises(InvalidInput) as caught:
        import_contracts(session, rows_from_csv(bad))
    errors = caught.value.extra["errors"]
    assert [e.split(":")[0] for e in errors] == ["line 5", "line 6", "line 7", "line 8", "line 9"]
    assert "unknown cadre_code" in errors[0] and "role is missing" in errors[1]
    assert "repeats line 2" in errors[2] and "no version in force" in errors[3] and "valid_from" in errors[4]
    session.rollback()
    assert _count(session) == 0


def test_import_dry_run_and_bad_files(session, base):
    report = import_contracts(session, rows_from_csv(CSV_OK.format(**base)), dry_run=True)
    assert (report.rows, report.created, report.dry_run) == (3, 0, True)
    assert _count(session) == 0
    with pytest.raises(InvalidInput, match="missing cadre_code, grid_code"):
        rows_from_csv("cadre,grid,role\nA,1,x\n")
    with pytest.raises(InvalidInput, match="no contract rows"):
        import_contracts(session, rows_from_csv("cadre_code,grid_code,role\n"))
    with pytest.raises(InvalidInput, match="UTF-8"):
        rows_from_csv("cadre_code,grid_code,role\nA,1,网格长\n".encode("gbk"))
    with pytest.raises(InvalidInput, match="FeatureCollection"):
        rows_from_geojson('{"type": "Feature"}')


def test_import_polygons_from_a_projected_geopackage(session, base, tmp_path):
    import geopandas

    # The file is in UTM 51N (metres), as a surveyor would hand it over: x 0–50 m of G1, all of y.
    frame = geopandas.GeoDataFrame({"cadre_code": ["A"], "role": ["包片"], "valid_from": ["2024-01-01"]},
                                   geometry=[rect(0, 0, 50, 100).geoms[0]], crs=4326).to_crs(32651)
    path = tmp_path / "drawn.gpkg"
    frame.to_file(path, driver="GPKG")
    rows = read_contract_file(path)
    assert rows[0]["_row"] == "feature 1"
    import_contracts(session, rows)
    session.commit()
    assert cadre_load(session, "A").grids == pytest.approx(0.5, abs=1e-4)
    stored = session.scalar(text("SELECT ST_XMin(geom) FROM contracts"))
    assert stored == pytest.approx(lonlat(0, 0)[0], abs=1e-7)  # back in lon/lat


def test_import_geojson_collection_checks_each_feature(session, base):
    collection = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"cadre_code": "A", "role": "包片"},
         "geometry": _geojson(rect(0, 0, 50, 100))},
        {"type": "Feature", "properties": {"cadre_code": "B", "role": "包片"}, "geometry": _geojson(bowtie())},
        {"type": "Feature", "properties": {"cadre_code": "B", "role": "包片", "grid_code": base["g2"]},
         "geometry": None},
    ]}
    with pytest.raises(InvalidInput) as caught:
        import_contracts(session, rows_from_geojson(json.dumps(collection)))
    assert [e.split(":")[0] for e in caught.value.extra["errors"]] == ["feature 2"]
    assert "Self-intersection" in caught.value.extra["errors"][0]


# -- HTTP ---------------------------------------------------------------------------------------
def test_http_create_change_end(client, make_user, base):
    planner = auth(make_user("planner"))
    created = client.post("/api/v1/contracts", json={"cadre_code": "A", "grid_code": base["g1"], "role": "网格长",
                                                     "valid_from": "2024-01-01"}, headers=planner)
    assert created.status_code == 201 and created.headers["Location"] == f"/api/v1/contracts/{created.json['id']}"
    assert created.json["in_force"] is True and created.json["cadre"] == "A"
    url = created.headers["Location"]
    etag = client.get(url, headers=planner).headers["ETag"]
    assert etag == created.headers["ETag"]
    problem(client.patch(url, json={"role": "x"}, headers=planner), 428)
    changed = client.patch(url, json={"role": "网格员"}, headers={**planner, "If-Match": etag})
    assert changed.status_code == 200 and changed.json["role"] == "网格员" and changed.headers["ETag"] != etag
    stale = problem(client.patch(url, json={"role": "联系人"}, headers={**planner, "If-Match": etag}), 412)
    assert stale["etag"] == changed.headers["ETag"]
    ended = client.post(f"{url}/end", headers=planner)
    assert ended.status_code == 200, ended.get_data(as_text=True)
    assert ended.json["valid_to"] == base["day"].isoformat()
    assert ended.json["in_force"] is False
    problem(client.post(f"{url}/end", headers=planner), 409)
    problem(client.post("/api/v1/contracts/999999/end", headers=planner), 404)
    # A contract that held on earlier days is history: it can be ended, not withdrawn.
    problem(client.delete(url, headers=planner), 409)


def test_http_withdraw_a_contract_made_by_mistake(client, make_user, base, session):
    planner = auth(make_user("planner"))
    created = client.post("/api/v1/contracts", json={"cadre_code": "A", "grid_code": base["g1"], "role": "网格长"},
                          headers=planner)
    url = created.headers["Location"]
    # Starting today, it cannot end today (the range would be empty): withdraw it instead.
    assert "withdraw" in problem(client.post(f"{url}/end", headers=planner), 400)["detail"]
    problem(client.delete(url, headers={**planner, "If-Match": '"stale"'}), 412)
    problem(client.delete(url, headers=auth(make_user("commander"))), 403)
    assert client.delete(url, headers={**planner, "If-Match": created.headers["ETag"]}).status_code == 204
    assert _count(session) == 0
    problem(client.get(url, headers=planner), 404)
    withdrawn = session.scalar(select(AuditEntry).where(AuditEntry.action == "contract.withdraw"))
    assert withdrawn.before["grid_code"] == base["g1"]


def test_http_bad_contracts(client, make_user, base):
    planner = auth(make_user("planner"))
    body = problem(client.post("/api/v1/contracts", json={"cadre_code": "A", "role": "包片",
                                                           "geometry": _geojson(bowtie())}, headers=planner), 422)
    assert "Self-intersection" in body["detail"]
    problem(client.post("/api/v1/contracts", json={"cadre_code": "A", "role": "包片", "grid_code": base["g1"],
                                                    "valid_from": "2025-02-30"}, headers=planner), 400)
    problem(client.post("/api/v1/contracts", data="cadre_code=A", headers=planner), 400)
    client.post("/api/v1/contracts", json={"cadre_code": "A", "grid_code": base["g1"], "role": "x"}, headers=planner)
    problem(client.post("/api/v1/contracts", json={"cadre_code": "A", "grid_code": base["g1"], "role": "x"},
                         headers=planner), 409)


@pytest.mark.parametrize("role,status", [("commander", 403), ("worker", 403), ("viewer", 403),
                                         ("planner", 201), ("admin", 201)])
def test_http_write_roles(client, make_user, base, role, status):
    response = client.post("/api/v1/contracts", json={"cadre_code": "A", "grid_code": base["g1"], "role": "x"},
                           headers=auth(make_user(role)))
    assert response.status_code == status


def test_http_import(client, make_user, base, session):
    planner = auth(make_user("planner"))
    data = CSV_OK.format(**base).encode()
    dry = client.post("/api/v1/contracts/import?dry_run=true", data=data, content_type="text/csv", headers=planner)
    assert dry.status_code == 200 and dry.json == {"rows": 3, "created": 0, "dry_run": True, "ids": []}
    unknown = f"NOBODY,{base['g2']},x,,\n".encode()
    bad = problem(client.post("/api/v1/contracts/import", data=data + unknown, content_type="text/csv",
                               headers=planner), 400)
    assert len(bad["errors"]) == 1 and bad["errors"][0].startswith("line 5")
    assert _count(session) == 0
    done = client.post("/api/v1/contracts/import", data=data, content_type="text/csv", headers=planner)
    assert done.status_code == 201 and done.json["created"] == 3
    feature = {"type": "Feature", "properties": {"cadre_code": "A", "role": "包片"},
               "geometry": _geojson(rect(100, 0, 150, 100))}
    geo = {"type": "FeatureCollection", "features": [feature]}
    drawn = client.post("/api/v1/contracts/import", data=json.dumps(geo), content_type="application/geo+json",
                        headers=planner)
    assert drawn.status_code == 201 and drawn.json["created"] == 1
    problem(client.post("/api/v1/contracts/import", data=b"x", content_type="application/zip", headers=planner), 400)
    problem(client.post("/api/v1/contracts/import", data=data, content_type="text/csv",
                         headers=auth(make_user("commander"))), 403)


@pytest.mark.parametrize("role,sees_phone", [("admin", True), ("commander", True), ("planner", False)])
def test_http_cadre_with_contracts_and_load(client, make_user, base, session, role, sees_phone):
    create_contract(session, "A", grid_code=base["g1"], role="网格长", valid_from="2024-01-01")
    old = create_contract(session, "A", grid_code=base["g2"], role="网格长", valid_from="2024-01-01",
                          valid_to="2024-06-01")
    session.commit()
    response = client.get("/api/v1/cadres/A", headers=auth(make_user(role)))
    assert response.status_code == 200
    body = response.json
    assert (body["code"], body["type"]) == ("A", "网格员")
    assert ("phone" in body) is sees_phone and ("13800000001" in response.get_data(as_text=True)) is sees_phone
    assert [(c["grid_code"], c["in_force"]) for c in body["contracts"]] == [(base["g1"], True), (base["g2"], False)]
    assert body["load"]["grids"] == 1.0 and body["load"]["at"] == base["day"].isoformat()
    then = client.get("/api/v1/cadres/A?at=2024-03-01", headers=auth(make_user(role))).json
    assert then["load"]["grids"] == 2.0 and [c["in_force"] for c in then["contracts"]] == [True, True]
    listed = client.get("/api/v1/cadres?type=网格员", headers=auth(make_user(role))).json["cadres"]
    assert [(c["code"], c["contracts_in_force"], "phone" in c) for c in listed] == [("A", 1, sees_phone)]
    assert old.id not in [c["id"] for c in client.get("/api/v1/contracts?cadre=A", headers=auth(make_user(role)))
                          .json["contracts"]]


def test_http_cadre_errors(client, make_user, base):
    token = auth(make_user("commander"))
    problem(client.get("/api/v1/cadres/NOBODY", headers=token), 404)
    problem(client.get("/api/v1/cadres/A?at=2024-1-1x", headers=token), 400)
    problem(client.get("/api/v1/cadres?type=村长", headers=token), 400)
    problem(client.get("/api/v1/cadres/A", headers=auth(make_user("worker"))), 403)
    problem(client.get("/api/v1/contracts?all=maybe", headers=token), 400)


# -- CLI ----------------------------------------------------------------------------------------
def cli(db_url: str, *args: str):
    """Run `gridgov …` in-process (click's runner) against DATABASE_URL; one subprocess test below
    proves the real command is wired the same way."""
    from click.testing import CliRunner

    from api.cli import main

    return CliRunner().invoke(main, list(args), env={"DATABASE_URL": db_url, "GRIDGOV_DATABASE_URL": None,
                                                          "GRIDGOV_LANG": None})


def test_cli_add_list_end_import(db_url, base, tmp_path):
    added = cli(db_url, "contract", "add", "A", "--grid", base["g1"], "--role", "网格长", "--from", "2024-01-01")
    assert added.exit_code == 0, added.stderr
    assert catalog.t("cli.contract.grid", code=base["g1"]) in added.stdout
    polygon = tmp_path / "p.geojson"
    polygon.write_text(json.dumps(_geojson(rect(100, 0, 150, 100))))
    drawn = cli(db_url, "contract", "add", "B", "--polygon", str(polygon), "--role", "包片")
    assert drawn.exit_code == 0, drawn.stderr
    listed = cli(db_url, "contract", "list")
    lines = listed.stdout.strip().splitlines()
    assert lines[0].split("\t")[:3] == ["id", "cadre", "type"]
    assert [line.split("\t")[1] for line in lines[1:]] == ["A", "B"]
    assert "polygon" in lines[2]
    contract_id = lines[1].split("\t")[0]  # the list's id column, not the sentence `add` says
    ended = cli(db_url, "contract", "end", contract_id, "--on", "2025-01-01")
    assert ended.exit_code == 0 and "2025-01-01" in ended.stdout
    assert len(cli(db_url, "contract", "list", "--cadre", "A").stdout.strip().splitlines()) == 1
    assert len(cli(db_url, "contract", "list", "--cadre", "A", "--all").stdout.strip().splitlines()) == 2

    csv_path = tmp_path / "c.csv"
    csv_path.write_text(f"cadre_code,grid_code,role,valid_from,valid_to\nA,{base['g2']},网格长,,\nNOBODY,1,x,,\n")
    failed = cli(db_url, "contract", "import", str(csv_path))
    assert failed.exit_code == 1 and "line 3" in failed.stderr and isinstance(failed.exception, SystemExit)
    csv_path.write_text(f"cadre_code,grid_code,role,valid_from,valid_to\nA,{base['g2']},网格长,,\n")
    assert catalog.t("cli.contract.would_create", rows=1, n=1) in cli(db_url, "contract", "import", str(csv_path),
                                                                      "--dry-run").stdout
    assert catalog.t("cli.contract.created", rows=1, n=1) in cli(db_url, "contract", "import", str(csv_path)).stdout

    report = cli(db_url, "coverage", "310101")
    assert report.exit_code == 0, report.stderr
    head = pieces("cli.coverage.area", name=None, code="310101", level=catalog.t("level.district"), grids=None,
                  area=None, covered=None, ratio=None)
    assert all(p in report.stdout for p in head) and base["retired"] not in report.stdout
    as_csv = cli(db_url, "coverage", "310101", "--csv")
    assert as_csv.stdout.splitlines()[0].startswith("record,code,name")
    bad = cli(db_url, "coverage", "999999")
    assert bad.exit_code == 1 and isinstance(bad.exception, SystemExit)
    assert catalog.t("problem.no_such_area") in bad.stderr


def test_cli_add_errors_are_one_clear_line(db_url, base):
    result = gridgov(db_url, "contract", "add", "A", "--grid", base["retired"], "--role", "x")
    assert result.returncode == 1 and "no version in force" in result.stderr and "Traceback" not in result.stderr
    result = cli(db_url, "contract", "end", "12345")
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert catalog.t("problem.no_such_contract") in result.stderr


def test_coverage_after_api_writes(client, make_user, base, session):
    planner = auth(make_user("planner"))
    client.post("/api/v1/contracts", json={"cadre_code": "A", "grid_code": base["g1"], "role": "x"}, headers=planner)
    feature = {"type": "Feature", "geometry": _geojson(rect(100, 0, 150, 100))}
    client.post("/api/v1/contracts", json={"cadre_code": "B", "role": "包片", "geometry": feature}, headers=planner)
    cov = coverage_of(session, "310101")
    assert cov.coverage_ratio == pytest.approx(1.5 / 2, abs=1e-6)
    assert [g["code"] for g in cov.uncovered_grids] == []


def test_one_importer_appends_or_syncs(session, base, tmp_path):
    """import_contracts appends by default; with sync (as `gridgov import contracts` runs it) a row
    naming a stored contract (cadre, grid, valid_from) updates its role and end, audited."""
    import_contracts(session, rows_from_csv(CSV_OK.format(**base)), user_id=None)
    session.commit()
    edited = CSV_OK.format(**base).replace("B,{g1},包片领导,2024-01-01,2025-01-01".format(**base),
                                           "B,{g1},联系干部,2024-01-01,2024-07-01".format(**base))
    with pytest.raises(InvalidInput) as caught:  # appending the same contracts again: held already
        import_contracts(session, rows_from_csv(edited))
    assert all("already holds" in e for e in caught.value.extra["errors"][:2])
    session.rollback()
    dry = import_contracts(session, rows_from_csv(edited), sync=True, dry_run=True)
    assert (dry.rows, dry.created, dry.updated, dry.unchanged) == (3, 0, 1, 2)
    synced = import_contracts(session, rows_from_csv(edited), sync=True)
    session.commit()
    assert (synced.created, synced.updated, synced.unchanged, synced.ids) == (0, 1, 2, [])
    stored = {(c.cadre.code, c.grid_code): (c.role, c.valid_to) for c in list_contracts(session, include_ended=True)}
    assert stored[("B", base["g1"])] == ("联系干部", dt.date(2024, 7, 1)) and len(stored) == 3
    changed = session.scalars(select(AuditEntry).where(AuditEntry.action == "contract.import",
                                                       AuditEntry.before.is_not(None))).all()
    assert [(e.before, e.after) for e in changed] == [({"role": "包片领导", "valid_to": "2025-01-01"},
                                                       {"role": "联系干部", "valid_to": "2024-07-01"})]


def test_layer_import_of_contracts_keeps_the_contract_rules(session, base, tmp_path):
    """`gridgov import contracts` checks what every contract write checks: a grid in force, a drawn area on a grid."""
    from data.io import import_file

    far = rect(50_000, 50_000, 50_100, 50_100).wkt
    path = tmp_path / "contracts.csv"
    path.write_text("cadre_code,grid_code,role,valid_from,valid_to,wkt\n"
                    f"A,{base['retired']},网格长,2025-01-01,,\n"  # the grid was retired at the start of 2024
                    "B,,包片领导,2025-01-01,,\"" + far + "\"\n"
                    f"B,{base['g1']},包片领导,2025-01-01,,\n", encoding="utf-8")
    with pytest.raises(InvalidInput) as caught:
        import_file(session, "contracts", path)
    errors = caught.value.extra["errors"]
    assert len(errors) == 2 and errors[0].startswith("row 1 (line 2): grid") and "no version in force" in errors[0]
    assert errors[1] == "row 2 (line 3): the polygon overlaps no grid (check its coordinates and CRS)"
    session.rollback()
    assert _count(session) == 0


def test_layer_import_of_contracts_reports_a_cadre_holding_a_grid_twice(session, base, tmp_path):
    """`gridgov import contracts` (data/io) meets the one-holding-at-a-time rule with row errors."""
    from data.io import import_file

    create_contract(session, "A", grid_code=base["g1"], role="网格长", valid_from="2024-01-01")
    session.commit()
    path = tmp_path / "contracts.csv"
    path.write_text("cadre_code,grid_code,role,valid_from,valid_to\n"
                    f"A,{base['g1']},网格长,2024-06-01,\n"           # overlaps the stored contract
                    f"B,{base['g2']},包片领导,2024-01-01,2025-01-01\n"
                    f"B,{base['g2']},包片领导,2024-06-01,\n"          # overlaps the row above
                    f"B,{base['g1']},包片领导,2024-01-01,\n", encoding="utf-8")
    with pytest.raises(InvalidInput) as caught:
        import_file(session, "contracts", path)
    errors = "\n".join(str(e) for e in caught.value.extra.get("errors", [])) + caught.value.detail
    assert "row 1" in errors and "row 3" in errors and "row 4" not in errors, errors
    session.rollback()
    assert _count(session) == 1
