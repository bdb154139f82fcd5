"""`gridgov assign`: (re)assign events to grids (issue 4)."""
from __future__ import annotations

import time

import click

from api.cli.common import new_session
from gis.core.models import ASSIGN_STATUSES, AuditEntry
from gis.spatial.assign import assign_events
from webmap.catalog import say


@click.command("assign")
@click.option("--all", "scope", flag_value="all", default=True, help="Every event (the default).")
@click.option("--unassigned", "scope", flag_value="unassigned", help="Events without a grid yet.")
@click.option("--grid", "grid_code", metavar="CODE", help="Events of grid CODE and within snap distance of it.")
@click.option("--snap-m", type=float, default=30.0, show_default=True, envvar="GRIDGOV_SNAP_M",
              help="Snap points this close (metres) to the nearest grid.")
@click.option("--quiet", is_flag=True, help="No progress, only the summary.")
def assign(scope: str, grid_code: str | None, snap_m: float, quiet: bool) -> None:
    """(Re)assign events to grids set-wise in SQL, with progress and a summary by status."""
    if grid_code and scope == "unassigned":
        raise click.UsageError(say("cli.assign.one_scope"))
    scope = grid_code or scope
    start = time.perf_counter()
    with new_session() as session:
        counts = assign_events(session, scope=scope, snap_m=snap_m, progress=not quiet)
        session.add(AuditEntry(action="assign", entity="events", entity_id=scope,
                               after=dict(counts, snap_m=snap_m)))
        session.commit()
    seconds = time.perf_counter() - start
    total = sum(counts[s] for s in ASSIGN_STATUSES)
    rate = say("cli.assign.rate", n=f"{total / seconds:,.0f}") if seconds > 0 and total else ""
    click.echo(say("cli.assign.done", total=total, scope=repr(scope), seconds=f"{seconds:.1f}", rate=rate,
                   changed=counts["changed"]))
    for status in ASSIGN_STATUSES:
        click.echo(f"  {status:<10} {counts[status]:>10}")
