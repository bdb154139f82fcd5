"""`gridgov demo` (the demo district 幸福湾区) and the demo sign-ins `gridgov run` makes."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.cli.common import engine
from api.cli.schema import require_schema
from data.demo import attach_demo_worker, load
from data.demo_history import SUPERVISOR
from gis.core.db import check_postgis
from gis.core.models import Department
from gis.core.pgcluster import var_dir
from gis.core.users import create_user, find_user, set_password
from gis.duties import set_member


@click.command("demo")
@click.option("--scale", type=click.Choice(["demo", "city"]), default="demo", show_default=True,
              help="demo: ~600 grids, 30k buildings, 20k events; "
                   "city: the benchmark set (~9,500 grids, ~950k buildings, 1M events)")
@click.option("--seed", type=int, default=1, show_default=True, help="same seed, same district")
def demo(scale: str, seed: int) -> None:
    """Load the demo district 幸福湾区 into an empty database."""
    bind = engine()
    check_postgis(bind)
    require_schema(bind)
    report = load(bind, scale=scale, seed=seed, progress=True)
    click.echo(report.summary())


def demo_password_file() -> Path:
    """Where the one demo password is kept (var/demo-password, 0600)."""
    return var_dir() / "demo-password"


def demo_users() -> list[tuple[str, str, str]]:
    """The demo sign-ins `gridgov run` makes, one of every role it creates: (name, role, display name)."""
    return [(role, role, f"demo {role}") for role in ("admin", "planner", "commander", "worker")] + [
        (SUPERVISOR[0], "commander", SUPERVISOR[1]), (DEPARTMENT_USER, "department", "城管执法局 demo")]


DEPARTMENT_USER = "department"  # issue 25: a member of the demo's 城管执法局 (CGJ)


def _attach_demo_department(session: Session) -> None:
    # The demo member belongs to 城管执法局 when the demo's departments are there and they belong nowhere yet.
    user = find_user(session, DEPARTMENT_USER)
    owner = session.scalar(select(Department).where(Department.code == "CGJ"))
    if user is not None and owner is not None and user.department_id is None:
        set_member(session, user, owner)


def demo_sign_ins() -> str:
    """'admin (admin), …, supervisor (commander, 督查员)' for the start-up lines."""
    return ", ".join(f"{name} ({role})" if role == name else f"{name} ({role}, {display})"
                     for name, role, display in demo_users())


def ensure_demo_users(session: Session) -> str:
    """Create the demo sign-ins once; one generated password for all, kept in var/ (0600)."""
    path = demo_password_file()
    if path.exists():
        password = path.read_text().strip()
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        password = secrets.token_urlsafe(9)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(password + "\n")
    for name, role, display in demo_users():
        if find_user(session, name) is None:
            create_user(session, name, role, password=password, display_name=display)
        else:
            set_password(session, name, password)  # also a supervisor the demo histories made without one
    attach_demo_worker(session, "worker")  # one community's grids, linked to its 网格员
    _attach_demo_department(session)

    return password
