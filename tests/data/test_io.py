"""Import and export: round trips in every format, bad files refused by row, nothing half-loaded."""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import zipfile

import geopandas as gpd
import numpy as np
import pytest
import shapely
from sqlalchemy import text

from data.io import LAYERS, export_layer, import_file
from gis.core.errors import InvalidInput
from tests.api.test_cli import pieces
from tests.factories import bowtie, feature_collection, hierarchy, lonlat, rect, two_grids
from webmap import catalog

TABLES = ("admin_areas", "grids", "grid_codes", "buildings", "events", "cadres", "contracts")


def snapshot(session) -> dict:
    """Every row of every data table, hashed: equal snapshots mean nothing changed."""
    return {t: tuple(session.execute(text(
        f"SELECT count(*), md5(COALESCE(string_agg(x::text, '|' ORDER BY x::text), '')) FROM {t} x")).one())
        for t in TABLES}


def dump(session, layer: str) -> dict:
    """A layer as {key: (attributes…, geometry)} read straight from the tables."""
    sql = {
        "areas": "SELECT a.code, a.level, a.name, p.code, ST_AsBinary(a.geom) FROM admin_areas a "
                 "LEFT JOIN admin_areas p ON p.id = a.parent_id",
        "grids": "SELECT g.code, g.name, g.kind, a.code, g.households, g.population, ST_AsBinary(g.geom) "
                 "FROM grids g JOIN admin_areas a ON a.id = g.community_id WHERE g.valid_to IS NULL",
        "buildings": "SELECT b.code, b.name, b.floors, b.households, b.population, g.code, ST_AsBinary(b.geom) "
                     "FROM buildings b LEFT JOIN grids g ON g.id = b.grid_id",
        "events": "SELECT id, category, title, description, status, occurred_at, ST_AsBinary(geom) FROM events",
        "cadres": "SELECT code, name, type, organisation, phone, NULL FROM cadres",
        "contracts": "SELECT c.code || '/' || COALESCE(k.grid_code, 'area') || '/' || k.valid_from || '/' || k.id, "
                     "k.role, k.valid_to, ST_AsBinary(k.geom) FROM contracts k JOIN cadres c ON c.id = k.cadre_id",
    }[layer]
    out = {}
    for row in session.execute(text(sql)):
        *attrs, wkb = row
        out[attrs[0]] = (*attrs[1:], shapely.from_wkb(bytes(wkb)) if wkb is not None else None)
    return out


def same_layer(a: dict, b: dict, layer: str, tolerance: float = 1e-9) -> None:
    if layer == "contracts":  # ids differ between databases: compare without them
        a = {k.rsplit("/", 1)[0] + f"/{i}": v for i, (k, v) in enumerate(sorted(a.items()))}
        b = {k.rsplit("/", 1)[0] + f"/{i}": v for i, (k, v) in enumerate(sorted(b.items()))}
    assert a.keys() == b.keys()
    for key in a:
        *attrs_a, ga = a[key]
        *attrs_b, gb = b[key]
        assert attrs_a == attrs_b, key
        assert (ga is None) == (gb is None), key
        if ga is not None:
            assert shapely.equals_exact(ga, gb, tolerance=tolerance), f"{layer} {key} moved more than {tolerance}°"


ORDER = ("areas", "grids", "buildings", "cadres", "contracts", "events")


def test_round_trip_export_import_into_a_clean_database(demo_session, session, tmp_path):
    for layer in ORDER:
        path = tmp_path / f"{layer}.geojson"
        written = export_layer(demo_session, layer, path)
        report = import_file(session, layer, path)
        session.commit()
        assert report.added == written.rows > 0 and report.updated == 0
    for layer in ORDER:
        same_layer(dump(demo_session, layer), dump(session, layer), layer)


@pytest.mark.parametrize("layer, suffix", [
    ("grids", ".gpkg"), ("grids", ".shp"), ("grids", ".zip"), ("grids", ".fgb"), ("grids", ".csv"),
    ("areas", ".csv"), ("events", ".csv"), ("events", ".shp"), ("cadres", ".csv"),
    ("contracts", ".gpkg"), ("contracts", ".csv"),
])
def test_every_format_reads_back_unchanged(demo_session, tmp_path, layer, suffix):
    """An unedited export imported back changes nothing: same keys, same bits, no new versions."""
    path = tmp_path / f"{layer}{suffix}"
    written = export_layer(demo_session, layer, path)
    before = snapshot(demo_session)
    report = import_file(demo_session, layer, written.path, dry_run=True)
    assert (report.added, report.updated, report.unchanged) == (0, 0, written.rows)
    assert snapshot(demo_session) == before


def test_edit_in_a_gis_and_import_back(demo_session, tmp_path):
    path = tmp_path / "grids.gpkg"
    export_layer(demo_session, "grids", path)
    gdf = gpd.read_file(path)
    first, second = gdf.index[0], gdf.index[1]
    gdf.loc[first, "name"] = "改过名的网格"
    gdf.loc[second, "households"] = 999
    gdf.to_file(path, driver="GPKG", layer="grids")
    report = import_file(demo_session, "grids", path)
    demo_session.commit()
    assert (report.added, report.updated, report.new_versions) == (0, 2, 0)
    names = dict(demo_session.execute(text("SELECT code, name FROM grids WHERE code = ANY(:c)"),
                                {"c": list(gdf.loc[[first, second], "code"])}).all())
    assert names[gdf.loc[first, "code"]] == "改过名的网格"
    assert demo_session.execute(text("SELECT households FROM grids WHERE code = :c"),
                          {"c": gdf.loc[second, "code"]}).scalar() == 999


def test_moving_a_shared_edge_makes_new_versions_and_moves_buildings(session, tmp_path):
    _, west, east = two_grids(session)
    from tests.factories import building

    building(session, "b-near-edge", rect(85, 40, 95, 60))
    from gis.spatial.buildings import assign_buildings

    assign_buildings(session)
    session.commit()
    path = tmp_path / "grids.geojson"
    # The planner moves the shared edge from x = 100 to x = 80 and imports both grids.
    path.write_text(feature_collection([
        ({"code": west.code, "name": "网格1", "community_code": west.code[:12]}, rect(0, 0, 80, 100)),
        ({"code": east.code, "name": "网格2", "community_code": east.code[:12]}, rect(80, 0, 200, 100)),
    ]))
    report = import_file(session, "grids", path)
    session.commit()
    assert report.new_versions == 2
    versions = session.execute(text("""
        SELECT code, version, valid_from IS NOT NULL, valid_to IS NULL FROM grids ORDER BY code, version
    """)).all()
    assert [tuple(v) for v in versions] == [(west.code, 1, False, False), (west.code, 2, True, True),
                                            (east.code, 1, False, False), (east.code, 2, True, True)]
    moved = session.execute(text("SELECT g.code FROM buildings b JOIN grids g ON g.id = b.grid_id")).scalar()
    assert moved == east.code


def test_dry_run_reports_and_writes_nothing(session, tmp_path):
    hierarchy(session)
    session.commit()
    path = tmp_path / "cadres.csv"
    path.write_text("code,name,type,organisation,phone\nC1,王芳,网格员,和坊社区,13800000000\n"
                    "C2,李强,三官一律,人民法院,\n", encoding="utf-8")
    before = snapshot(session)
    report = import_file(session, "cadres", path, dry_run=True)
    assert (report.added, report.dry_run) == (2, True)
    assert "nothing was written" in report.summary()
    assert snapshot(session) == before


# -- bad files -------------------------------------------------------------------------------
@pytest.fixture
def small(session):
    """A committed district → street → community with two grids."""
    community, west, east = two_grids(session)
    session.commit()
    return community, west, east


def refused(session, layer, path, *phrases, crs=None):
    """Import must fail with every phrase in the message, and change nothing."""
    before = snapshot(session)
    with pytest.raises(InvalidInput) as caught:
        import_file(session, layer, path, crs=crs)
    said = " | ".join([caught.value.title, caught.value.detail, *caught.value.extra.get("errors", [])])
    for phrase in phrases:
        assert phrase in said, said
    assert snapshot(session) == before
    return caught.value


def test_broken_json(small, session, tmp_path):
    path = tmp_path / "grids.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature",\n "properties": {}, }]}')
    refused(session, "grids", path, "Broken JSON", "line 2")


def test_zero_byte_file_and_empty_files(small, session, tmp_path):
    zero = tmp_path / "upload.geojson"
    zero.write_bytes(b"")
    refused(session, "grids", zero, "0 bytes")
    empty = tmp_path / "empty.geojson"
    empty.write_text('{"type": "FeatureCollection", "features": []}')
    refused(session, "grids", empty, "No rows")
    header_only = tmp_path / "events.csv"
    header_only.write_text("category,title,occurred_at,lon,lat\n")
    refused(session, "events", header_only, "No rows")


def test_wrong_geometry_type_and_self_intersection(small, session, tmp_path):
    community, *_ = small
    path = tmp_path / "grids.geojson"
    line = shapely.LineString([lonlat(0, 0), lonlat(50, 50)])
    path.write_text(feature_collection([
        ({"code": f"{community.code}003", "name": "线", "community_code": community.code}, line),
        ({"code": f"{community.code}004", "name": "蝴蝶", "community_code": community.code}, bowtie()),
        ({"code": f"{community.code}005", "name": "点", "community_code": community.code},
         shapely.Point(lonlat(10, 10))),
    ]))
    err = refused(session, "grids", path, "row 1: geometry is a LineString",
                  "row 2: invalid geometry: Self-intersection", "row 3: geometry is a Point")
    assert len(err.extra["errors"]) == 3  # all at once, not one per attempt


def test_lon_lat_swapped_or_out_of_range(small, session, tmp_path):
    lon, lat = lonlat(50, 50)
    path = tmp_path / "events.csv"
    path.write_text("category,title,occurred_at,lon,lat\n"
                    f"11001,好的,2026-05-01T08:00:00+08:00,{lon},{lat}\n"
                    f"11001,经纬度颠倒,2026-05-01T08:00:00+08:00,{lat},{lon}\n"
                    f"11001,超出范围,2026-05-01T08:00:00+08:00,181.5,{lat}\n"
                    "11001,不是数字,2026-05-01T08:00:00+08:00,abc,31\n")
    refused(session, "events", path, "row 2 (line 3): latitude 121.47", "lon and lat swapped",
            "row 3 (line 4): longitude 181.5 is out of range", "row 4 (line 5): lon 'abc' is not a number")


def test_swap_that_stays_in_range_is_caught_by_the_districts_extent(session, tmp_path):
    # Helsinki read the wrong way round lands in the Indian Ocean: valid numbers, wrong place.
    hierarchy(session, shapely.box(24.93, 60.16, 24.96, 60.18))
    session.commit()
    path = tmp_path / "events.geojson"
    when = "2026-05-01T08:00:00+03:00"
    path.write_text(feature_collection([
        ({"category": "11001", "title": "对", "occurred_at": when}, shapely.Point(24.94, 60.17)),
        ({"category": "11001", "title": "颠倒", "occurred_at": when}, shapely.Point(60.17, 24.94)),
    ]))
    err = refused(session, "events", path, "row 2: lies at lon 60.17000, lat 24.94000", "are lon and lat swapped")
    assert len(err.extra["errors"]) == 1


def test_unknown_parent_and_duplicate_codes(small, session, tmp_path):
    path = tmp_path / "areas.geojson"
    path.write_text(feature_collection([
        ({"level": "street", "code": "999999001", "name": "无主街道", "parent_code": "999999"}, rect(0, 0, 10, 10)),
        ({"level": "community", "code": "310101001009", "name": "甲", "parent_code": "310101001"}, rect(0, 0, 10, 10)),
        ({"level": "community", "code": "310101001009", "name": "乙", "parent_code": "310101001"}, rect(0, 0, 10, 10)),
    ]))
    refused(session, "areas", path, "row 1: unknown parent code 999999",
            "row 3: duplicate code 310101001009: rows 2, 3 all have it")


def test_one_bad_row_among_good_ones_loads_nothing(small, session, tmp_path):
    lon, lat = lonlat(50, 50)
    rows = "".join(f"11001,事件{i},2026-05-01T08:00:00+08:00,{lon},{lat}\n" for i in range(50))
    path = tmp_path / "events.csv"
    path.write_text("category,title,occurred_at,lon,lat\n" + rows + "99999,坏类别,2026-05-01T08:00:00,1,1\n")
    refused(session, "events", path, "row 51 (line 52): unknown category '99999'")


def test_grids_must_not_overlap_or_leave_their_community(small, session, tmp_path):
    community, west, east = small
    path = tmp_path / "grids.geojson"
    path.write_text(feature_collection([
        # Overlaps the existing west grid by 10 m × 100 m.
        ({"code": f"{community.code}003", "name": "叠", "community_code": community.code}, rect(90, 0, 100, 100)),
        # Sticks 20 m out of the community (which ends at x = 200).
        ({"code": f"{community.code}004", "name": "出", "community_code": community.code}, rect(190, 0, 220, 10)),
    ]))
    err = refused(session, "grids", path, f"row 1: grid {community.code}003 overlaps current grid {west.code} by",
                  f"row 2: grid {community.code}004 extends", "outside its community")
    # 10 m × 100 m overlapping and 10 m × 20 m outside, drawn on a local plane; measured geodesically.
    m2 = [float(re.search(r"by ([\d,.]+) m²|extends ([\d,.]+) m²", e).group(1 if "by" in e else 2).replace(",", ""))
          for e in err.extra["errors"][:2]]
    assert m2 == [pytest.approx(1000, rel=0.01), pytest.approx(200, rel=0.01)]


def test_grids_sharing_an_edge_or_corner_are_fine(session, tmp_path):
    _, _, community = hierarchy(session, rect(0, 0, 200, 200))
    session.commit()
    path = tmp_path / "grids.geojson"
    path.write_text(feature_collection([
        ({"code": f"{community.code}001", "name": "西北", "community_code": community.code}, rect(0, 100, 100, 200)),
        ({"code": f"{community.code}002", "name": "东北", "community_code": community.code}, rect(100, 100, 200, 200)),
        ({"code": f"{community.code}003", "name": "东南", "community_code": community.code}, rect(100, 0, 200, 100)),
    ]))
    assert import_file(session, "grids", path).added == 3


def test_missing_columns_and_bad_values(small, session, tmp_path):
    path = tmp_path / "cadres.csv"
    path.write_text("code,name\nC1,王芳\n")
    refused(session, "cadres", path, "Missing columns", "type")
    path.write_text("code,name,type,phone\nC1,王芳,村长,abc\nC2,,网格员,\n")
    refused(session, "cadres", path, "row 1 (line 2): type '村长' is not one of", "row 1 (line 2): phone 'abc'",
            "row 2 (line 3): name is required")


def test_contract_references_and_dates(small, session, tmp_path):
    _, west, _ = small
    path = tmp_path / "contracts.csv"
    path.write_text("cadre_code,grid_code,role,valid_from,valid_to\n"
                    f"NOBODY,{west.code},网格员,2026-01-01,\n"
                    "NOBODY,310101001001999,网格员,2026-13-01,\n")
    refused(session, "contracts", path, "row 1 (line 2): unknown cadre code NOBODY",
            "row 2 (line 3): unknown grid code 310101001001999", "valid_from '2026-13-01' is not a date")


def test_contract_import_audits_what_it_makes_and_changes(small, session, tmp_path):
    from tests.factories import cadre

    _, west, _ = small
    cadre(session, "C1")
    session.commit()
    patrol = rect(20, 20, 60, 60)
    path = tmp_path / "contracts.geojson"

    def imported(role: str, valid_to: str | None) -> list:
        path.write_text(feature_collection([
            ({"cadre_code": "C1", "grid_code": west.code, "role": role, "valid_from": "2026-01-01",
              "valid_to": valid_to}, None),
            ({"cadre_code": "C1", "grid_code": None, "role": "巡查", "valid_from": "2026-01-01"}, patrol)]))
        import_file(session, "contracts", path)
        session.commit()
        return session.execute(text(
            "SELECT a.entity_id::bigint, a.before, a.after FROM audit_log a WHERE a.action = 'contract.import'"
            " AND a.entity = 'contract' ORDER BY a.id")).all()

    made = imported("网格员", None)
    ids = dict(session.execute(text("SELECT COALESCE(grid_code, 'drawn'), id FROM contracts")).all())
    assert [(i, before) for i, before, _ in made] == [(ids[west.code], None), (ids["drawn"], None)]
    whole, drawn = made[0][2], made[1][2]
    assert (whole["grid_code"], whole["role"], whole["valid_from"], whole["geometry"]) == \
        (west.code, "网格员", "2026-01-01", None)
    assert drawn["grid_code"] is None
    assert shapely.geometry.shape(drawn["geometry"]).hausdorff_distance(patrol) < 1e-8  # GeoJSON's 9 digits
    assert imported("网格员", None) == made  # nothing changed: nothing audited
    changed = imported("网格长", "2026-07-01")[len(made):]
    assert changed == [(ids[west.code], {"role": "网格员", "valid_to": None},
                        {"role": "网格长", "valid_to": "2026-07-01"})]


def test_retired_grid_codes_are_never_reused(small, session, tmp_path):
    community, west, _ = small
    session.execute(text("UPDATE grids SET valid_to = now() WHERE id = :id"), {"id": west.id})
    session.commit()
    path = tmp_path / "grids.geojson"
    path.write_text(feature_collection([
        ({"code": west.code, "name": "复活", "community_code": community.code}, rect(0, 0, 100, 100))]))
    refused(session, "grids", path, "retired", "never reused")


def test_cli_import_errors_are_clear_and_change_nothing(small, session, db_url, tmp_path):
    path = tmp_path / "grids.geojson"
    path.write_text(feature_collection([({"code": "1", "name": "x", "community_code": "2"}, bowtie())]))
    before = snapshot(session)
    done = subprocess.run([sys.executable, "-m", "api.cli", "import", "grids", str(path)], capture_output=True,
                          text=True, env=dict(os.environ, DATABASE_URL=db_url, GRIDGOV_LANG="zh"), timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert catalog.t("problem.import_file_has_problems", layer="grids", problems=2, rows=1) in done.stderr
    assert "row 1:" in done.stderr  # its bow tie and its short code
    session.rollback()
    assert snapshot(session) == before


def test_cli_export_then_dry_run_import(demo_db_url, tmp_path):
    env = dict(os.environ, DATABASE_URL=demo_db_url, GRIDGOV_LANG="zh")
    out = tmp_path / "cadres.csv"
    done = subprocess.run([sys.executable, "-m", "api.cli", "export", "cadres", str(out)], capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    again = subprocess.run([sys.executable, "-m", "api.cli", "import", "cadres", str(out), "--dry-run"],
                           capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 0, again.stderr
    said = pieces("cli.io.would_import", layer="cadres", path=None, rows=None, added="0", updated="0", unchanged=None,
                  versions=None, seconds=None, rate=None)
    assert all(p in again.stdout for p in said)


# -- coordinates and files -------------------------------------------------------------------
def test_projected_files_are_reprojected(session, tmp_path):
    _, _, community = hierarchy(session, rect(0, 0, 200, 100))
    session.commit()
    wanted = {f"{community.code}001": rect(0, 0, 100, 100), f"{community.code}002": rect(100, 0, 200, 100)}
    gdf = gpd.GeoDataFrame({"code": list(wanted), "name": ["一", "二"], "community_code": community.code},
                           geometry=list(wanted.values()), crs="EPSG:4326").to_crs("EPSG:4547")
    path = tmp_path / "grids.gpkg"
    gdf.to_file(path, driver="GPKG")
    report = import_file(session, "grids", path)
    assert report.added == 2 and any("reprojected from EPSG:4547" in n for n in report.notes)
    got = dump(session, "grids")
    for code, geom in wanted.items():
        assert shapely.equals_exact(got[code][-1].geoms[0], geom.geoms[0], tolerance=1e-8)


def test_csv_points_in_a_projected_crs_keep_their_source_coordinates(small, session, tmp_path):
    from pyproj import Transformer

    lon, lat = lonlat(50, 50)
    x, y = Transformer.from_crs(4326, 4547, always_xy=True).transform(lon, lat)
    path = tmp_path / "events.csv"
    path.write_text(f"category,title,occurred_at,x,y\n11001,投影坐标,2026-05-01 08:00:00,{x!r},{y!r}\n")
    import_file(session, "events", path, crs="EPSG:4547")
    row = session.execute(text("SELECT ST_X(geom), ST_Y(geom), source_crs, source_x, source_y, occurred_at "
                               "FROM events")).one()
    assert row[0] == pytest.approx(lon, abs=1e-9) and row[1] == pytest.approx(lat, abs=1e-9)
    assert (row[2], row[3], row[4]) == ("EPSG:4547", x, y)
    # The naive time is the district's (Asia/Shanghai) 08:00, and it reads back in the district's zone.
    assert row[5] == dt.datetime(2026, 5, 1, 0, 0, tzinfo=dt.UTC)
    assert row[5].isoformat() == "2026-05-01T08:00:00+08:00"


def test_unknown_crs(small, session, tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("category,title,occurred_at,lon,lat\n11001,x,2026-05-01,121.47,31.23\n")
    refused(session, "events", path, "Unknown CRS", crs="EPSG:999999")


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_points_from_chinese_web_maps_are_moved_back_to_wgs84(small, session, tmp_path, crs):
    # Points picked on AMap/Tencent (GCJ-02) or Baidu (BD-09) maps are hundreds of metres off;
    # the import undoes the offset (gis.spatial.crs, checked against an independent implementation in
    # test_crs) for CSV and for vector files alike, and keeps what the file said.
    from gis.spatial.crs import wgs84_to_bd09, wgs84_to_gcj02

    forward = wgs84_to_gcj02 if crs == "gcj02" else wgs84_to_bd09
    truth = [lonlat(20, 30), lonlat(150, 60)]
    given = [forward(*p) for p in truth]
    csv = tmp_path / "events.csv"
    csv.write_text("category,title,occurred_at,lon,lat\n" + "".join(
        f"11001,点{i},2026-05-01,{x!r},{y!r}\n" for i, (x, y) in enumerate(given)))
    geojson = tmp_path / "events.geojson"
    geojson.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, y]},
         "properties": {"category": "11001", "title": f"面{i}", "occurred_at": "2026-05-01"}}
        for i, (x, y) in enumerate(given)]}))
    for path in (csv, geojson):
        report = import_file(session, "events", path, crs=crs)
        assert report.added == 2
    rows = session.execute(text("SELECT ST_X(e.geom), ST_Y(e.geom), e.source_crs, e.source_x, e.source_y, g.code "
                                "FROM events e LEFT JOIN grids g ON g.id = e.grid_id ORDER BY e.id")).all()
    _, west, east = small
    for row, (lon, lat), (x, y), grid in zip(rows, truth * 2, given * 2, [west, east] * 2):
        assert row[0] == pytest.approx(lon, abs=1e-7) and row[1] == pytest.approx(lat, abs=1e-7)  # ~1 cm
        assert (row[2], row[3], row[4]) == (crs, pytest.approx(x, abs=1e-12), pytest.approx(y, abs=1e-12))
        assert row[5] == grid.code


def test_gbk_csv_from_excel(small, session, tmp_path):
    path = tmp_path / "cadres.csv"
    path.write_bytes("code,name,type\nC9,赵敏,网格员\n".encode("gb18030"))
    report = import_file(session, "cadres", path)
    assert report.added == 1 and any("GB18030" in n for n in report.notes)
    assert session.execute(text("SELECT name FROM cadres")).scalar() == "赵敏"


def test_zipped_shapefile_export_holds_every_part(demo_session, tmp_path):
    path = tmp_path / "grids.zip"
    export_layer(demo_session, "grids", path)
    names = set(zipfile.ZipFile(path).namelist())
    assert {"grids.shp", "grids.shx", "grids.dbf", "grids.prj", "grids.cpg"} <= names


def test_field_tables_cover_every_layer():
    assert set(LAYERS) == {"areas", "grids", "buildings", "events", "cadres", "contracts"}
    for layer in LAYERS.values():
        assert all(f.name == f.name.lower() for f in layer.fields)


def test_exports_never_carry_residents_contacts(demo_session, tmp_path):
    path = tmp_path / "events.geojson"
    export_layer(demo_session, "events", path)
    data = json.loads(path.read_text())
    assert "contact" not in data["features"][0]["properties"]
    assert demo_session.execute(text("SELECT count(*) FROM events WHERE contact IS NOT NULL")).scalar() > 0


def test_buildings_outside_every_grid_are_stored_with_a_warning(small, session, tmp_path):
    path = tmp_path / "buildings.geojson"
    path.write_text(feature_collection([
        ({"code": "B1", "floors": 3}, rect(10, 10, 30, 30)),
        ({"code": "B2", "floors": 2}, rect(500, 500, 520, 520)),
    ]))
    report = import_file(session, "buildings", path)
    assert report.added == 2
    assert report.warnings == ["1 building lies outside every current grid and gets no grid (row 2)"]
    grids = dict(session.execute(text("SELECT b.code, g.code FROM buildings b LEFT JOIN grids g ON g.id = b.grid_id"))
                 .all())
    assert grids["B1"] == small[1].code and grids["B2"] is None


def test_large_point_csv_takes_the_bulk_path_and_restores_every_index_and_key(small, session, tmp_path):
    from bench.import_csv import write_csv

    schema = """
        SELECT (SELECT string_agg(indexdef, ';' ORDER BY indexname) FROM pg_indexes WHERE tablename = 'events'),
               (SELECT string_agg(conname || pg_get_constraintdef(oid), ';' ORDER BY conname)
                FROM pg_constraint WHERE conrelid = 'events'::regclass)
    """
    before = session.execute(text(schema)).one()
    path = tmp_path / "events.csv"
    write_csv(path, 60_000)
    report = import_file(session, "events", path)
    session.commit()
    assert report.added == 60_000 and any("rebuilt once" in n for n in report.notes)
    assert session.execute(text(schema)).one() == before
    assert session.execute(text("SELECT count(*) FROM events")).scalar() == 60_000


@pytest.mark.parametrize("given, utc", [
    ("2026-05-01T08:00:00+08:00", "2026-05-01T00:00:00"),
    ("2026-05-01T08:00:00Z", "2026-05-01T08:00:00"),
    ("2026-05-01T08:00:00+0800", "2026-05-01T00:00:00"),
    ("2026-05-01T08:00:00-05:00", "2026-05-01T13:00:00"),
    ("2026-05-01T08:00:00", "2026-05-01T00:00:00"),  # no offset: China Standard Time
    ("2026-05-01 08:00", "2026-05-01T00:00:00"),
    ("2026-05-01", "2026-04-30T16:00:00"),  # a date alone is midnight in China, not an offset of -01
    ("2026/5/1 8:00", "2026-05-01T00:00:00"),  # as Excel writes it
    ("not a time", None),
])
def test_datetimes_in_files(given, utc):
    from data.io import parse_datetimes

    got = parse_datetimes(np.array([given], dtype=object), "Asia/Shanghai")[0]
    assert (np.isnat(got) if utc is None else got == np.datetime64(utc))


def test_naive_times_in_files_are_the_districts_own_zone():
    from data.io import parse_datetimes

    values = np.array(["2026-05-01 08:00", "2026-05-01T08:00:00+08:00"], dtype=object)
    berlin = parse_datetimes(values, "Europe/Berlin")  # CEST, UTC+2, on 1 May
    assert list(berlin) == [np.datetime64("2026-05-01T06:00:00"), np.datetime64("2026-05-01T00:00:00")]


def test_the_import_export_page_documents_every_field():
    from gis.core.pgcluster import project_root

    page = (project_root() / "docs" / "import-export.md").read_text(encoding="utf-8")
    section = page.split("\n## Layers and their fields\n", 1)[1].split("\n## ", 1)[0]
    rows = {line.split("|")[1].strip(" `"): line for line in section.splitlines() if line.startswith("| `")}
    for name, layer in LAYERS.items():
        for f in layer.fields:
            assert f"`{f.name}`" in rows[name], f"docs/import-export.md does not document {name}.{f.name}"
