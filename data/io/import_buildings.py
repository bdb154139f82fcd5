"""Importing buildings: each footprint gets its grid by the rule of gis.spatial.buildings."""
from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import text

from data.bulk import Progress
from data.io.check import RowErrors
from data.io.read import Table
from data.io.staging import ImportReport, count_changes, geom_hex, ints, stage, where_rows
from gis.spatial.buildings import footprint_grids_sql


def import_buildings(session, t: Table, parsed, errors: RowErrors, report: ImportReport, progress: bool) -> None:
    """Buildings by code, each given its grid by the one rule (those in no grid listed as a warning)."""
    errors.raise_if_any(t.path, "buildings")
    v = t.values
    frame = pd.DataFrame({"id": np.arange(t.n), "code": v["code"], "name": v["name"],
                          "floors": ints(parsed, "floors", None), "households": ints(parsed, "households", None),
                          "population": ints(parsed, "population", None), "geom": geom_hex(t.geoms)})
    bar = Progress("buildings", t.n, progress) if progress else None
    stage(session, "stage_buildings", "id bigint, code text, name text, floors int, households int, "
           "population int, geom geometry(MultiPolygon, 4326)", frame, bar)
    if bar:
        bar.close()
    # The grid of every footprint in the file, by the rule of gis.spatial.buildings.
    session.execute(text(f"""
        CREATE TEMP TABLE plan_buildings ON COMMIT DROP AS
        SELECT s.*, m.grid_id, b.id AS bid,
               (b.id IS NOT NULL AND (NOT ST_Equals(b.geom, s.geom) OR b.name IS DISTINCT FROM NULLIF(s.name, '')
                   OR b.floors IS DISTINCT FROM COALESCE(s.floors, b.floors)
                   OR b.households IS DISTINCT FROM COALESCE(s.households, b.households)
                   OR b.population IS DISTINCT FROM COALESCE(s.population, b.population))) AS changed
        FROM stage_buildings s
        LEFT JOIN ({footprint_grids_sql('stage_buildings')}) m ON m.id = s.id
        LEFT JOIN buildings b ON b.code = s.code
    """))
    outside = list(session.scalars(text("SELECT id FROM plan_buildings WHERE grid_id IS NULL ORDER BY id")))
    if outside:
        many = len(outside) > 1
        report.warnings.append(f"{len(outside):,} building{'s lie' if many else ' lies'} outside every current "
                               f"grid and get{'' if many else 's'} no grid ({where_rows(outside)})")
    count_changes(session, report, """
        SELECT count(*) FILTER (WHERE bid IS NULL), count(*) FILTER (WHERE changed),
               count(*) FILTER (WHERE bid IS NOT NULL AND NOT changed) FROM plan_buildings
    """)
    session.execute(text("""
        UPDATE buildings b SET name = NULLIF(p.name, ''), geom = p.geom, floors = COALESCE(p.floors, b.floors),
            households = COALESCE(p.households, b.households), population = COALESCE(p.population, b.population),
            grid_id = p.grid_id
        FROM plan_buildings p WHERE b.id = p.bid AND p.changed
    """))
    session.execute(text("""
        INSERT INTO buildings (code, name, geom, floors, households, population, grid_id)
        SELECT code, NULLIF(name, ''), geom, floors, COALESCE(households, 0), COALESCE(population, 0), grid_id
        FROM plan_buildings WHERE bid IS NULL ORDER BY id
    """))
