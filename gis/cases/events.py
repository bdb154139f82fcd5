"""Events: create (convert, locate, scope-check, idempotent) in one transaction; list and read."""
from __future__ import annotations

import base64
import datetime as dt
import json
import math
from dataclasses import dataclass

from geoalchemy2.shape import from_shape
from shapely import Point
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gis.cases.workflow import open_case
from gis.core import audit, clock, dated, personal
from gis.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from gis.core.idempotency import idempotency_key as checked_key
from gis.core.models import ASSIGN_STATUSES, CADRE_TYPES, EVENT_STATUSES, Category, Event, User
from gis.core.users import user_grid_codes
from gis.spatial.assign import DEFAULT_SNAP_M, CadreRef, Location, Ref, locate_point
from gis.spatial.crs import normalise_crs, to_wgs84

TITLE_MAX = 200
DESCRIPTION_MAX = 10_000
# Phones' clocks drift: an occurred_at up to this far in the future is accepted.
CLOCK_SKEW = dt.timedelta(minutes=5)
PAGE_DEFAULT, PAGE_MAX = 50, 500


def create_event(session: Session, user: User, *, lon: float, lat: float, crs: str | None = "wgs84",
                 accuracy_m: float | None = None, category: str, title: str, description: str = "",
                 occurred_at: dt.datetime | None = None, idempotency_key: str | None = None,
                 contact: dict | None = None, snap_m: float = DEFAULT_SNAP_M, channel: str = "staff",
                 in_district: bool = False) -> tuple[Event, Location]:
    """Create an event reported by `user` at (lon, lat) in `crs`, assigned by locate_point's rule.

    The original coordinates and CRS are kept on the event; the geometry is WGS84. A worker may
    only report inside their own grids (Forbidden, naming the grid the point fell in). With an
    idempotency key, a repeat by the same user returns the first event (marked `replayed = True`)
    instead of a duplicate; the same key with a different report is a Conflict. With `in_district`,
    a point in no grid (beyond the snap distance) is InvalidInput. Flushes; the caller commits.
    """
    source_crs = normalise_crs(crs)
    key = checked_key(idempotency_key)
    title = (title or "").strip() if isinstance(title, str) else title
    if not isinstance(title, str) or not title or len(title) > TITLE_MAX:
        raise InvalidInput("Invalid title", f"Give `title` as text of 1 to {TITLE_MAX} characters.",
                           parameter="title")
    if not isinstance(description, str) or len(description) > DESCRIPTION_MAX:
        raise InvalidInput("Invalid description", f"`description` must be text of at most {DESCRIPTION_MAX} "
                           "characters.", parameter="description")
    _check_category(session, category)
    contact = _check_contact(contact)
    if accuracy_m is not None and not (isinstance(accuracy_m, (int, float)) and math.isfinite(accuracy_m)
                                       and accuracy_m >= 0):
        raise InvalidInput("Invalid accuracy_m", "`accuracy_m` must be a number of metres >= 0.",
                           parameter="accuracy_m")
    now = clock.now(session)
    occurred = clock.aware(occurred_at, session) if occurred_at is not None else now
    if occurred > now + CLOCK_SKEW:
        raise InvalidInput("occurred_at in the future", f"`occurred_at` {occurred.isoformat()} is later than now; "
                           "send the time the event happened.", parameter="occurred_at")
    wgs_lon, wgs_lat = to_wgs84(lon, lat, source_crs)

    if key:
        existing = _by_key(session, user, key)
        if existing is not None:
            return _replay(session, existing, source_crs, lon, lat, category, title)

    location = locate_point(session, wgs_lon, wgs_lat, accuracy_m=accuracy_m, at=occurred, snap_m=snap_m)
    if in_district and location.grid is None:
        raise InvalidInput("Outside the district", f"该点不在本区任何网格内 the point ({lon}, {lat}) in {source_crs} "
                           f"is at ({wgs_lon:.5f}, {wgs_lat:.5f}) in WGS84, in no grid of the district; check "
                           "`crs` and that `long` is the longitude or easting and `lat` the latitude or northing.",
                           parameter="lat")
    _check_scope(session, user, location)
    event = Event(geom=from_shape(Point(wgs_lon, wgs_lat), srid=4326), category=category, title=title,
                  description=description, occurred_at=occurred, reporter_id=user.id,
                  source_crs=source_crs, source_x=float(lon), source_y=float(lat), accuracy_m=accuracy_m,
                  grid_id=location.grid_id, community_id=location.community_id, street_id=location.street_id,
                  district_id=location.district_id, building_id=location.building_id,
                  assign_status=location.status, assign_distance_m=location.distance_m,
                  idempotency_key=key, contact=contact, channel=channel)
    try:
        with session.begin_nested():
            session.add(event)
            session.flush()
    except IntegrityError:
        # The same key raced in from a retry that arrived first: return that event.
        existing = _by_key(session, user, key) if key else None
        if existing is None:
            raise
        return _replay(session, existing, source_crs, lon, lat, category, title)
    session.refresh(event, ["reported_at", "status", "updated_at"])
    # Issue #8: the case clock starts at the report (level and deadline from the category).
    open_case(session, event)
    # The resident's contact stays out of the audit row: the log is read more widely than contacts are.
    audit.record(session, "event.create", "event", event.id,
                 after={"category": category, "title": title, "grid_id": location.grid_id,
                        "assign_status": location.status, "source_crs": source_crs, "has_contact": bool(contact)})
    event.replayed = False
    return event, location


def _by_key(session: Session, user: User, key: str) -> Event | None:
    return session.scalar(select(Event).where(Event.reporter_id == user.id, Event.idempotency_key == key))


def _replay(session: Session, event: Event, source_crs: str, x: float, y: float, category: str,
            title: str) -> tuple[Event, Location]:
    same = (event.source_crs == source_crs and event.source_x == float(x) and event.source_y == float(y)
            and event.category == category and event.title == title)
    if not same:
        raise Conflict("Idempotency-Key reused", "This Idempotency-Key was already used for a different report "
                       f"(event {event.id}); generate a new key for a new report.", event_id=event.id)
    event.replayed = True
    return event, stored_location(session, event.id)


def _check_category(session: Session, code: str) -> None:
    if not isinstance(code, str) or not code:
        raise InvalidInput("Missing category", "Give `category` as a category code, e.g. 21001.",
                           parameter="category")
    active = session.scalar(select(Category.active).where(Category.code == code))
    if not active:
        raise InvalidInput("Unknown category", f"{code[:20]!r} is not an active category code; "
                           "the categories table (data/categories.csv) lists them.", parameter="category")


def _check_contact(contact) -> dict | None:
    if contact is None:
        return None
    if not isinstance(contact, dict) or len(contact) > 10 or not all(
            isinstance(k, str) and isinstance(v, str) and len(k) <= 32 and len(v) <= 200 for k, v in contact.items()):
        raise InvalidInput("Invalid contact", "`contact` must be an object of short texts, e.g. "
                           "{\"name\": \"…\", \"phone\": \"…\"}.", parameter="contact")
    return contact


def _check_scope(session: Session, user: User, location: Location) -> None:
    """A grid worker reports only inside their grids."""
    if user.role != "worker":
        return
    allowed = user_grid_codes(session, user.id)
    if location.grid is not None and location.grid.code in allowed:
        return
    where = (f"grid {location.grid.code} ({location.grid.name})" if location.grid
             else f"no grid (status {location.status})")
    raise Forbidden("Outside your grids", f"This point falls in {where}; you may report only in "
                    f"{', '.join(allowed) or 'no grid yet (ask an admin to scope you)'}.",
                    grid=location.grid.code if location.grid else None, assign_status=location.status)


# -- reading ----------------------------------------------------------------------------------
_EVENT_COLUMNS = """
  e.id, e.status, e.level, e.deadline_at, e.category, c.name AS category_name, c.major_name AS category_major,
  e.title, e.description, e.occurred_at, e.reported_at,
  e.updated_at, ST_X(e.geom) AS lon, ST_Y(e.geom) AS lat, e.source_crs, e.source_x, e.source_y, e.accuracy_m,
  e.assign_status, e.assign_distance_m, e.contact, e.reporter_id,
  e.grid_id, g.code AS grid_code, g.name AS grid_name,
  e.building_id, b.code AS building_code, b.name AS building_name,
  e.community_id, com.code AS community_code, com.name AS community_name,
  e.street_id, str.code AS street_code, str.name AS street_name,
  e.district_id, dis.code AS district_code, dis.name AS district_name"""
_EVENT_JOINS = """
  FROM events e
  JOIN categories c ON c.code = e.category
  LEFT JOIN grids g ON g.id = e.grid_id
  LEFT JOIN buildings b ON b.id = e.building_id
  LEFT JOIN admin_areas com ON com.id = e.community_id
  LEFT JOIN admin_areas str ON str.id = e.street_id
  LEFT JOIN admin_areas dis ON dis.id = e.district_id"""


def _ref(row, prefix: str) -> Ref | None:
    code = getattr(row, f"{prefix}_code")
    return Ref(code, getattr(row, f"{prefix}_name")) if code is not None else None


def _row_location(row, cadres: list[CadreRef] | None = None) -> Location:
    return Location(status=row.assign_status, distance_m=row.assign_distance_m,
                    district=_ref(row, "district"), street=_ref(row, "street"),
                    community=_ref(row, "community"), grid=_ref(row, "grid"), building=_ref(row, "building"),
                    cadres=cadres or [], grid_id=row.grid_id, building_id=row.building_id,
                    community_id=row.community_id, street_id=row.street_id, district_id=row.district_id)


_CADRES_AT = f"""
SELECT cd.code, cd.name, cd.type FROM cadres cd
WHERE cd.id IN (
  SELECT ct.cadre_id FROM contracts ct
  WHERE (ct.grid_code = :grid_code
         OR (ct.geom IS NOT NULL AND ST_Covers(ct.geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))))
    AND {dated.in_force('ct', ':day', open_start=False)})
ORDER BY array_position(ARRAY[{", ".join(f"'{t}'" for t in CADRE_TYPES)}]::text[], cd.type::text), cd.code"""


def _event_row(session: Session, event_id: int):
    row = session.execute(text(f"SELECT {_EVENT_COLUMNS} {_EVENT_JOINS} WHERE e.id = :id"), {"id": event_id}).first()
    if row is None:
        raise NotFound("No such event", f"There is no event {event_id}.")
    return row


def stored_location(session: Session, event_id: int) -> Location:
    """The assignment stored on an event, with the cadres contracted at its occurred_at date."""
    row = _event_row(session, event_id)
    return _with_cadres(session, row)


def _with_cadres(session: Session, row) -> Location:
    day = clock.local(row.occurred_at, clock.zone_of(session)).date()
    cadres = [CadreRef(*c) for c in session.execute(text(_CADRES_AT), {
        "grid_code": row.grid_code, "lon": row.lon, "lat": row.lat, "day": day})]
    loc = _row_location(row, cadres)
    loc.lon, loc.lat = row.lon, row.lat
    return loc


def event_json(row, location: Location, *, role: str | None, attachments: list[dict] | None = None) -> dict:
    """An event as `role` may read it: personal fields (the contact) only for their readers, free text masked."""
    # `attachments`: its photos, as gis.cases.attachments.attachments_json made them for `role` (issue 18).
    out = {"id": row.id, "status": row.status, "category": row.category,
           # Issue #8: where the case stands in the loop.
           "level": getattr(row, "level", None), "deadline_at": _iso(getattr(row, "deadline_at", None)),
           "category_name": getattr(row, "category_name", None),
           "category_major": getattr(row, "category_major", None), "title": personal.text_for(role, row.title),
           "description": personal.text_for(role, row.description), "occurred_at": _iso(row.occurred_at),
           "reported_at": _iso(row.reported_at), "updated_at": _iso(row.updated_at),
           "lon": _lon_lat(row)[0], "lat": _lon_lat(row)[1],
           "source": {"crs": row.source_crs, "x": row.source_x, "y": row.source_y},
           "accuracy_m": row.accuracy_m, "assignment": location.to_json()}
    out.update(personal.shown(role, "events", "event_json", row))
    if attachments is not None:
        out["attachments"] = attachments  # issue 18
    return out


def _lon_lat(row) -> tuple[float | None, float | None]:
    if hasattr(row, "lon"):
        return row.lon, row.lat
    return None, None


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def grid_outline(session: Session, grid_id: int | None) -> dict | None:
    """The outline of a grid version as a GeoJSON geometry (WGS84), for drawing it around a case."""
    if grid_id is None:
        return None
    raw = session.execute(text("SELECT ST_AsGeoJSON(geom, 7) FROM grids WHERE id = :id"), {"id": grid_id}).scalar()
    return json.loads(raw) if raw else None


def get_event(session: Session, user: User, event_id: int) -> tuple[object, Location]:
    """One event (row, stored assignment with cadres); a worker sees only events in their grids."""
    row = visible_event_row(session, user, event_id)
    return row, _with_cadres(session, row)


def visible_event_row(session: Session, user: User, event_id: int):
    """The joined row of an event `user` may read (a worker: only in their grids), else NotFound."""
    row = _event_row(session, event_id)
    if user.role == "worker" and row.grid_code not in user_grid_codes(session, user.id):
        # Not 403: a worker must not learn which event ids exist in other grids.
        raise NotFound("No such event", f"There is no event {event_id} in your grids.")
    return row


def event_row(session: Session, event_id: int):
    """The joined row of one event (for serialising a freshly created event)."""
    return _event_row(session, event_id)


@dataclass
class EventFilter:
    """Filters of the event list; None means no restriction."""

    bbox: tuple[float, float, float, float] | None = None
    grid: str | None = None
    community: str | None = None
    street: str | None = None
    district: str | None = None
    status: list[str] | None = None
    assign_status: list[str] | None = None
    category: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def list_events(session: Session, user: User, flt: EventFilter, *, limit: int = PAGE_DEFAULT,
                cursor: str | None = None) -> tuple[list[tuple[object, Location]], str | None, int]:
    """Events matching `flt`, newest occurred_at first (ties: highest id), by keyset pagination.

    Returns the page, the cursor of the next page (None at the end) and how many matching events
    come after this page. A worker sees only events assigned to their grids.
    """
    if not (isinstance(limit, int) and 1 <= limit <= PAGE_MAX):
        raise InvalidInput("Invalid limit", f"`limit` must be between 1 and {PAGE_MAX}.", parameter="limit")
    where, params = [], {"limit": limit + 1}
    if flt.bbox:
        where.append("e.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)")
        params.update(zip(("x0", "y0", "x1", "y1"), flt.bbox))
    for level in ("community", "street", "district"):
        code = getattr(flt, level)
        if code:
            where.append(f"e.{level}_id = (SELECT id FROM admin_areas WHERE code = :{level})")
            params[level] = code
    if flt.grid:
        where.append("e.grid_id IN (SELECT id FROM grids WHERE code = :grid)")
        params["grid"] = flt.grid
    for name, allowed in (("status", EVENT_STATUSES), ("assign_status", ASSIGN_STATUSES)):
        values = getattr(flt, name)
        if values:
            bad = [v for v in values if v not in allowed]
            if bad:
                raise InvalidInput(f"Invalid {name}", f"{', '.join(bad)[:60]} is not one of: {', '.join(allowed)}.",
                                   parameter=name)
            where.append(f"e.{name} = ANY(:{name})")
            params[name] = list(values)
    if flt.category:
        where.append("(e.category = :category OR e.category IN "
                     "(SELECT code FROM categories WHERE major_code = :category))")
        params["category"] = flt.category
    if flt.since:
        where.append("e.occurred_at >= :since")
        params["since"] = clock.aware(flt.since, session)
    if flt.until:
        where.append("e.occurred_at < :until")
        params["until"] = clock.aware(flt.until, session)
    if user.role == "worker":
        where.append("e.grid_id IN (SELECT g.id FROM grids g JOIN user_grids ug ON ug.grid_code = g.code"
                     " WHERE ug.user_id = :me)")
        params["me"] = user.id
    if cursor:
        after_time, after_id = _decode_cursor(cursor)
        where.append("(e.occurred_at, e.id) < (:after_time, :after_id)")
        params.update(after_time=after_time, after_id=after_id)
    condition = " AND ".join(where) or "true"
    sql = (f"SELECT {_EVENT_COLUMNS} {_EVENT_JOINS} WHERE {condition} "
           "ORDER BY e.occurred_at DESC, e.id DESC LIMIT :limit")
    rows = session.execute(text(sql), params).all()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = _encode_cursor(rows[-1].occurred_at, rows[-1].id) if more else None
    # Counted only when there is more: the filters alone, none of the page's joins.
    after = session.execute(text(f"SELECT count(*) FROM events e WHERE {condition}"), params).scalar() if more else 0
    return [(row, _row_location(row)) for row in rows], next_cursor, max(after - len(rows), 0)


def _encode_cursor(moment: dt.datetime, event_id: int) -> str:
    return base64.urlsafe_b64encode(f"{moment.isoformat()}|{event_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, _, event_id = raw.partition("|")
        return dt.datetime.fromisoformat(moment), int(event_id)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("Invalid cursor", "Pass back the `next` cursor of the previous page unchanged.",
                           parameter="cursor") from None
