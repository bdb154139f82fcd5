"""Administrative areas: district → street → community."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

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
