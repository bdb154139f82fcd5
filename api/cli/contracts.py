"""`gridgov contract add|end|list|import`: cadres' contracts (issue 5)."""
from __future__ import annotations

import click

from api.cli.common import new_session
from data.io import read_contract_file
from gis.cadres.contracts import create_contract, end_contract, import_contracts, list_contracts, parse_date
from gis.core.errors import InvalidInput
from webmap.catalog import say


def _describe(contract) -> str:
    what = say("cli.contract.grid", code=contract.grid_code) if contract.grid_code else say("cli.contract.polygon")
    until = say("cli.contract.until", date=contract.valid_to) if contract.valid_to else say("cli.contract.open_ended")
    return say("cli.contract.describe", id=contract.id, cadre=contract.cadre.code, type=contract.cadre.type,
               role=contract.role, what=what, start=contract.valid_from, until=until)


@click.group("contract")
def contract() -> None:
    """Cadres' contracts (包片): whole grids by code, or drawn polygons."""


@contract.command("add")
@click.argument("cadre_code")
@click.option("--grid", "grid_code", help="Contract this whole grid (15-digit code).")
@click.option("--polygon", type=click.Path(dir_okay=False),
              help="Contract a drawn polygon: a file with one (Multi)Polygon feature (GeoJSON, GeoPackage, …).")
@click.option("--role", required=True, help="e.g. 包片领导, 联系人, 网格长.")
@click.option("--from", "valid_from", help="First day in force, YYYY-MM-DD (default today).")
@click.option("--to", "valid_to", help="First day no longer in force, YYYY-MM-DD (default open-ended).")
def add(cadre_code: str, grid_code: str | None, polygon: str | None, role: str, valid_from: str | None,
        valid_to: str | None) -> None:
    """Contract a grid or a drawn polygon to a cadre."""
    geometry = None
    if polygon:
        rows = read_contract_file(polygon)
        if len(rows) != 1 or rows[0].get("geometry") is None:
            raise InvalidInput("One polygon expected",
                               f"{polygon} holds {len(rows)} features; give a file with exactly one polygon, "
                               "or use `gridgov contract import` for many.")
        geometry = rows[0]["geometry"]
    with new_session() as session:
        made = create_contract(session, cadre_code, grid_code=grid_code, geometry=geometry, role=role,
                               valid_from=valid_from, valid_to=valid_to)
        session.commit()
        click.echo(_describe(made))


@contract.command("end")
@click.argument("contract_id", type=int)
@click.option("--on", "on", help="First day no longer in force, YYYY-MM-DD (default today).")
def end(contract_id: int, on: str | None) -> None:
    """End a contract: from that day it no longer holds."""
    with new_session() as session:
        ended = end_contract(session, contract_id, on)
        session.commit()
        click.echo(_describe(ended))


@contract.command("list")
@click.option("--cadre", "cadre_code", help="Only this cadre's contracts.")
@click.option("--grid", "grid_code", help="Only contracts on this grid code.")
@click.option("--at", help="In force on this day, YYYY-MM-DD (default today).")
@click.option("--all", "include_ended", is_flag=True, help="Every contract, ended or not yet started too.")
def list_(cadre_code: str | None, grid_code: str | None, at: str | None, include_ended: bool) -> None:
    """List contracts, tab-separated."""
    with new_session() as session:
        rows = list_contracts(session, cadre_code=cadre_code, grid_code=grid_code, at=parse_date(at, "at"),
                              include_ended=include_ended)
        click.echo("\t".join(("id", "cadre", "type", "grid_code", "role", "valid_from", "valid_to", "flag")))
        for c in rows:
            click.echo("\t".join(str(v) for v in (c.id, c.cadre.code, c.cadre.type, c.grid_code or "polygon",
                                                  c.role, c.valid_from, c.valid_to or "", c.flag or "")))


@contract.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check every row and say what would change; change nothing.")
def import_(path: str, dry_run: bool) -> None:
    """Import contracts from a CSV (cadre_code, grid_code, role, valid_from, valid_to) or a polygon file."""
    rows = read_contract_file(path)
    with new_session() as session:
        report = import_contracts(session, rows, dry_run=dry_run)
        if dry_run:
            session.rollback()
            click.echo(say("cli.contract.would_create", rows=report.rows, n=report.rows))
        else:
            session.commit()
            click.echo(say("cli.contract.created", rows=report.rows, n=report.created))
