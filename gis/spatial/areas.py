"""Administrative areas: district → street → community."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gis.core.errors import NotFound
from gis.core.models import AdminArea


def district_bounds(session: Session) -> list[list[float]] | None:
    """[[south, west], [north, east]] around every district, or None when there are none."""
    box = session.execute(
        select(func.ST_XMin(func.ST_Extent(AdminArea.geom)), func.ST_YMin(func.ST_Extent(AdminArea.geom)),
               func.ST_XMax(func.ST_Extent(AdminArea.geom)), func.ST_YMax(func.ST_Extent(AdminArea.geom)))
        .where(AdminArea.level == "district")
    ).one()
    if box[0] is None:
        return None
    return [[box[1], box[0]], [box[3], box[2]]]


def area_by_code(session: Session, code: str) -> AdminArea:
    """The district, street or community with this code, or NotFound."""
    area = session.scalar(select(AdminArea).where(AdminArea.code == code)) if code else None
    if area is None:
        raise NotFound("No such area",
                       f"There is no district, street or community with code {str(code)[:40]!r} "
                       "(6, 9 or 12 digits).")
    return area


def communities_of(session: Session, area: AdminArea) -> list[int]:
    """The ids of the communities in a district, street or community (by the hierarchy)."""
    if area.level == "community":
        return [area.id]
    parent = AdminArea.__table__.alias("parent")
    query = select(AdminArea.id).where(AdminArea.level == "community")
    if area.level == "street":
        query = query.where(AdminArea.parent_id == area.id)
    else:
        query = query.join(parent, parent.c.id == AdminArea.parent_id).where(parent.c.parent_id == area.id)
    return list(session.scalars(query))
