"""Importing contracts: the file's own checks here, then gis.cadres.contracts' one importer (sync)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text

from data.io.check import RowErrors
from data.io.read import Table
from data.io.staging import ImportReport, count_changes, geom_hex, stage
from gis.core import clock


def import_contracts(session, t: Table, parsed, errors: RowErrors, report: ImportReport, progress: bool) -> None:
    v = t.values
    cadres = set(session.scalars(text("SELECT code FROM cadres")))
    codes = set(session.scalars(text("SELECT code FROM grid_codes")))
    has_geom = ~shapely.is_missing(t.geoms) & ~shapely.is_empty(t.geoms)
    today = np.datetime64(clock.today(session), "D")
    start = np.where(np.isnat(parsed["valid_from"]), today, parsed["valid_from"])
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
    frame = pd.DataFrame({"row": np.arange(t.n), "cadre_code": v["cadre_code"], "grid_code": v["grid_code"],
                          "role": v["role"], "valid_from": start.astype(str),
                          "valid_to": np.where(np.isnat(end), "", end.astype(str)), "geom": geom_hex(t.geoms)})
    stage(session, "stage_contracts", "row int, cadre_code text, grid_code text, role text, valid_from date, "
           "valid_to date, geom geometry(MultiPolygon, 4326)", frame)
    # A contract is the same one when cadre, grid (or drawn area) and start date match.
    session.execute(text("""
        CREATE TEMP TABLE plan_contracts ON COMMIT DROP AS
        SELECT s.*, c.id AS cadre_id, k.id AS kid, k.role AS old_role, k.valid_to AS old_valid_to,
               (k.id IS NOT NULL AND (k.role, k.valid_to) IS DISTINCT FROM (s.role, s.valid_to)) AS changed
        FROM stage_contracts s JOIN cadres c ON c.code = s.cadre_code
        LEFT JOIN LATERAL (
            SELECT k.id, k.role, k.valid_to FROM contracts k
            WHERE k.cadre_id = c.id AND k.valid_from = s.valid_from
              AND (k.grid_code = NULLIF(s.grid_code, '') OR (s.geom IS NOT NULL AND k.geom IS NOT NULL
                   AND ST_Equals(k.geom, s.geom)))
            ORDER BY k.id LIMIT 1) k ON true
    """))
    # Issue 5: a cadre holds a grid at most once at a time (exclusion constraint on contracts);
    # overlapping rows, with each other or with stored contracts, are row errors, not a crash.
    clashes = session.execute(text("""
        SELECT p.row, 'cadre ' || p.cadre_code || ' already holds grid ' || p.grid_code || ' from '
               || k.valid_from || coalesce(' to ' || k.valid_to, '') || ' (contract ' || k.id || ')'
        FROM plan_contracts p JOIN contracts k ON k.cadre_id = p.cadre_id AND k.grid_code = p.grid_code
        WHERE k.id IS DISTINCT FROM p.kid
          AND daterange(p.valid_from, p.valid_to) && daterange(k.valid_from, k.valid_to)
        UNION ALL
        SELECT b.row, 'cadre ' || b.cadre_code || ' holds grid ' || b.grid_code
               || ' twice over overlapping dates (see row ' || (a.row + 1) || ')'
        FROM plan_contracts a JOIN plan_contracts b
          ON a.cadre_id = b.cadre_id AND a.grid_code = b.grid_code AND a.grid_code <> '' AND a.row < b.row
        WHERE daterange(a.valid_from, a.valid_to) && daterange(b.valid_from, b.valid_to)
    """)).all()
    for row, message in clashes:
        errors.add(row, message)
    errors.raise_if_any(t.path, "contracts")
    count_changes(session, report, """
        SELECT count(*) FILTER (WHERE kid IS NULL), count(*) FILTER (WHERE changed),
               count(*) FILTER (WHERE kid IS NOT NULL AND NOT changed) FROM plan_contracts
    """)
    # Who holds what is accountable: every contract the import makes or changes gets an audit
    # entry, as contracts made through `gridgov contract` and the API do (gis/cadres/contracts.py).
    session.execute(text("""
        WITH changed AS (
            UPDATE contracts k SET role = p.role, valid_to = p.valid_to FROM plan_contracts p
            WHERE k.id = p.kid AND p.changed
            RETURNING k.id, p.old_role, p.old_valid_to, k.role, k.valid_to
        )
        INSERT INTO audit_log (action, entity, entity_id, before, after)
        SELECT 'contract.import', 'contract', id::text,
               jsonb_build_object('role', old_role, 'valid_to', old_valid_to),
               jsonb_build_object('role', role, 'valid_to', valid_to)
        FROM changed ORDER BY id
    """))
    session.execute(text("""
        WITH made AS (
            INSERT INTO contracts (cadre_id, grid_code, geom, role, valid_from, valid_to)
            SELECT cadre_id, NULLIF(grid_code, ''), geom, role, valid_from, valid_to FROM plan_contracts
            WHERE kid IS NULL ORDER BY row
            RETURNING id, cadre_id, grid_code, geom, role, valid_from, valid_to
        )
        INSERT INTO audit_log (action, entity, entity_id, after)
        SELECT 'contract.import', 'contract', id::text,
               jsonb_build_object('cadre_id', cadre_id, 'grid_code', grid_code, 'role', role,
                                  'geometry', ST_AsGeoJSON(geom)::jsonb, 'valid_from', valid_from,
                                  'valid_to', valid_to)
        FROM made ORDER BY id
    """))
