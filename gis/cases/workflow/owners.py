"""Which department owns a case: the list's proposal, dispatch to a department or one of its members, 退单."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.core.errors import Forbidden, InvalidInput
from gis.core.models import Department, Event, User
from gis.duties import owner_of_event


def proposal(session: Session, event: Event) -> dict | None:
    """The owner the responsibility list proposes for the case now (its category, level and place), or None."""
    owner = owner_of_event(session, event)
    return owner.to_dict() if owner else None


def resolve_department(session: Session, department: int | str | None) -> Department | None:
    """The active department named by code or id (None when not named), or InvalidInput."""
    if department in (None, ""):
        return None
    query = select(Department).where(Department.code == str(department))
    found = session.scalar(query)
    if found is None and str(department).isdigit():
        found = session.get(Department, int(department))
    if found is None or not found.active:
        raise InvalidInput("Unknown department", f"No active department {department!r}.", parameter="department")
    return found


def check_member(session: Session, event: Event, user: User) -> None:
    """A department member may act only on cases dispatched to their department."""
    if user.department_id is None or event.owner_department_id != user.department_id:
        raise Forbidden("Not your department", f"Case {event.id} is not dispatched to your department.")


def departments_of(session: Session, ids: list[int]) -> list[dict]:
    """The code and name of each department id, in the order given."""
    found = {d.id: d for d in session.scalars(select(Department).where(Department.id.in_(ids)))} if ids else {}
    return [{"id": i, "code": found[i].code, "name": found[i].name} for i in ids if i in found]


def owner_view(session: Session, event: Event) -> dict:
    """The case's owning department, the list's proposal and the co-operating departments it names."""
    owner = departments_of(session, [event.owner_department_id]) if event.owner_department_id else []
    proposed = proposal(session, event)
    co = departments_of(session, proposed["co_departments"]) if proposed else []
    return {"owner_department": owner[0] if owner else None, "proposed_owner": proposed, "co_departments": co}
