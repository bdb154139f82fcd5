"""`gridgov audit [filters]` and `gridgov audit purge`: read the audit trail, remove rows past the retention."""
from __future__ import annotations

import datetime as dt
import json

import click

from api.cli.common import workflow_session
from api.listing import more_line
from gis.core import clock
from gis.core.audit_query import AuditFilter, purge, query_audit
from webmap.catalog import say


def _moment(value: str | None, tz) -> dt.datetime | None:
    if not value:
        return None
    try:
        return clock.local(dt.datetime.fromisoformat(value), tz)
    except ValueError:
        raise click.BadParameter(say("cli.audit.bad_moment", value=repr(value))) from None


def _changes(row: dict) -> str:
    text = json.dumps(row["after"] if row["after"] is not None else row["before"], ensure_ascii=False)
    return text if len(text) <= 60 else text[:59] + "…"


@click.group(invoke_without_command=True)
@click.option("--since", help="From this date or time (the district's local time), inclusive.")
@click.option("--until", help="Before this date or time (local), exclusive.")
@click.option("--actor", help="Only this user (their name at the time, or the OS user for the CLI).")
@click.option("--entity", help="Only rows about this kind of thing: event, user, setting, contract, grid_edit, …")
@click.option("--action", help="Only this action (e.g. user.create); ending in '.' a whole family (event.).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object: rows and rows_omitted.")
@click.pass_context
def audit(ctx: click.Context, since, until, actor, entity, action, limit: int, as_json: bool) -> None:
    """The audit trail: who changed or exported what, when (local time), how and from where."""
    if ctx.invoked_subcommand is not None:
        return
    with workflow_session() as session:
        tz = clock.zone_of(session)
        flt = AuditFilter(since=_moment(since, tz), until=_moment(until, tz), actor=actor, entity=entity,
                          action=action)
        rows, omitted = query_audit(session, flt, limit=limit)
    if as_json:
        click.echo(json.dumps({"rows": rows, "rows_omitted": omitted}, ensure_ascii=False, default=str))
        return
    click.echo(say("cli.audit.header"))  # a table for people; --json is the machine's form
    for row in rows:
        when = clock.shown(dt.datetime.fromisoformat(row["at"]), tz, seconds=True)
        subject = f"{row['entity']} {row['entity_id'] or ''}".rstrip()
        click.echo("\t".join([when, row["actor"] or "—", row["via"] or "—", row["address"] or "—", row["action"],
                               subject, _changes(row), row["request_id"] or "—"]))
    if omitted:
        click.echo(more_line(omitted))


@audit.command("purge")
def audit_purge() -> None:
    """Delete audit rows older than the setting audit_retention_days (at least 180)."""
    with workflow_session() as session:
        removed, days = purge(session)
        session.commit()
    click.echo(say("cli.audit.purged", n=f"{removed:,}", days=days))
