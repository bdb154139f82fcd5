"""The gridgov command honours DATABASE_URL: users, tokens, migrate."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid

from tests.conftest import auth, create_database, drop_database


def gridgov(db_url: str, *args: str) -> subprocess.CompletedProcess:
    """Run `gridgov …` against a database given by DATABASE_URL."""
    env = dict(os.environ, DATABASE_URL=db_url)
    return subprocess.run([sys.executable, "-m", "api.cli", *args], capture_output=True, text=True,
                          env=env, timeout=120)


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
        assert gridgov(url, "db", "url").stdout.strip() == url
        migrated = gridgov(url, "db", "migrate")
        assert migrated.returncode == 0, migrated.stderr
        assert "schema at" in migrated.stdout
        status = gridgov(url, "db", "status")
        assert status.returncode == 0 and "PostGIS" in status.stdout
        down = gridgov(url, "db", "downgrade", "base")
        assert down.returncode == 0 and "schema at base" in down.stdout
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
        assert "PostGIS is not enabled" in result.stderr and "CREATE EXTENSION postgis" in result.stderr
    finally:
        drop_database(pg_admin_url, name)
