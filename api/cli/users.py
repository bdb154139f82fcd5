"""`gridgov user add|token|list|role|lang|disable|enable|signout|locks|unlock`: users, tokens, sessions, locks."""
from __future__ import annotations

import click

from api.cli.common import new_session
from gis.core import audit, clock, throttle
from gis.core.models import LANGS, ROLES
from gis.core.users import (
    create_user,
    list_users,
    rotate_token,
    set_active,
    set_lang,
    set_role,
    sign_out_everywhere,
)
from webmap.catalog import say


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
    scope = say("cli.user.scope", grids=", ".join(grids)) if grids else ""
    click.echo(say("cli.user.created", name=user_obj.name, role=role, scope=scope))
    click.echo(token)


@user.command("token")
@click.argument("name")
def user_token(name: str) -> None:
    """Issue a new token for a user (the old one stops working); prints it on the last line."""
    with new_session() as session:
        token = rotate_token(session, name)
        session.commit()
    click.echo(say("cli.user.new_token", name=name))
    click.echo(token)


@user.command("list")
def user_list() -> None:
    """List users and roles."""
    with new_session() as session:
        for u, grids in list_users(session):
            state = say("cli.user.active") if u.active else say("cli.user.disabled_state")
            click.echo(f"{u.name}\t{u.role}\t{state}\t{' '.join(grids)}")


@user.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(ROLES))
def user_role(name: str, role: str) -> None:
    """Give a user another role; their signed-in sessions end."""
    with new_session() as session:
        set_role(session, name, role)  # audited there (user.role)
        session.commit()
    click.echo(say("cli.user.role_changed", name=name, role=role))


@user.command("lang")
@click.argument("name")
@click.argument("lang", type=click.Choice([*LANGS, "browser"]))
def user_lang(name: str, lang: str) -> None:
    """Set the language a user reads gridgov in: zh, en, or browser (follow their browser's Accept-Language)."""
    with new_session() as session:
        set_lang(session, name, None if lang == "browser" else lang)
        session.commit()
    chosen = say("cli.user.lang_browser") if lang == "browser" else say(f"lang.{lang}")
    click.echo(say("cli.user.lang", name=name, choice=chosen))


@user.command("disable")
@click.argument("name")
def user_disable(name: str) -> None:
    """Disable a user: their token and sessions stop working at once."""
    with new_session() as session:
        set_active(session, name, False)  # audited there (user.active)
        session.commit()
    click.echo(say("cli.user.disabled", name=name))


@user.command("enable")
@click.argument("name")
def user_enable(name: str) -> None:
    """Enable a disabled user again."""
    with new_session() as session:
        set_active(session, name, True)
        session.commit()
    click.echo(say("cli.user.enabled", name=name))


@user.command("signout")
@click.argument("name")
def user_signout(name: str) -> None:
    """Sign a user out everywhere: every session of theirs ends at once (the token stays; see `user token`)."""
    with new_session() as session:
        ended = sign_out_everywhere(session, name)
        session.commit()
    click.echo(say("cli.user.signed_out", n=ended, name=name))


@user.command("locks")
def user_locks() -> None:
    """Accounts and addresses with failed attempts counted: key, failures, locked until (district time)."""
    with new_session() as session:
        tz = clock.zone_of(session)
        for row in throttle.locks(session):
            until = clock.shown(row.locked_until, tz, seconds=True)
            click.echo(f"{row.key}\t{row.failures}\t{until}")


@user.command("unlock")
@click.argument("name_or_address")
def user_unlock(name_or_address: str) -> None:
    """Lift the lock of an account name or client address and forget its failures."""
    with new_session() as session:
        cleared = throttle.unlock(session, name_or_address)
        audit.record(session, "lock_lifted", "throttle", name_or_address, before={"keys": cleared})
        session.commit()
    click.echo(say("cli.user.unlocked", keys=", ".join(cleared)))
