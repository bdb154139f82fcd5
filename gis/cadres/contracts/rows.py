"""A contract row on its way in: parsed on its own, then checked against the database with the others."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shapely.geometry import MultiPolygon
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gis.cadres.contracts.rules import ROLE_MAX, parse_date, polygon_from_geojson
from gis.core.errors import Conflict, InvalidGeometry, InvalidInput
from gis.core.models import Cadre, Contract, Grid, grid_codes


@dataclass
class ContractRow:
    """One contract to write, after parsing; `errors` collects what is wrong with it."""

    label: str
    cadre_code: str = ""
    grid_code: str | None = None
    geom: MultiPolygon | None = None
    role: str = ""
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    cadre_id: int | None = None
    errors: list[str] = field(default_factory=list)
    # The kind of the first problem decides the error a single create/change raises.
    kinds: list[type[InvalidInput] | type[Conflict]] = field(default_factory=list)

    def fail(self, message: str, kind: type[InvalidInput] | type[Conflict] = InvalidInput) -> None:
        """Note a problem with this row."""
        self.errors.append(f"{self.label}: {message}")
        self.kinds.append(kind)


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


def check_rows(session: Session, rows: list[ContractRow], *, ignore_id: int | None = None) -> None:
    """Cadres exist, grids exist and are in force during the contract, polygons overlap a grid,
    and no cadre would hold the same grid twice at once (within the rows or with stored contracts)."""
    codes = {r.cadre_code for r in rows if r.cadre_code}
    cadres = dict(session.execute(select(Cadre.code, Cadre.id).where(Cadre.code.in_(codes))).all()) if codes else {}
    for r in rows:
        if r.cadre_code and r.cadre_code not in cadres:
            r.fail(f"unknown cadre_code {r.cadre_code[:40]!r}")
        r.cadre_id = cadres.get(r.cadre_code)

    grid_rows = [r for r in rows if r.grid_code and r.valid_from and not r.errors]
    gcodes = sorted({r.grid_code for r in grid_rows})
    versions: dict[str, list[tuple]] = {}
    known: set[str] = set()
    if gcodes:
        known = set(session.scalars(select(grid_codes.c.code).where(grid_codes.c.code.in_(gcodes))))
        for code, start, end in session.execute(
                select(Grid.code, Grid.valid_from, Grid.valid_to).where(Grid.code.in_(gcodes))):
            versions.setdefault(code, []).append((start, end))
    for r in grid_rows:
        if r.grid_code not in known:
            r.fail(f"unknown grid_code {r.grid_code}")
        elif not any(_overlaps(v, r.valid_from, r.valid_to) for v in versions.get(r.grid_code, [])):
            r.fail(f"grid {r.grid_code} has no version in force between {r.valid_from} and "
                   f"{r.valid_to or 'open end'} (it was retired, or not yet drawn)")

    poly_rows = [r for r in rows if r.geom is not None and not r.errors]
    if poly_rows:
        values = [{"i": i, "wkb": r.geom.wkb} for i, r in enumerate(poly_rows)]
        hits = set(session.scalars(text(
            "SELECT x.i FROM unnest(CAST(:idx AS int[]), CAST(:wkbs AS bytea[])) AS x(i, wkb) "
            "WHERE EXISTS (SELECT 1 FROM grids g "
            "              WHERE ST_Intersects(g.geom, ST_GeomFromWKB(x.wkb, 4326)))"),
            {"idx": [v["i"] for v in values], "wkbs": [v["wkb"] for v in values]}))
        for i, r in enumerate(poly_rows):
            if i not in hits:
                r.fail("the polygon overlaps no grid (check its coordinates and CRS)")

    # Same cadre, same grid, overlapping dates: within the rows, then against stored contracts.
    pending = [r for r in grid_rows if not r.errors and r.cadre_id]
    by_key: dict[tuple, list[ContractRow]] = {}
    for r in pending:
        by_key.setdefault((r.cadre_id, r.grid_code), []).append(r)
    for group in by_key.values():
        for i, a in enumerate(group):
            for b in group[:i]:
                if _dates_overlap(a.valid_from, a.valid_to, b.valid_from, b.valid_to):
                    a.fail(f"repeats {b.label}: cadre {a.cadre_code} on grid {a.grid_code} over overlapping dates")
    if pending:
        stored = session.execute(
            select(Contract.id, Contract.cadre_id, Contract.grid_code, Contract.valid_from, Contract.valid_to)
            .where(Contract.cadre_id.in_({r.cadre_id for r in pending}),
                   Contract.grid_code.in_({r.grid_code for r in pending}))).all()
        held: dict[tuple, list] = {}
        for s in stored:
            if s.id != ignore_id:
                held.setdefault((s.cadre_id, s.grid_code), []).append(s)
        for r in pending:
            for s in held.get((r.cadre_id, r.grid_code), []):
                if _dates_overlap(r.valid_from, r.valid_to, s.valid_from, s.valid_to):
                    r.fail(f"cadre {r.cadre_code} already holds grid {r.grid_code} from {s.valid_from} "
                           f"to {s.valid_to or 'open end'} (contract {s.id}); change or end that one",
                           Conflict)
                    break


def _dates_overlap(a0: dt.date, a1: dt.date | None, b0: dt.date, b1: dt.date | None) -> bool:
    return (a1 is None or b0 < a1) and (b1 is None or a0 < b1)


def _overlaps(version: tuple, start: dt.date, end: dt.date | None) -> bool:
    # A grid version [from, to) (timestamps, NULL = unbounded) against a contract's [start, end)
    # (dates, compared by calendar day: a version retired during a day still counts for that day).
    v0, v1 = version
    d0 = v0.date() if v0 is not None else None
    d1 = v1.date() if v1 is not None else None
    return (d0 is None or end is None or d0 < end) and (d1 is None or d1 >= start)
