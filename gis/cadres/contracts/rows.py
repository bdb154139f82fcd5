"""A contract row on its way in: parsed on its own, then checked against the database with every other
row at once (set-based, over a staging table), for one write or a whole import alike."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shapely.geometry import MultiPolygon
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.cadres.contracts.rules import ROLE_MAX, parse_date, polygon_from_geojson
from gis.core import dated
from gis.core.errors import Conflict, InvalidGeometry, InvalidInput

# The rows being checked or imported, in a temp table dropped at commit: `row` is the row's index,
# cadre_id its cadre, and with matching (an import that syncs) kid the stored contract it updates,
# whose role and end were old_role and old_valid_to.
STAGE = "stage_contract_rows"
Problem = tuple[str, type[InvalidInput] | type[Conflict]]


@dataclass
class ContractRow:
    """One contract to write, after parsing; `problems` collects what is wrong with it."""

    label: str  # what its errors are reported under: "line 7", "feature 2", "row 3 (line 4)", "contract"
    cadre_code: str = ""
    grid_code: str | None = None
    geom: MultiPolygon | None = None
    role: str = ""
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    cadre_id: int | None = None
    # (message, kind): the kind of the first problem decides the error a single create/change raises.
    problems: list[Problem] = field(default_factory=list)

    def fail(self, message: str, kind: type[InvalidInput] | type[Conflict] = InvalidInput) -> None:
        """Note a problem with this row."""
        self.problems.append((message, kind))

    @property
    def errors(self) -> list[str]:
        """Its problems under its label, e.g. "line 7: role is missing"."""
        return [f"{self.label}: {message}" for message, _ in self.problems]


def parse_row(raw: Mapping[str, Any], label: str, day: dt.date) -> ContractRow:
    """A row of a request, CSV or feature as a ContractRow: fields, polygon and dates checked on their own
    (an omitted valid_from is `day`)."""
    row = ContractRow(label)
    row.cadre_code = str(raw.get("cadre_code") or raw.get("cadre") or "").strip()
    if not row.cadre_code:
        row.fail("cadre_code is missing")
    grid = raw.get("grid_code")
    row.grid_code = str(grid).strip() if grid not in (None, "") else None
    geometry = raw.get("geometry")
    if row.grid_code and geometry is not None:
        row.fail("give grid_code or a geometry, not both")
    elif not row.grid_code and geometry is None:
        row.fail("grid_code is missing (or give a polygon geometry)")
    elif row.grid_code and not (len(row.grid_code) == 15 and row.grid_code.isdigit()):
        row.fail(f"grid_code {row.grid_code[:40]!r} is not a 15-digit grid code")
    elif geometry is not None:
        try:
            row.geom = polygon_from_geojson(geometry)
        except InvalidGeometry as exc:
            row.fail(f"{exc.title.lower()}: {exc.detail}", InvalidGeometry)
    row.role = str(raw.get("role") or "").strip()
    if not row.role:
        row.fail("role is missing (e.g. 包片领导, 联系人, 网格长)")
    elif len(row.role) > ROLE_MAX:
        row.fail(f"role is longer than {ROLE_MAX} characters")
    for name in ("valid_from", "valid_to"):
        try:
            setattr(row, name, parse_date(raw.get(name), name))
        except InvalidInput as exc:
            row.fail(exc.detail)
        else:
            if name == "valid_from" and row.valid_from is None:
                row.valid_from = day  # an omitted start means today
    if row.valid_from and row.valid_to and row.valid_to <= row.valid_from:
        row.fail(f"valid_to {row.valid_to} must be after valid_from {row.valid_from} (the range is half-open)")
    return row


def stage_rows(session: Session, rows: list[ContractRow]) -> None:
    """(Re)create the staging table and put the rows in it, one statement for all of them."""
    session.execute(text(f"DROP TABLE IF EXISTS {STAGE}"))
    session.execute(text(f"""
        CREATE TEMP TABLE {STAGE} (row int PRIMARY KEY, cadre_code text, grid_code text, role text,
            valid_from date, valid_to date, geom geometry(MultiPolygon, 4326), cadre_id int, kid int,
            old_role text, old_valid_to date) ON COMMIT DROP
    """))
    session.execute(text(f"""
        INSERT INTO {STAGE} (row, cadre_code, grid_code, role, valid_from, valid_to, geom)
        SELECT x.row, x.cadre_code, x.grid_code, x.role, x.valid_from, x.valid_to,
               ST_Multi(ST_GeomFromWKB(x.wkb, 4326))
        FROM unnest(CAST(:row AS int[]), CAST(:cadre_code AS text[]), CAST(:grid_code AS text[]),
                    CAST(:role AS text[]), CAST(:valid_from AS date[]), CAST(:valid_to AS date[]),
                    CAST(:wkb AS bytea[])) AS x(row, cadre_code, grid_code, role, valid_from, valid_to, wkb)
    """), {"row": list(range(len(rows))), "cadre_code": [r.cadre_code for r in rows],
           "grid_code": [r.grid_code for r in rows], "role": [r.role for r in rows],
           "valid_from": [r.valid_from for r in rows], "valid_to": [r.valid_to for r in rows],
           "wkb": [r.geom.wkb if r.geom is not None else None for r in rows]})
    if len(rows) > 100:
        session.execute(text(f"ANALYZE {STAGE}"))


def check_rows(session: Session, rows: list[ContractRow], *, match: bool = False,
               ignore_id: int | None = None) -> None:
    """Stage the rows and check them against the database, adding what is wrong to each row.

    Cadres exist; a grid code was issued and the grid has a version in force at some time during
    the contract; a polygon overlaps some grid; no cadre would hold the same grid twice at once,
    within the rows or with stored contracts (but `ignore_id`, the contract being changed). With
    `match`, each row is first matched to the stored contract it updates — same cadre, grid (or
    an equal drawn area) and valid_from — and may overlap that one. A check that needs a sound row
    skips rows with a problem already.
    """
    stage_rows(session, rows)
    cadre_ids = dict(session.execute(text(f"""
        UPDATE {STAGE} s SET cadre_id = c.id FROM cadres c WHERE c.code = s.cadre_code RETURNING s.row, c.id
    """)).all())
    for i, r in enumerate(rows):
        r.cadre_id = cadre_ids.get(i)
        if r.cadre_code and r.cadre_id is None:
            r.fail(f"unknown cadre_code {r.cadre_code[:40]!r}")

    grid_rows = [i for i, r in enumerate(rows) if r.grid_code and r.valid_from and not r.problems]
    if grid_rows:
        # A grid version [from, to) (timestamps, NULL = unbounded) against a contract's [start, end)
        # (dates, compared by the district's calendar day: a version retired during a day still counts).
        for i, issued, drawn in session.execute(text(f"""
            SELECT s.row, EXISTS (SELECT 1 FROM grid_codes c WHERE c.code = s.grid_code),
                   EXISTS (SELECT 1 FROM grids g WHERE g.code = s.grid_code
                             AND {dated.in_force_during('g', 's.valid_from', 's.valid_to')})
            FROM {STAGE} s WHERE s.row = ANY(:rows) ORDER BY s.row
        """), {"rows": grid_rows}):
            r = rows[i]
            if not issued:
                r.fail(f"unknown grid_code {r.grid_code}")
            elif not drawn:
                r.fail(f"grid {r.grid_code} has no version in force between {r.valid_from} and "
                       f"{r.valid_to or 'open end'} (it was retired, or not yet drawn)")

    poly_rows = [i for i, r in enumerate(rows) if r.geom is not None and not r.problems]
    if poly_rows:
        for i in session.scalars(text(f"""
            SELECT s.row FROM {STAGE} s
            WHERE s.row = ANY(:rows) AND NOT EXISTS (SELECT 1 FROM grids g WHERE ST_Intersects(g.geom, s.geom))
            ORDER BY s.row
        """), {"rows": poly_rows}):
            rows[i].fail("the polygon overlaps no grid (check its coordinates and CRS)")

    if match:
        session.execute(text(f"""
            UPDATE {STAGE} s SET kid = m.id, old_role = m.role, old_valid_to = m.valid_to
            FROM (SELECT DISTINCT ON (r.row) r.row, k.id, k.role, k.valid_to
                  FROM {STAGE} r JOIN contracts k ON k.cadre_id = r.cadre_id AND k.valid_from = r.valid_from
                   AND (k.grid_code = r.grid_code
                        OR r.geom IS NOT NULL AND k.geom IS NOT NULL AND ST_Equals(k.geom, r.geom))
                  ORDER BY r.row, k.id) m
            WHERE m.row = s.row
        """))

    # Same cadre, same grid, overlapping dates: within the rows, then against stored contracts.
    pending = [i for i in grid_rows if not rows[i].problems]
    if not pending:
        return
    for later, earlier in session.execute(text(f"""
        SELECT b.row, a.row FROM {STAGE} a
        JOIN {STAGE} b ON b.cadre_id = a.cadre_id AND b.grid_code = a.grid_code AND a.row < b.row
        WHERE a.row = ANY(:rows) AND b.row = ANY(:rows)
          AND daterange(a.valid_from, a.valid_to) && daterange(b.valid_from, b.valid_to)
        ORDER BY b.row, a.row
    """), {"rows": pending}):
        r = rows[later]
        r.fail(f"repeats {rows[earlier].label}: cadre {r.cadre_code} on grid {r.grid_code} over overlapping dates")
    for i, kid, start, end in session.execute(text(f"""
        SELECT DISTINCT ON (s.row) s.row, k.id, k.valid_from, k.valid_to
        FROM {STAGE} s JOIN contracts k ON k.cadre_id = s.cadre_id AND k.grid_code = s.grid_code
        WHERE s.row = ANY(:rows) AND k.id IS DISTINCT FROM s.kid AND k.id IS DISTINCT FROM CAST(:ignore AS int)
          AND daterange(s.valid_from, s.valid_to) && daterange(k.valid_from, k.valid_to)
        ORDER BY s.row, k.id
    """), {"rows": pending, "ignore": ignore_id}):
        r = rows[i]
        r.fail(f"cadre {r.cadre_code} already holds grid {r.grid_code} from {start} to {end or 'open end'} "
               f"(contract {kid}); change or end that one", Conflict)
