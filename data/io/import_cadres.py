"""Importing cadres: by code, organisation and phone changed only when the file has their columns."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
from sqlalchemy import text

from data.io.check import RowErrors
from data.io.read import Table
from data.io.staging import ImportReport, count_changes, stage


def import_cadres(session, t: Table, parsed, errors: RowErrors, report: ImportReport, progress: bool) -> None:
    """Cadres by code; organisation and phone change only when the file has those columns."""
    v = t.values
    for i in np.flatnonzero(v["phone"] != ""):
        if not re.fullmatch(r"[0-9+\-() ]{3,32}", v["phone"][i]):
            errors.add(i, f"phone {v['phone'][i]!r} is not a phone number (digits, spaces, + - ( ))")
    errors.raise_if_any(t.path, "cadres")
    frame = pd.DataFrame({"row": np.arange(t.n), "code": v["code"], "name": v["name"], "type": v["type"],
                          "organisation": v["organisation"], "phone": v["phone"]})
    stage(session, "stage_cadres", "row int, code text, name text, type text, organisation text, phone text", frame)
    org, phone = "organisation" in t.present, "phone" in t.present
    differs = ["c.name IS DISTINCT FROM s.name", "c.type IS DISTINCT FROM s.type"]
    if org:
        differs.append("c.organisation IS DISTINCT FROM NULLIF(s.organisation, '')")
    if phone:
        differs.append("c.phone IS DISTINCT FROM NULLIF(s.phone, '')")
    count_changes(session, report, f"""
        SELECT count(*) FILTER (WHERE c.id IS NULL),
               count(*) FILTER (WHERE c.id IS NOT NULL AND ({' OR '.join(differs)})),
               count(*) FILTER (WHERE c.id IS NOT NULL AND NOT ({' OR '.join(differs)}))
        FROM stage_cadres s LEFT JOIN cadres c ON c.code = s.code
    """)
    session.execute(text(f"""
        INSERT INTO cadres (code, name, type, organisation, phone)
        SELECT code, name, type, NULLIF(organisation, ''), NULLIF(phone, '') FROM stage_cadres ORDER BY row
        ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, type = EXCLUDED.type
            {', organisation = EXCLUDED.organisation' if org else ''}{', phone = EXCLUDED.phone' if phone else ''}
    """))
