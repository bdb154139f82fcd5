"""`gridgov grids check|history`: is the partition whole, and a grid's versions (issue 7)."""
from __future__ import annotations

import json
import sys
import time

import click

from api.cli.common import new_session
from api.listing import listed
from gis.core.errors import GridgovError
from gis.spatial.history import grid_history
from gis.spatial.topology import Rules, validate_partition
from webmap.catalog import env_lang, problem_text, say


@click.group("grids")
def grids() -> None:
    """Grid boundaries: check the partition, read a grid's history."""


@grids.command("check")
@click.argument("area", required=False)
@click.option("--limit", default=50, show_default=True, help="List at most this many problems of each kind.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON.")
def check(area: str | None, limit: int, as_json: bool) -> None:
    """Do the current grids tile every community of AREA (default: all)? Exit status 1 on errors."""
    with new_session() as session:
        start = time.perf_counter()
        try:
            report = validate_partition(session, area, Rules())
        except GridgovError as exc:
            raise click.ClickException(str(exc)) from None
        seconds = time.perf_counter() - start
    if as_json:
        click.echo(json.dumps(report.to_dict(limit), ensure_ascii=False, indent=1))
    else:
        lang = env_lang()
        for kind, items in (("cli.grids.error", report.errors), ("cli.grids.warning", report.warnings)):
            for line in listed(items, limit, lambda p, kind=kind: say(kind, detail=problem_text(p.to_dict(), lang))):
                click.echo(line)
        counts = ", ".join(f"{n} {rule}" for rule, n in sorted(report.counts(report.errors).items()))
        click.echo(say("cli.grids.checked", communities=report.communities, grids=report.grids,
                       seconds=f"{seconds:.2f}", counts=counts or say("cli.grids.no_errors"),
                       warnings=len(report.warnings)))
    sys.exit(0 if report.valid else 1)


@grids.command("history")
@click.argument("code")
def history(code: str) -> None:
    """Every version of grid CODE: dates, area, the edit that opened it and its lineage."""
    with new_session() as session:
        try:
            h = grid_history(session, code, geometry=False)
        except GridgovError as exc:
            raise click.ClickException(str(exc)) from None
    for v in h["versions"]:
        edit = v["opened_by"]
        by = say("cli.grids.opened_by", id=edit["id"], op=edit["op"], user=edit["user"] or "—") if edit else ""
        if edit and edit.get("note"):
            by += say("cli.grids.note", note=edit["note"])
        links = "; ".join([say("cli.grids.from", code=p["code"], version=p["version"], relation=p["relation"])
                           for p in v["parents"]]
                          + [say("cli.grids.to", code=c["code"], version=c["version"], relation=c["relation"])
                             for c in v["children"]])
        click.echo(say("cli.grids.version", version=v["version"], name=v["name"],
                       start=v["valid_from"] or say("cli.grids.before_records"),
                       end=v["valid_to"] or say("cli.grids.now"), area=f"{v['area_m2']:,.1f}", by=by,
                       links="  " + links if links else ""))
    if h["retired"]:
        click.echo(say("cli.grids.retired", code=code))
