"""`gridgov contract add|end|list|import` and `gridgov coverage` (issue 5); api/cli.py registers them."""
from __future__ import annotations

import csv
import sys
from contextlib import contextmanager

import click

from api.listing import listed

LISTED = 20  # grids listed of each kind; --csv gives them all


@contextmanager
def _session():
    from gis.core.db import make_engine, resolve_database_url, session_factory

    engine = make_engine(resolve_database_url())
    try:
        with session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


def _describe(contract) -> str:
    what = f"grid {contract.grid_code}" if contract.grid_code else "a drawn polygon"
    until = f"until {contract.valid_to} (exclusive)" if contract.valid_to else "open-ended"
    return (f"contract {contract.id}: {contract.cadre.code} ({contract.cadre.type}, {contract.role}) holds "
            f"{what} from {contract.valid_from}, {until}")


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
    from data.io import read_contract_file
    from gis.cadres.contracts import create_contract
    from gis.core.errors import InvalidInput

    geometry = None
    if polygon:
        rows = read_contract_file(polygon)
        if len(rows) != 1 or rows[0].get("geometry") is None:
            raise InvalidInput("One polygon expected",
                               f"{polygon} holds {len(rows)} features; give a file with exactly one polygon, "
                               "or use `gridgov contract import` for many.")
        geometry = rows[0]["geometry"]
    with _session() as session:
        made = create_contract(session, cadre_code, grid_code=grid_code, geometry=geometry, role=role,
                               valid_from=valid_from, valid_to=valid_to)
        session.commit()
        click.echo(_describe(made))


@contract.command("end")
@click.argument("contract_id", type=int)
@click.option("--on", "on", help="First day no longer in force, YYYY-MM-DD (default today).")
def end(contract_id: int, on: str | None) -> None:
    """End a contract: from that day it no longer holds."""
    from gis.cadres.contracts import end_contract

    with _session() as session:
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
    from gis.cadres.contracts import list_contracts, parse_date

    with _session() as session:
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
    from data.io import read_contract_file
    from gis.cadres.contracts import import_contracts

    rows = read_contract_file(path)
    with _session() as session:
        report = import_contracts(session, rows, dry_run=dry_run)
        if dry_run:
            session.rollback()
            click.echo(f"{report.rows} rows checked; would create {report.rows} contracts (dry run, nothing changed)")
        else:
            session.commit()
            click.echo(f"{report.rows} rows checked; created {report.created} contracts")


@click.command("coverage")
@click.argument("area_code")
@click.option("--type", "cadre_type", help="Only contracts of cadres of this type.")
@click.option("--at", help="As of this day, YYYY-MM-DD (default today).")
@click.option("--csv", "as_csv", is_flag=True, help="The full report as CSV on stdout (every grid listed).")
def coverage(area_code: str, cadre_type: str | None, at: str | None, as_csv: bool) -> None:
    """Coverage of a district, street or community by cadres' contracts."""
    from gis.cadres.coverage import CSV_COLUMNS, coverage_of

    with _session() as session:
        result = coverage_of(session, area_code, cadre_type=cadre_type, at=at)
    if as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(result.csv_rows())
        return
    out = result.to_dict()
    ratio = "—" if out["coverage_ratio"] is None else f"{out['coverage_ratio']:.1%}"
    click.echo(f"{out['area']['name']} ({out['area']['code']}, {out['area']['level']}): "
               f"{result.grids} grids, {out['area_m2']:.0f} m², covered {out['covered_m2']:.0f} m² ({ratio})")
    for key in ("buildings", "households", "population"):
        part = out[key]
        share = "—" if part["ratio"] is None else f"{part['ratio']:.1%}"
        click.echo(f"  {key}: {part['covered']} of {part['total']} covered ({share})")
    balance = out["balance"]
    click.echo(f"  cadres: {len(out['cadres'])}; households max/median {balance['max_median_ratio']}, "
               f"Gini {balance['gini_households']}")
    click.echo(f"  uncovered grids: {len(out['uncovered_grids'])}")
    for line in listed(out["uncovered_grids"], LISTED, indent="    ",
                       render=lambda g: f"    {g['code']}  {g['name']}  open events {g['open_events']}"):
        click.echo(line)
    click.echo(f"  shared grids: {len(out['shared_grids'])}")
    for line in listed(out["shared_grids"], LISTED, indent="    ",
                       render=lambda g: f"    {g['code']}  {' '.join(g['cadres'])}"):
        click.echo(line)
