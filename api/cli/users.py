"""`gridgov user add|token|list`: users and their API tokens."""
from __future__ import annotations

import click

from api.cli.common import new_session
from gis.core.models import ROLES
from gis.core.users import create_user, list_users, rotate_token


@click.group()
def user() -> None:
    """Users and their API tokens."""


@user.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--grid", "grids", multiple=True, help="Grid code a worker is scoped to (repeatable).")
@click.option("--password", help="Also allow signing in to the pages with this password.")
def user_add(name: str, role: str, grids: tuple[str, ...], password: str | None) -> None:
    """Add a user; prints the API token once, alone on the last line."""
    with new_session() as session:
        user_obj, token = create_user(session, name, role, grids=grids, password=password)
        session.commit()
    scope = f", grids {', '.join(grids)}" if grids else ""
    click.echo(f"user {user_obj.name} ({role}{scope}) created; its token is shown once:")
    click.echo(token)


@user.command("token")
@click.argument("name")
def user_token(name: str) -> None:
    """Issue a new token for a user (the old one stops working); prints it on the last line."""
    with new_session() as session:
        token = rotate_token(session, name)
        session.commit()
    click.echo(f"new token for {name}:")
    click.echo(token)


@user.command("list")
def user_list() -> None:
    """List users and roles."""
    with new_session() as session:
        for u, grids in list_users(session):
            click.echo(f"{u.name}\t{u.role}\t{'active' if u.active else 'disabled'}\t{' '.join(grids)}")
