"""The gridgov command honours DATABASE_URL: users, tokens, migrate."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid

from tests.conftest import auth, create_database, drop_database
from webmap import catalog


def gridgov(db_url: str, *args: str, lang: str | None = None) -> subprocess.CompletedProcess:
    """Run `gridgov …` against a database given by DATABASE_URL, in GRIDGOV_LANG `lang` (None: the default)."""
    env = {k: v for k, v in os.environ.items() if k != "GRIDGOV_LANG"} | {"DATABASE_URL": db_url}
    if lang:
        env["GRIDGOV_LANG"] = lang
    return subprocess.run([sys.executable, "-m", "api.cli", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def pieces(key: str, lang: str = catalog.DEFAULT_LANG, **values) -> list[str]:
    """What `key` prints with `values`, cut where the values given as None (times, rates) go."""
    filled = {name: "\0" if value is None else value for name, value in values.items()}
    return [p for p in catalog.t(key, lang, **filled).split("\0") if p]


def test_user_add_prints_token_alone_on_last_line(db_url, client):
    result = gridgov(db_url, "user", "add", "zhao", "--role", "commander")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("gg_") and " " not in token
    me = client.get("/api/v1/me", headers=auth(token))
    assert me.status_code == 200 and me.json["role"] == "commander"


def test_user_token_rotation_revokes_old_token(db_url, client):
    old = gridgov(db_url, "user", "add", "qian", "--role", "viewer").stdout.strip().splitlines()[-1]
    new = gridgov(db_url, "user", "token", "qian").stdout.strip().splitlines()[-1]
    assert client.get("/api/v1/me", headers=auth(old)).status_code == 401
    assert client.get("/api/v1/me", headers=auth(new)).status_code == 200


def test_user_add_errors_are_one_clear_line(db_url):
    gridgov(db_url, "user", "add", "sun", "--role", "viewer")
    again = gridgov(db_url, "user", "add", "sun", "--role", "viewer")
    assert again.returncode == 1
    assert "already exists" in again.stderr and "Traceback" not in again.stderr
    unknown_grid = gridgov(db_url, "user", "add", "li", "--role", "worker", "--grid", "110101001001999")
    assert unknown_grid.returncode == 1 and "110101001001999" in unknown_grid.stderr


def test_db_url_and_migrate_honour_database_url(pg_admin_url):
    name = f"gridgov_cli_{uuid.uuid4().hex[:8]}"
    url = create_database(pg_admin_url, name)
    try:
        libpq = gridgov(url, "db", "url").stdout.strip()
        assert libpq == url.replace("postgresql+psycopg://", "postgresql://") and libpq.startswith("postgresql://")
        assert gridgov(url, "db", "url", "--sqlalchemy").stdout.strip() == url
        psql = subprocess.run(["psql", libpq, "-XAtc", "SELECT current_database()"], capture_output=True,
                              text=True, timeout=60)
        assert psql.returncode == 0 and psql.stdout.strip() == name, psql.stderr
        migrated = gridgov(url, "db", "migrate")
        assert migrated.returncode == 0, migrated.stderr
        assert all(p in migrated.stdout for p in pieces("cli.db.schema_at", revision=None))
        status = gridgov(url, "db", "status")
        assert status.returncode == 0 and "PostGIS" in status.stdout
        down = gridgov(url, "db", "downgrade", "base")
        assert down.returncode == 0 and catalog.t("cli.db.schema_at", revision="base") in down.stdout
    finally:
        drop_database(pg_admin_url, name)


def test_database_without_postgis_is_a_clear_error(pg_admin_url):
    import psycopg

    name = f"gridgov_nopostgis_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_admin_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = pg_admin_url.rsplit("/", 1)[0] + "/" + name
    try:
        result = gridgov(url, "db", "migrate")
        assert result.returncode == 1
        assert catalog.t("problem.postgis_is_not_enabled_in_this_database") in result.stderr
        assert "CREATE EXTENSION postgis" in result.stderr
    finally:
        drop_database(pg_admin_url, name)


# -- issue 4: gridgov assign -------------------------------------------------------------------
def test_assign_prints_progress_and_a_summary_by_status(db_url, session):
    import datetime as dt

    from geoalchemy2.shape import from_shape
    from shapely import Point

    from gis.core.models import AuditEntry, Event
    from tests.factories import geodesic_offset, lonlat, three_grids

    three_grids(session)
    points = [lonlat(100, 100), lonlat(300, 50), lonlat(200, 50), geodesic_offset(*lonlat(400, 50), 90, 500)]
    for p in points:
        session.add(Event(geom=from_shape(Point(*p), srid=4326), category="21001", title="t",
                          occurred_at=dt.datetime(2025, 6, 1, tzinfo=dt.UTC)))
    session.commit()
    result = gridgov(db_url, "assign", "--all")
    assert result.returncode == 0, result.stderr
    assert "writing" in result.stderr and "4 of 4 events changed" in result.stderr
    out = result.stdout
    done = pieces("cli.assign.done", total=4, scope="'all'", seconds=None, rate=None, changed=4)
    assert len(done) == 3 and all(p in out.splitlines()[0] for p in done)
    summary = dict(line.split() for line in out.splitlines()[1:])
    assert summary == {"inside": "2", "edge": "1", "snapped": "0", "outside": "1", "ambiguous": "0"}
    again = gridgov(db_url, "assign", "--unassigned", "--quiet")
    assert all(p in again.stdout for p in pieces("cli.assign.done", total=1, scope="'unassigned'", seconds=None,
                                                 rate=None, changed=0))
    assert again.stderr == ""
    assert session.query(AuditEntry).filter_by(action="assign").count() == 2
    bad = gridgov(db_url, "assign", "--grid", "310101001001999")
    assert bad.returncode == 1 and "310101001001999" in bad.stderr and "Traceback" not in bad.stderr
