"""`gridgov duties` (issue 25): departments, their members, the responsibility list's import and its check."""
from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import select

from api.cli.common import new_session
from gis.core.errors import InvalidInput
from gis.core.models import LEVELS, User
from gis.duties import (
    create_department,
    decode_csv,
    department_by_code,
    departments_csv,
    gaps,
    import_departments,
    import_responsibilities,
    set_member,
)
from webmap.catalog import say


@click.group("duties")
def duties() -> None:
    """Departments and the responsibility list (权责清单): add, import, check."""


@duties.command("department")
@click.argument("code")
@click.argument("name")
@click.option("--level", required=True, type=click.Choice(["district", "street", "community"]))
@click.option("--area", help="The admin area's code it serves (default: the whole district).")
@click.option("--contact", default="")
def add_department(code, name, level, area, contact) -> None:
    """Add a department."""
    with new_session() as session:
        made = create_department(session, code, name, level, area_code=area, contact=contact)
        session.commit()
        click.echo(say("cli.duties.department_added", code=made.code, name=made.name))


@duties.command("departments")
@click.option("--import", "source", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Add the departments of this CSV (UTF-8 or GB18030): all or none.")
def departments(source: Path | None) -> None:
    """Every department as CSV (code, name, level, area, contact), or --import such a file."""
    with new_session() as session:
        if source is None:
            click.echo(departments_csv(session), nl=False)
            return
        added = import_departments(session, decode_csv(source.read_bytes()))
        session.commit()
        click.echo(say("cli.duties.departments_imported", n=added))


@duties.command("member")
@click.argument("user_name")
@click.argument("code")
def add_member(user_name, code) -> None:
    """Make a user a member of the department with CODE."""
    with new_session() as session:
        user = session.scalar(select(User).where(User.name == user_name))
        if user is None:
            raise InvalidInput("Unknown user", f"No user {user_name!r}.")
        set_member(session, user, department_by_code(session, code))
        session.commit()
        click.echo(say("cli.duties.member_set", user=user.name, code=code))


@duties.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check every row, write nothing.")
def import_list(path: Path, dry_run: bool) -> None:
    """Import the responsibility list from a CSV (UTF-8 or GB18030, English or Chinese headings): all or none."""
    with new_session() as session:
        report = import_responsibilities(session, decode_csv(path.read_bytes()), dry_run=dry_run)
        if dry_run:
            session.rollback()
            click.echo(say("cli.duties.checked", rows=report.rows))
        else:
            session.commit()
            click.echo(say("cli.duties.imported", created=report.created, rows=report.rows))


@duties.command("check")
@click.option("--level", "levels", multiple=True, type=click.Choice(LEVELS), help="Only these levels (repeatable).")
def check(levels) -> None:
    """Which categories have no owner at some level in some street; exits 1 when any."""
    with new_session() as session:
        found = gaps(session, levels=tuple(levels) or LEVELS)
    for gap in found:
        click.echo(say("cli.duties.gap", street=gap.street, street_name=gap.street_name,
                       community_name=gap.community_name, category=gap.category,
                       category_name=gap.category_name, level=gap.level))
    click.echo(say("cli.duties.gaps", n=len(found)) if found else say("cli.duties.no_gaps"))
    if found:
        raise SystemExit(1)
