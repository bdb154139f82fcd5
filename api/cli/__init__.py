"""The `gridgov` command: database, users, serving, data, contracts, grids, the workflow. Every command
honours DATABASE_URL.

Each group of commands is a module of this package that imports what it needs at its top. This
group names them without importing them: a command's module is loaded when the command runs or
its own help is asked for, so `gridgov --help` (0.08 s of CPU) does not pay for SQLAlchemy,
GeoPandas, Alembic, gunicorn and the gis rooms, which the command modules together take ~2 s to
import, nor does `gridgov db url` pay for GeoPandas. `python -m api.cli` runs api/cli/__main__.py,
so no module is ever imported twice.
"""
from __future__ import annotations

import getpass
import importlib
import sys

import click

from api.listing import listed
from gis.core.errors import GridgovError
from webmap.catalog import env_lang, problem_title, say

# name: (module:attribute, the first paragraph of the command's own help, which `gridgov --help`
# shows without importing the module). tests/test_house_imports.py checks they agree.
COMMANDS: dict[str, tuple[str, str]] = {
    "assign": ("api.cli.assign:assign",
               "(Re)assign events to grids set-wise in SQL, with progress and a summary by status."),
    "audit": ("api.cli.audit:audit",
              "The audit trail: who changed or exported what, when (local time), how and from where."),
    "contract": ("api.cli.contracts:contract", "Cadres' contracts (包片): whole grids by code, or drawn polygons."),
    "coverage": ("api.cli.coverage:coverage", "Coverage of a district, street or community by cadres' contracts."),
    "db": ("api.cli.db:db", "The database: the embedded PostGIS under var/pg, or DATABASE_URL when set."),
    "demo": ("api.cli.demo:demo", "Load the demo district 幸福湾区 into an empty database."),
    "duties": ("api.cli.duties:duties", "Departments and the responsibility list (权责清单): add, import, check."),
    "export": ("api.cli.io:export_layer",
               "Export a layer to FILE: .geojson, .gpkg, .shp, .zip (zipped Shapefile), .fgb or .csv."),
    "grids": ("api.cli.grids:grids", "Grid boundaries: check the partition, read a grid's history."),
    "import": ("api.cli.io:import_layer",
               "Import a layer FILE (GeoJSON, GeoPackage, Shapefile, zip, FlatGeobuf, CSV, OSM): all rows or none."),
    "run": ("api.cli.serve:run",
            "Everything `make run` does: database up, migrate, demo data if empty, demo users, serve."),
    "serve": ("api.cli.serve:serve", "Serve the API and pages with gunicorn (production server)."),
    "stats": ("api.cli.stats:stats", "The evaluation indicators: a table to read, or all of them as CSV or JSON."),
    "user": ("api.cli.users:user", "Users and their API tokens."),
    "workflow": ("api.cli.workflow:workflow", "The case workflow: deadlines, overdue flags and escalation, "
                                              "settings, the working-hours calendar."),
}


class Gridgov(click.Group):
    """The top group: loads a command's module on first use, and turns domain errors into one clear
    line and exit status 1, never a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command's name, loaded or not."""
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        """The command called `name`, importing its module the first time."""
        if name not in self.commands and name in COMMANDS:
            module, _, attribute = COMMANDS[name][0].partition(":")
            # deferred: the point of this group — only the command that runs loads its module (see above)
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return self.commands.get(name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list as click writes it, from COMMANDS' help for the commands not loaded yet."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, (self.commands.get(name) or click.Command(name, help=COMMANDS[name][1]))
                 .get_short_help_str(limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context):
        """Run the command as the operating-system user (the audit trail's actor, via `cli`); a
        GridgovError becomes its title (in GRIDGOV_LANG, else Chinese), detail and row errors on stderr, exit 1."""
        # deferred: gis.core.audit pulls in SQLAlchemy, which `gridgov --help` must not pay for
        from gis.core import audit

        try:
            with audit.acting(via="cli", actor=getpass.getuser()):
                return super().invoke(ctx)
        except GridgovError as exc:
            click.echo(say("cli.error", title=problem_title(exc.title, env_lang())[1]), err=True)
            if exc.detail:
                click.echo(f"  {exc.detail}", err=True)
            for line in listed(exc.extra.get("errors", []), 50, lambda row: f"  - {row}", indent="  ",
                               omitted_before=exc.extra.get("errors_omitted", 0)):
                click.echo(line, err=True)
            sys.exit(1)


@click.group(cls=Gridgov)
def main() -> None:
    """gridgov — GIS server for grid management (网格化管理)."""
