"""Importing contracts: the file's own checks here, then gis.cadres.contracts' one importer, syncing."""
from __future__ import annotations

import numpy as np
import shapely
from sqlalchemy import text

from data.io.check import RowErrors
from data.io.read import Table
from data.io.staging import ImportReport
from gis.cadres.contracts import ContractRow, plan_import, today


def import_contracts(session, t: Table, parsed, errors: RowErrors, report: ImportReport, progress: bool) -> None:
    """Contracts by cadre + grid (or drawn area) + valid_from: a row naming a stored contract sets its
    role and end, the others are added (gis.cadres.contracts.importing, sync), every change audited."""
    v = t.values
    cadres = set(session.scalars(text("SELECT code FROM cadres")))
    codes = set(session.scalars(text("SELECT code FROM grid_codes")))
    has_geom = ~shapely.is_missing(t.geoms) & ~shapely.is_empty(t.geoms)
    day = np.datetime64(today(session), "D")
    start = np.where(np.isnat(parsed["valid_from"]), day, parsed["valid_from"])
    end = parsed["valid_to"]
    for i in range(t.n):
        cadre, grid = v["cadre_code"][i], v["grid_code"][i]
        if cadre and cadre not in cadres:
            errors.add(i, f"unknown cadre code {cadre}: import the cadres first")
        if grid and has_geom[i]:
            errors.add(i, "give either a grid_code or a drawn polygon, not both")
        elif not grid and not has_geom[i]:
            errors.add(i, "needs a grid_code or a drawn polygon")
        elif grid and grid not in codes:
            errors.add(i, f"unknown grid code {grid}")
        if not np.isnat(end[i]) and end[i] <= start[i]:
            errors.add(i, f"valid_to {end[i]} must be after valid_from {start[i]}")
    errors.raise_if_any(t.path, "contracts")
    # The contract rules (grids in force, drawn areas over a grid, one holding at a time) are the
    # importer's; its problems join this file's, by row.
    rows = [ContractRow(errors.where(i), cadre_code=v["cadre_code"][i], grid_code=v["grid_code"][i] or None,
                        geom=_multi(t.geoms[i]) if has_geom[i] else None, role=v["role"][i],
                        valid_from=start[i].item(), valid_to=None if np.isnat(end[i]) else end[i].item())
            for i in range(t.n)]
    plan = plan_import(session, rows, sync=True)
    for i, row in enumerate(rows):
        for message, _kind in row.problems:
            errors.add(i, message)
    errors.raise_if_any(t.path, "contracts")
    report.added, report.updated, report.unchanged = plan.added, plan.updated, plan.unchanged
    plan.write()


def _multi(geom) -> shapely.MultiPolygon:
    return geom if isinstance(geom, shapely.MultiPolygon) else shapely.MultiPolygon([geom])
