"""The responsibility list's import from the district's spreadsheet (CSV, UTF-8 or GB18030): all or nothing."""
from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.core import audit
from gis.core.errors import InvalidInput
from gis.core.models import LEVELS, AdminArea, Category, Department, Responsibility

MAX_ERRORS = 50
# Each column by its English name and the heading the district's spreadsheet gives it.
COLUMNS = {"category": "类别代码", "major_code": "大类代码", "level": "层级", "area": "区域代码",
           "owner": "责任部门", "co_departments": "协办部门", "time_limit_hours": "处置时限",
           "valid_from": "生效日期", "valid_to": "失效日期"}
LEVEL_WORDS = {"网格": "grid", "社区": "community", "村": "community", "街道": "street", "镇": "street",
               "区": "district"}
EVERYWHERE = ("", "*", "全区")


@dataclass
class ImportReport:
    """What an import did (or, with dry_run, would do)."""

    rows: int
    created: int
    dry_run: bool

    def to_dict(self) -> dict:
        """JSON-ready values."""
        return {"rows": self.rows, "created": self.created, "dry_run": self.dry_run}


def decode_csv(data: bytes) -> str:
    """A spreadsheet's CSV bytes as text: UTF-8 (with or without BOM), else GB18030 as Excel saves Chinese CSV."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError:
            raise InvalidInput("Unreadable text", "The file is neither UTF-8 nor GB18030 text.") from None


def _date(value: str, name: str, errors: list, line: int) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        errors.append({"line": line, "column": name, "problem": f"{value!r} is not a date YYYY-MM-DD"})
        return None


def _parse(raw: dict, line: int, refs: dict, errors: list) -> Responsibility | None:
    before = len(errors)
    get = {name: (raw.get(name) or raw.get(zh) or "").strip() for name, zh in COLUMNS.items()}
    category, major = get["category"] or None, get["major_code"] or None
    if (category is None) == (major is None):
        errors.append({"line": line, "column": "category", "problem": "give either a category or a major class"})
    elif category and category not in refs["categories"]:
        errors.append({"line": line, "column": "category", "problem": f"no category {category!r}"})
    elif major and major not in refs["majors"]:
        errors.append({"line": line, "column": "major_code", "problem": f"no major class {major!r}"})
    level = LEVEL_WORDS.get(get["level"], get["level"])
    if level not in LEVELS:
        errors.append({"line": line, "column": "level", "problem": f"level is one of {', '.join(LEVELS)}"})
    area = None if get["area"] in EVERYWHERE else refs["areas"].get(get["area"])
    if area is None and get["area"] not in EVERYWHERE:
        errors.append({"line": line, "column": "area", "problem": f"no admin area {get['area']!r}"})
    owner = refs["departments"].get(get["owner"])
    if owner is None:
        errors.append({"line": line, "column": "owner", "problem": f"no department {get['owner']!r}"})
    co_ids = []
    for code in filter(None, (c.strip() for c in get["co_departments"].replace("、", ";").split(";"))):
        if code not in refs["departments"]:
            errors.append({"line": line, "column": "co_departments", "problem": f"no department {code!r}"})
        co_ids.append(refs["departments"].get(code))
    hours = None
    if get["time_limit_hours"]:
        try:
            hours = float(get["time_limit_hours"])
            assert 0 < hours <= 10_000
        except (ValueError, AssertionError):
            errors.append({"line": line, "column": "time_limit_hours", "problem": "working hours, above 0"})
    start = _date(get["valid_from"], "valid_from", errors, line)
    end = _date(get["valid_to"], "valid_to", errors, line)
    if start is None and not get["valid_from"]:
        errors.append({"line": line, "column": "valid_from", "problem": "a start date is required"})
    if start and end and end <= start:
        errors.append({"line": line, "column": "valid_to", "problem": "must be after valid_from"})
    if len(errors) > before:
        return None
    return Responsibility(category=category, major_code=major, level=level, area_id=area, owner_id=owner,
                          co_ids=co_ids, time_limit_hours=hours, valid_from=start, valid_to=end)


def _overlaps(a: Responsibility, b: Responsibility) -> bool:
    same = (a.category, a.major_code, a.level, a.area_id) == (b.category, b.major_code, b.level, b.area_id)
    return same and (b.valid_to is None or a.valid_from < b.valid_to) and \
        (a.valid_to is None or b.valid_from < a.valid_to)


def import_responsibilities(session: Session, csv_text: str, *, dry_run: bool = False) -> ImportReport:
    """Add the list's rows from CSV text (English or Chinese headings), all or none: any bad row, or one that
    overlaps a stored or earlier row for the same category, level and area, refuses the whole file."""
    refs = {"categories": set(session.scalars(select(Category.code))),
            "majors": set(session.scalars(select(Category.major_code))),
            "areas": dict(session.execute(select(AdminArea.code, AdminArea.id)).all()),
            "departments": dict(session.execute(select(Department.code, Department.id)).all())}
    errors: list[dict] = []
    rows: list[Responsibility] = []
    stored = list(session.scalars(select(Responsibility)))
    for line, raw in enumerate(csv.DictReader(io.StringIO(csv_text)), start=2):
        row = _parse(raw, line, refs, errors)
        if row is not None:
            if any(_overlaps(row, other) for other in (*stored, *rows)):
                errors.append({"line": line, "column": "valid_from", "problem": "overlaps a row for the same "
                               "category, level and area; end that row first"})
            rows.append(row)
        if len(errors) >= MAX_ERRORS:
            break
    if errors:
        raise InvalidInput("Invalid responsibility list", f"{len(errors)} problem(s); nothing was imported.",
                           errors=errors)
    if not rows:
        raise InvalidInput("Empty responsibility list", "The file has no rows.")
    if not dry_run:
        session.add_all(rows)
        session.flush()
        audit.record(session, "responsibility.import", "responsibility", None,
                     after={"rows": len(rows), "ids": [r.id for r in rows]})
    return ImportReport(rows=len(rows), created=0 if dry_run else len(rows), dry_run=dry_run)
