"""The responsibility list's check: which active categories have no owner at some level in some street."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from gis.core import clock
from gis.core.dated import in_force
from gis.core.models import LEVELS

# One statement over categories × levels × communities: a gap is a combination no row in force covers — one
# naming the category or its major class at that level, everywhere or in an area covering the whole community
# (its street, the community itself); each gap names the street it lies in.
GAPS_SQL = text(f"""
SELECT c.code AS category, c.name AS category_name, lv.level, s.code AS street, s.name AS street_name,
       k.code AS community, k.name AS community_name
  FROM categories c
 CROSS JOIN unnest(CAST(:levels AS text[])) AS lv(level)
 CROSS JOIN admin_areas k
  JOIN admin_areas s ON s.id = k.parent_id
 WHERE c.active AND k.level = 'community'
   AND NOT EXISTS (
       SELECT 1 FROM responsibilities r
         LEFT JOIN admin_areas ra ON ra.id = r.area_id
         JOIN departments d ON d.id = r.owner_id AND d.active
        WHERE r.level = lv.level AND (r.category = c.code OR r.major_code = c.major_code)
          AND {in_force("r", ":day", open_start=False)}
          AND (r.area_id IS NULL OR ST_Covers(ra.geom, k.geom)))
 ORDER BY k.code, c.code, array_position(CAST(:levels AS text[]), lv.level)
""").bindparams(bindparam("levels"))


@dataclass(frozen=True)
class Gap:
    """A category with no owner at a level in a community of a street."""

    category: str
    category_name: str
    level: str
    street: str
    street_name: str
    community: str
    community_name: str


def gaps(session: Session, *, levels: tuple[str, ...] = LEVELS, at: dt.date | None = None) -> list[Gap]:
    """Every (category, level, community with its street) the list in force on `at` (default today) leaves ownerless."""
    rows = session.execute(GAPS_SQL, {"levels": list(levels), "day": at or clock.today(session)})
    return [Gap(*row) for row in rows]
