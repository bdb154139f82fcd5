"""Importing grids: inside their community, no overlaps, a new dated version when a boundary changes."""
from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import text

from data.io.check import RowErrors, grid_overlaps, outside_parent
from data.io.read import Table
from data.io.staging import ImportReport, geom_hex, ints, stage
from gis.core import dated
from gis.spatial.buildings import assign_buildings
from gis.spatial.codes import code_problem


def import_grids(session, t: Table, parsed, errors: RowErrors, report: ImportReport, progress: bool) -> None:
    """Grids by code: a new version when the boundary changes, the buildings of reshaped grids re-assigned."""
    v = t.values
    communities = set(session.scalars(text("SELECT code FROM admin_areas WHERE level = 'community'")))
    current = dict(session.execute(text(f"""
        SELECT g.code, a.code FROM grids g JOIN admin_areas a ON a.id = g.community_id WHERE {dated.current('g')}
    """)).all())
    issued = set(session.scalars(text("SELECT code FROM grid_codes")))
    for i in range(t.n):
        code, comm = v["code"][i], v["community_code"][i]
        if not code or not comm:
            continue
        problem = code_problem("grid", code, comm)
        if problem:
            errors.add(i, problem)
        elif comm not in communities:
            errors.add(i, f"unknown community code {comm}: import the areas first")
        elif code in current and current[code] != comm:
            errors.add(i, f"grid {code} belongs to community {current[code]}; a grid cannot move to another community")
        elif code in issued and code not in current:
            errors.add(i, f"grid code {code} was issued before and retired; codes are never reused — pick a new one")
    if errors.items:
        errors.raise_if_any(t.path, "grids")
    frame = pd.DataFrame({"row": np.arange(t.n), "code": v["code"], "name": v["name"],
                          "community_code": v["community_code"], "kind": v["kind"],
                          "households": ints(parsed, "households", None),
                          "population": ints(parsed, "population", None), "geom": geom_hex(t.geoms)})
    stage(session, "stage_grids", "row int, code text, name text, community_code text, kind text, "
           "households int, population int, geom geometry(MultiPolygon, 4326)", frame)
    for row, code, comm, m2 in outside_parent(session, "stage_grids", "community_code"):
        errors.add(row, f"grid {code} extends {m2:,.1f} m² outside its community {comm}")
    for row, code, other_row, other, m2 in grid_overlaps(session, "stage_grids"):
        where = f"grid {other} on row {other_row + 1}" if other_row is not None else f"current grid {other}"
        errors.add(row, f"grid {code} overlaps {where} by {m2:,.1f} m²")
    errors.raise_if_any(t.path, "grids")
    hh = "households" in t.present
    pop = "population" in t.present
    classify = f"""
        SELECT s.*, g.id AS gid, g.version,
               (g.id IS NOT NULL AND NOT ST_Equals(g.geom, s.geom)) AS reshaped,
               (g.id IS NOT NULL AND (g.name IS DISTINCT FROM s.name OR g.kind IS DISTINCT FROM s.kind
                  OR ({'g.households IS DISTINCT FROM s.households' if hh else 'false'})
                  OR ({'g.population IS DISTINCT FROM s.population' if pop else 'false'}))) AS renamed
        FROM stage_grids s LEFT JOIN grids g ON g.code = s.code AND {dated.current('g')}
    """
    session.execute(text(f"CREATE TEMP TABLE plan_grids ON COMMIT DROP AS {classify}"))
    added, reshaped, renamed, same = session.execute(text("""
        SELECT count(*) FILTER (WHERE gid IS NULL), count(*) FILTER (WHERE reshaped),
               count(*) FILTER (WHERE renamed AND NOT reshaped),
               count(*) FILTER (WHERE gid IS NOT NULL AND NOT reshaped AND NOT renamed) FROM plan_grids
    """)).one()
    report.added, report.updated, report.unchanged, report.new_versions = added, reshaped + renamed, same, reshaped
    affected = set(session.scalars(text("SELECT gid FROM plan_grids WHERE reshaped")))
    # A new boundary closes the current version and opens the next, both at this instant.
    session.execute(text("UPDATE grids g SET valid_to = now() FROM plan_grids p WHERE p.reshaped AND g.id = p.gid"))
    new_ids = session.scalars(text("""
        INSERT INTO grids (code, name, kind, community_id, geom, households, population, valid_from, version)
        SELECT p.code, p.name, p.kind, a.id, p.geom,
               COALESCE(p.households, old.households, 0), COALESCE(p.population, old.population, 0),
               CASE WHEN p.reshaped THEN now() END, COALESCE(p.version + 1, 1)
        FROM plan_grids p JOIN admin_areas a ON a.code = p.community_code
        LEFT JOIN grids old ON old.id = p.gid
        WHERE p.gid IS NULL OR p.reshaped
        ORDER BY p.row
        RETURNING id
    """)).all()
    session.execute(text(f"""
        UPDATE grids g SET name = p.name, kind = p.kind
            {', households = COALESCE(p.households, g.households)' if hh else ''}
            {', population = COALESCE(p.population, g.population)' if pop else ''}
        FROM plan_grids p WHERE g.id = p.gid AND p.renamed AND NOT p.reshaped
    """))
    if affected or new_ids:
        assign_buildings(session, grid_ids=affected | set(new_ids))
