"""Importing districts, streets and communities: codes against the hierarchy, parents first."""
from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import text

from data.io.check import RowErrors, outside_parent
from data.io.read import Table
from data.io.staging import ImportReport, count_changes, geom_hex, stage
from gis.core.models import AREA_LEVELS
from gis.spatial.codes import code_problem


def import_areas(session, t: Table, parsed, errors: RowErrors, report: ImportReport, progress: bool) -> None:
    """Districts, streets and communities by code, parents first; a part outside its parent is a warning."""
    v = t.values
    existing = dict(session.execute(text("SELECT code, level FROM admin_areas")).all())
    in_file = {c: lv for c, lv in zip(v["code"], v["level"], strict=True) if c}
    for i in range(t.n):
        level, code, parent = v["level"][i], v["code"][i], v["parent_code"][i] or None
        if not level or not code or level not in AREA_LEVELS:
            continue
        problem = code_problem(level, code, parent)
        if problem:
            errors.add(i, problem)
            continue
        if code in existing and existing[code] != level:
            errors.add(i, f"code {code} is already a {existing[code]}, not a {level}")
        if parent:
            want = {"street": "district", "community": "street"}[level]
            have = in_file.get(parent) or existing.get(parent)
            if have is None:
                errors.add(i, f"unknown parent code {parent}: no {want} has it in this file or the database")
            elif have != want:
                errors.add(i, f"parent {parent} is a {have}; a {level}'s parent must be a {want}")
    errors.raise_if_any(t.path, "areas")
    frame = pd.DataFrame({"row": np.arange(t.n), "level": v["level"], "code": v["code"], "name": v["name"],
                          "parent_code": v["parent_code"], "geom": geom_hex(t.geoms)})
    stage(session, "stage_areas", "row int, level text, code text, name text, parent_code text, "
           "geom geometry(MultiPolygon, 4326)", frame)
    for row, code, parent, m2 in outside_parent(session, "stage_areas", "parent_code"):
        report.warnings.append(f"row {row + 1}: {code} extends {m2:,.0f} m² outside its parent {parent}")
    count_changes(session, report, """
        SELECT count(*) FILTER (WHERE a.id IS NULL),
               count(*) FILTER (WHERE a.id IS NOT NULL AND (a.name IS DISTINCT FROM s.name
                   OR a.parent_id IS DISTINCT FROM p.id OR NOT ST_Equals(a.geom, s.geom))),
               count(*) FILTER (WHERE a.id IS NOT NULL AND a.name = s.name AND a.parent_id IS NOT DISTINCT FROM p.id
                   AND ST_Equals(a.geom, s.geom))
        FROM stage_areas s LEFT JOIN admin_areas a ON a.code = s.code
        LEFT JOIN admin_areas p ON p.code = s.parent_code
    """)
    for level in AREA_LEVELS:  # parents first, so children find them
        session.execute(text("""
            INSERT INTO admin_areas (level, code, name, parent_id, geom)
            SELECT s.level, s.code, s.name, p.id, s.geom
            FROM stage_areas s LEFT JOIN admin_areas p ON p.code = NULLIF(s.parent_code, '')
            WHERE s.level = :level ORDER BY s.row
            ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, parent_id = EXCLUDED.parent_id,
                geom = EXCLUDED.geom
            WHERE admin_areas.name IS DISTINCT FROM EXCLUDED.name
               OR admin_areas.parent_id IS DISTINCT FROM EXCLUDED.parent_id
               OR NOT ST_Equals(admin_areas.geom, EXCLUDED.geom)
        """), {"level": level})
