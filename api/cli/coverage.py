"""`gridgov coverage AREA`: how much of a district, street or community cadres' contracts cover (issue 5)."""
from __future__ import annotations

import csv
import sys

import click

from api.cli.common import new_session
from api.listing import listed
from gis.cadres.coverage import CSV_COLUMNS, coverage_of
from webmap.catalog import say

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
    area = out["area"]
    click.echo(say("cli.coverage.area", name=area["name"], code=area["code"], level=say(f"level.{area['level']}"),
                   grids=result.grids, area=f"{out['area_m2']:,.0f}", covered=f"{out['covered_m2']:,.0f}", ratio=ratio))
    for key in ("buildings", "households", "population"):
        part = out[key]
        share = "—" if part["ratio"] is None else f"{part['ratio']:.1%}"
        click.echo("  " + say("cli.coverage.part", what=say(f"field.{key}"), covered=part["covered"],
                              total=part["total"], share=share))
    balance = out["balance"]
    click.echo("  " + say("cli.coverage.balance", n=len(out["cadres"]), ratio=balance["max_median_ratio"],
                          gini=balance["gini_households"]))
    click.echo("  " + say("cli.coverage.uncovered", n=len(out["uncovered_grids"])))
    for line in listed(out["uncovered_grids"], LISTED, indent="    ", render=lambda g: "    " + say(
            "cli.coverage.uncovered_row", code=g["code"], name=g["name"], open=g["open_events"])):
        click.echo(line)
    click.echo("  " + say("cli.coverage.shared", n=len(out["shared_grids"])))
    for line in listed(out["shared_grids"], LISTED, indent="    ",
                       render=lambda g: f"    {g['code']}  {' '.join(g['cadres'])}"):
        click.echo(line)
