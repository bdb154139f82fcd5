"""`gridgov coverage AREA`: how much of a district, street or community cadres' contracts cover (issue 5)."""
from __future__ import annotations

import csv
import sys

import click

from api.cli.common import new_session
from api.listing import listed
from gis.cadres.coverage import CSV_COLUMNS, coverage_of

LISTED = 20  # grids listed of each kind; --csv gives them all


@click.command("coverage")
@click.argument("area_code")
@click.option("--type", "cadre_type", help="Only contracts of cadres of this type.")
@click.option("--at", help="As of this day, YYYY-MM-DD (default today).")
@click.option("--csv", "as_csv", is_flag=True, help="The full report as CSV on stdout (every grid listed).")
def coverage(area_code: str, cadre_type: str | None, at: str | None, as_csv: bool) -> None:
    """Coverage of a district, street or community by cadres' contracts."""
    with new_session() as session:
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
