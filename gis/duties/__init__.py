"""Duties (issue 25): departments, the responsibility list (权责清单) and who owns a case, and the list's check.

departments ← responsibilities (owner_of) ← check, importing; gis.cases asks it who owns a case.
"""
from gis.duties.check import Gap, gaps
from gis.duties.departments import (
    create_department,
    department_by_code,
    departments_csv,
    departments_json,
    import_departments,
    set_member,
)
from gis.duties.importing import ImportReport, decode_csv, import_responsibilities
from gis.duties.responsibilities import Owner, assign_owners, owner_of, owner_of_event

__all__ = ["Gap", "ImportReport", "Owner", "assign_owners", "create_department", "decode_csv", "department_by_code",
           "departments_csv", "departments_json", "gaps", "import_departments", "import_responsibilities",
           "owner_of", "owner_of_event", "set_member"]
