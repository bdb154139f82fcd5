"""The demo's departments and responsibility list, expanded from the tables in data/duties/ over its streets
and communities, and written through the one importer (gis.duties)."""
from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.duties import create_department, import_responsibilities

FOLDER = Path(__file__).resolve().parent.parent / "duties"
VALID_FROM = dt.date(2020, 1, 1)  # before every demo case
LIST_COLUMNS = ("category", "major_code", "level", "area", "owner", "co_departments", "time_limit_hours",
                "valid_from")


def _table(name: str) -> list[dict]:
    with (FOLDER / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _places(session: Session, each: str) -> list[dict]:
    # One entry per place a template row is repeated for: none (once), every street, every community.
    if not each:
        return [{"area": "", "street": "", "community": "", "name": ""}]
    rows = session.execute(text("""
        SELECT a.code, a.name, coalesce(p.code, a.code) AS street FROM admin_areas a
          LEFT JOIN admin_areas p ON p.id = a.parent_id AND a.level = 'community'
         WHERE a.level = :level ORDER BY a.code"""), {"level": each})
    return [{"area": code, "name": name, "street": street[6:], "community": code[6:]} for code, name, street in rows]


def load_duties(session: Session) -> dict[str, int]:
    """Add the demo's departments and its responsibility list; returns how many of each."""
    departments = 0
    for row in _table("departments.csv"):
        for place in _places(session, row["each"]):
            suffix = place["community"] if row["each"] == "community" else place["street"]
            create_department(session, row["code"].format(suffix=suffix), row["name"].format(name=place["name"]),
                              row["level"], area_code=place["area"] or None)
            departments += 1
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(LIST_COLUMNS)
    for row in _table("responsibilities.csv"):
        for place in _places(session, row["each"]):
            fill = {"street": place["street"], "community": place["community"]}
            writer.writerow([row["category"], row["major_code"], row["level"], place["area"],
                             row["owner"].format(**fill), row["co_departments"].format(**fill).replace(",", ";"),
                             row["time_limit_hours"], VALID_FROM.isoformat()])
    report = import_responsibilities(session, out.getvalue())
    return {"departments": departments, "responsibilities": report.created}
