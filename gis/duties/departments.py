"""Departments as data: create one, find it by code, make a user its member, list them, import and export them."""
from __future__ import annotations

import csv
import io
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.core import audit
from gis.core.errors import InvalidInput, NotFound
from gis.core.models import DEPARTMENT_LEVELS, AdminArea, Department, User


def department_by_code(session: Session, code: str) -> Department:
    """The department with this code, or NotFound."""
    found = session.scalar(select(Department).where(Department.code == code))
    if found is None:
        raise NotFound("No such department", f"There is no department with code {code!r}.")
    return found


def create_department(session: Session, code: str, name: str, level: str, *, area_code: str | None = None,
                      contact: str = "") -> Department:
    """Add a department serving `area_code` (an admin area's code; None: the whole district), audited."""
    if level not in DEPARTMENT_LEVELS:
        raise InvalidInput("Invalid level", f"`level` is one of {', '.join(DEPARTMENT_LEVELS)}.", parameter="level")
    if not name.strip():
        raise InvalidInput("Name required", "A department needs a name.", parameter="name")
    area_id = None
    if area_code:
        area_id = session.scalar(select(AdminArea.id).where(AdminArea.code == area_code))
        if area_id is None:
            raise InvalidInput("Unknown area", f"No admin area has code {area_code!r}.", parameter="area")
    if session.scalar(select(Department.id).where(Department.code == code)) is not None:
        raise InvalidInput("Department exists", f"A department with code {code!r} exists.", parameter="code")
    department = Department(code=code, name=name.strip(), level=level, area_id=area_id, contact=contact)
    session.add(department)
    session.flush()
    audit.record(session, "department.create", "department", department.id,
                 after={"code": code, "name": department.name, "level": level, "area_id": area_id})
    return department


def set_member(session: Session, user: User, department: Department | None) -> None:
    """Make `user` a member of `department` (None: of none), audited."""
    before = user.department_id
    user.department_id = department.id if department else None
    session.flush()
    audit.record(session, "user.department", "user", user.id, before={"department_id": before},
                 after={"department_id": user.department_id})


def departments_json(session: Session) -> list[dict]:
    """Every department with its area's code and its members' names, by code."""
    areas = dict(session.execute(select(AdminArea.id, AdminArea.code)).all())
    members: dict[int, list[str]] = {}
    for department_id, name in session.execute(select(User.department_id, User.name)
                                               .where(User.department_id.is_not(None)).order_by(User.name)):
        members.setdefault(department_id, []).append(name)
    return [{"id": d.id, "code": d.code, "name": d.name, "level": d.level, "area": areas.get(d.area_id),
             "contact": d.contact, "active": d.active, "members": members.get(d.id, [])}
            for d in session.scalars(select(Department).order_by(Department.code))]


DEPARTMENT_COLUMNS = {"code": "部门代码", "name": "部门名称", "level": "层级", "area": "服务区域",
                      "contact": "联系方式"}
LEVEL_WORDS = {"区": "district", "街道": "street", "镇": "street", "社区": "community", "村": "community"}


def import_departments(session: Session, csv_text: str) -> int:
    """Add the departments of a CSV (English or Chinese headings; the export's columns), all or none."""
    areas = set(session.scalars(select(AdminArea.code)))
    known = set(session.scalars(select(Department.code)))
    errors, rows = [], []
    for line, raw in enumerate(csv.DictReader(io.StringIO(csv_text)), start=2):
        get = {name: (raw.get(name) or raw.get(zh) or "").strip() for name, zh in DEPARTMENT_COLUMNS.items()}
        get["level"] = LEVEL_WORDS.get(get["level"], get["level"])
        for column, bad, problem in (
                ("code", not re.fullmatch(r"[A-Za-z0-9_.-]{1,32}", get["code"]), "1–32 letters, digits, _ . -"),
                ("code", get["code"] in known, "already a department"), ("name", not get["name"], "required"),
                ("level", get["level"] not in DEPARTMENT_LEVELS, f"one of {', '.join(DEPARTMENT_LEVELS)}"),
                ("area", get["area"] and get["area"] not in areas, "no such admin area")):
            if bad:
                errors.append({"line": line, "column": column, "problem": problem})
        known.add(get["code"])
        rows.append(get)
    if errors:
        raise InvalidInput("Invalid department list", f"{len(errors)} problem(s); nothing was imported.",
                           errors=errors[:50])
    for get in rows:
        create_department(session, get["code"], get["name"], get["level"], area_code=get["area"] or None,
                          contact=get["contact"])
    return len(rows)


def departments_csv(session: Session) -> str:
    """Every department as CSV with the import's columns (an export imports back into an empty table)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(DEPARTMENT_COLUMNS)
    for d in departments_json(session):
        writer.writerow([d["code"], d["name"], d["level"], d["area"] or "", d["contact"]])
    return out.getvalue()
