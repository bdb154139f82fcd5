"""The demo sign-ins `gridgov run` prints all sign in, the supervisor who verifies the demo cases too."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from api.cli.demo import demo_sign_ins as _demo_sign_ins
from api.cli.demo import demo_users
from api.cli.demo import ensure_demo_users as _ensure_demo_users
from data.demo_history import _staff
from gis.core.db import make_engine, session_factory
from gis.core.models import User


@pytest.mark.parametrize("histories_first", [False, True], ids=["fresh run", "histories made before"])
def test_every_demo_user_gridgov_run_prints_signs_in_with_the_demo_password(
        demo_app, demo_db_url, monkeypatch, tmp_path, histories_first):
    monkeypatch.setenv("GRIDGOV_VAR", str(tmp_path))
    engine = make_engine(demo_db_url)
    with session_factory(engine)() as s:
        if histories_first:  # an older `make run` made the verifier without a password
            _staff(s)
            s.commit()
        password = _ensure_demo_users(s)
        s.commit()
        _, verifier = _staff(s)  # who verifies the demo cases (data/demo_history.py)
        s.commit()
        roles = set(s.scalars(select(User.role)))
    engine.dispose()
    names = [name for name, _, _ in demo_users()]
    assert verifier.name in names and all(name in _demo_sign_ins() for name in names)
    assert roles <= {role for _, role, _ in demo_users()}, "a role the demo makes has no demo sign-in"
    for name, role, _ in demo_users():
        client = demo_app.test_client()
        signed_in = client.post("/login?next=/api/v1/me", data={"name": name, "password": password})
        assert signed_in.status_code == 302, f"{name} cannot sign in"
        assert client.get("/api/v1/me").json["role"] == role
