"""Open311 GeoReport v2 as data: services from the category table, requests from events (no HTTP here)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.cases.attachments import ORIGINAL_URL, attach, report_move_id
from gis.cases.events import create_event
from gis.cases.photos import Photo, PhotoLimits, public_type
from gis.cases.workflow import check_photo_ref, find_duplicates
from gis.core import clock
from gis.core.errors import InvalidInput, NotFound
from gis.core.media import MediaStore
from gis.core.personal import mask_text
from gis.core.settings import get_settings

# GeoReport knows two statuses. A case is `open` until it is closed (verified) or rejected; a
# report merged into another case reports that case's status, and its notes say which case.
OPEN311_STATUSES = ("open", "closed")
MAX_SPAN = dt.timedelta(days=90)  # GeoReport v2: a date range may not span more than 90 days
MAX_RESULTS = 1000
# The public sees a report's place to 3 decimals of a degree: about 110 m north–south and 95 m
# east–west at 31°N, a block of several buildings, so a report cannot be pinned to one door. (A
# grid's centroid would say more where grids are small and less where they are large.)
PUBLIC_DECIMALS = 3
PUBLIC_PHOTO_URL = "/open311/v2/media/{id}"  # api/open311.py serves it, always without GPS

STATUS_NOTES = {
    "reported": "已受理，待立案 received, awaiting registration",
    "registered": "已立案 registered as a case",
    "dispatched": "已派遣 dispatched to the responsible unit",
    "in_progress": "处置中 being handled",
    "handled": "已处置，待核查 handled, awaiting verification",
    "closed": "已结案 verified and closed",
    "rejected": "不予立案 not a case",
}


def services(session: Session) -> list[dict[str, Any]]:
    """Every active category as a GeoReport service (code, name, group = major class)."""
    rows = session.execute(text(
        "SELECT code, name, major_name, kind FROM categories WHERE active ORDER BY code")).all()
    return [{"service_code": r.code, "service_name": r.name,
             "description": f"{r.major_name} · {r.name}（{'部件' if r.kind == 'component' else '事件'}）",
             "metadata": False, "type": "realtime", "keywords": r.major_name, "group": r.major_name}
            for r in rows]


def service_definition(session: Session, code: str) -> dict[str, Any]:
    """The service definition of one category (no extra attributes: metadata is false)."""
    if session.execute(text("SELECT 1 FROM categories WHERE code = :c AND active"), {"c": code}).first() is None:
        raise NotFound("No such service", f"No active service has code {code!r}; see services.json.")
    return {"service_code": code, "attributes": []}


def parse_time(value: str | None, name: str, tz: dt.tzinfo) -> dt.datetime | None:
    """A W3C date-time (2010-01-01T00:00:00Z, or with an offset); a bare date or time means local time."""
    if not value:
        return None
    raw = value.strip()
    if "T" in raw and " " in raw:  # an unencoded '+' of an offset arrives in a query string as a space
        raw = raw.replace(" ", "+")
    try:
        parsed = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"Invalid {name}", f"`{name}` must be a W3C date-time such as 2026-11-01T00:00:00Z; "
                           f"got {value[:40]!r}.", parameter=name) from None
    return clock.local(parsed, tz)


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def private_majors(session: Session) -> list[str]:
    """Major category codes whose requests only signed-in staff may read (disputes by default)."""
    return [str(m) for m in get_settings(session)["open311_private_majors"]]


def public_categories(session: Session) -> list[str]:
    """Category codes whose public-channel requests the public may see (the district's setting)."""
    return [str(c) for c in get_settings(session)["open311_public_categories"]]


_SELECT = """
    SELECT e.id, e.status, e.category, c.name AS service_name, e.description, e.title, e.reported_at,
           e.updated_at, e.deadline_at, e.level, ST_X(e.geom) AS lon, ST_Y(e.geom) AS lat,
           e.merged_into_id, t.status AS target_status, e.channel, e.published_at, e.public_reply,
           coalesce(t.level, e.level) AS effective_level,
           gr.name AS grid_name, com.name AS community_name, st.name AS street_name, di.name AS district_name,
           (SELECT a.id FROM attachments a WHERE a.event_id = e.id ORDER BY a.created_at, a.id LIMIT 1) AS photo_id,
           (SELECT m.photo_ref FROM event_moves m WHERE m.event_id = e.id AND m.photo_ref IS NOT NULL
            ORDER BY m.at, m.id LIMIT 1) AS media_url,
           (SELECT m.note FROM event_moves m WHERE m.event_id = coalesce(e.merged_into_id, e.id)
               AND m.move IN ('verify', 'reject') ORDER BY m.at DESC, m.id DESC LIMIT 1) AS final_note
    FROM events e JOIN categories c ON c.code = e.category
    LEFT JOIN events t ON t.id = e.merged_into_id
    LEFT JOIN grids gr ON gr.id = e.grid_id
    LEFT JOIN admin_areas com ON com.id = e.community_id
    LEFT JOIN admin_areas st ON st.id = e.street_id
    LEFT JOIN admin_areas di ON di.id = e.district_id
"""


# Worker-filed cases never reach the public: they hold what residents told a worker in person.
_PUBLIC = "e.channel = 'open311' AND e.category = ANY(:public) AND NOT (c.major_code = ANY(:private))"


def _public_params(session: Session) -> dict[str, list[str]]:
    return {"public": public_categories(session), "private": private_majors(session)}


def find_requests(session: Session, *, ids: str | None = None, service_code: str | None = None,
                  status: str | None = None, start_date: str | None = None, end_date: str | None = None,
                  staff: bool = False, limit: int = MAX_RESULTS) -> tuple[list[dict[str, Any]], int]:
    """Requests by id list, or by service codes, statuses and a requested-time range (default: the last 90 days).

    Newest first, at most `limit`, and how many more matched. Staff see every request in full;
    anyone else only requests made through the public channel, in a public category, outside the
    private major classes, and only their public view (`public_view`).
    """
    where, params = [], {"limit": limit}
    if not staff:
        where.append(_PUBLIC)
        params.update(_public_params(session))
    id_list = _split(ids)
    if id_list:
        # GeoReport: service_request_id overrides every other filter.
        if not all(i.isdigit() for i in id_list):
            raise InvalidInput("Invalid service_request_id", "Give request ids as numbers, comma separated.",
                               parameter="service_request_id")
        where.append("e.id = ANY(:ids)")
        params["ids"] = [int(i) for i in id_list]
    else:
        codes = _split(service_code)
        if codes:
            known = set(session.execute(text("SELECT code FROM categories WHERE code = ANY(:c)"),
                                        {"c": codes}).scalars())
            unknown = [c for c in codes if c not in known]
            if unknown:
                raise InvalidInput("Unknown service_code", f"No service has code {', '.join(unknown)}; "
                                   "see services.json.", parameter="service_code")
            where.append("e.category = ANY(:codes)")
            params["codes"] = codes
        statuses = _split(status)
        bad = [s for s in statuses if s not in OPEN311_STATUSES]
        if bad:
            raise InvalidInput("Invalid status", "`status` is open, closed, or both comma separated.",
                               parameter="status")
        if statuses and len(set(statuses)) == 1:
            closed = "coalesce(t.status, e.status) IN ('closed', 'rejected')"
            where.append(closed if statuses[0] == "closed" else f"NOT ({closed})")
        start = parse_time(start_date, "start_date", clock.zone_of(session))
        end = parse_time(end_date, "end_date", clock.zone_of(session))
        if start and end and end < start:
            raise InvalidInput("Invalid date range", "`end_date` is before `start_date`.", parameter="end_date")
        end = end or (start + MAX_SPAN if start else clock.now(session))
        start = start or end - MAX_SPAN
        if end - start > MAX_SPAN:
            raise InvalidInput("Date range too long", "A request search may span at most 90 days "
                               "(GeoReport v2); narrow start_date / end_date.", parameter="start_date")
        where.append("e.reported_at >= :start AND e.reported_at <= :end")
        params.update(start=start, end=end)
    condition = " WHERE " + " AND ".join(where) if where else ""
    sql = _SELECT + condition + " ORDER BY e.reported_at DESC, e.id DESC LIMIT :limit"
    found = [_request(r) if staff else public_view(r) for r in session.execute(text(sql), params)]
    if len(found) < limit:
        return found, 0
    matched = session.execute(text("SELECT count(*) FROM events e JOIN categories c ON c.code = e.category "
                                   "LEFT JOIN events t ON t.id = e.merged_into_id" + condition), params).scalar()
    return found, matched - len(found)


def get_request(session: Session, request_id: int, *, staff: bool = False) -> dict[str, Any]:
    """One request by id (NotFound when it does not exist or is not public)."""
    found, _ = find_requests(session, ids=str(request_id), staff=staff)
    if not found:
        raise NotFound("No such request", f"There is no service request {request_id} visible to you.")
    return found[0]


def _status_notes(r, effective: str, said: str | None) -> str:
    # The status in words, what was said about it (the public reply, or staff's last note), and the merge.
    notes = STATUS_NOTES.get(effective, effective)
    if said:
        notes = f"{notes}: {said}"
    if r.merged_into_id:
        notes = f"与请求 {r.merged_into_id} 合并 merged with request {r.merged_into_id}; {notes}"
    return notes


def public_view(r) -> dict[str, Any]:
    """What a resident may see of a request: category, status, the public reply, times, a rounded place;
    the description (masked) and photo only once staff published it. Never staff notes or contacts."""
    effective = r.target_status or r.status
    notes = _status_notes(r, effective, mask_text(r.public_reply) if r.public_reply else None)
    published = r.published_at is not None
    description = (r.title if not r.description else f"{r.title}：{r.description}") if published else None
    return {
        "service_request_id": str(r.id),
        "status": "closed" if effective in ("closed", "rejected") else "open",
        "status_notes": notes,
        "service_name": r.service_name,
        "service_code": r.category,
        "description": mask_text(description),
        "requested_datetime": r.reported_at.isoformat(),
        "updated_datetime": r.updated_at.isoformat(),
        "lat": round(r.lat, PUBLIC_DECIMALS),
        "long": round(r.lon, PUBLIC_DECIMALS),
        # Issue 18: its first photo through the public route (GPS removed), else the URL it came with.
        "media_url": (PUBLIC_PHOTO_URL.format(id=r.photo_id) if r.photo_id else r.media_url) if published else None,
    }


def _request(r) -> dict[str, Any]:
    effective = r.target_status or r.status
    notes = _status_notes(r, effective, r.final_note)
    agency = {"grid": r.grid_name, "community": r.community_name, "street": r.street_name,
              "district": r.district_name}.get(r.effective_level)
    address = " ".join(n for n in (r.street_name, r.community_name, r.grid_name) if n) or None
    description = r.title if not r.description else f"{r.title}：{r.description}"
    return {
        "service_request_id": str(r.id),
        "status": "closed" if effective in ("closed", "rejected") else "open",
        "status_notes": notes,
        "service_name": r.service_name,
        "service_code": r.category,
        "description": description,
        "agency_responsible": agency,
        "service_notice": None,
        "requested_datetime": r.reported_at.isoformat(),
        "updated_datetime": r.updated_at.isoformat(),
        "expected_datetime": r.deadline_at.isoformat() if r.deadline_at else None,
        "address": address,
        "address_id": None,
        "zipcode": None,
        "lat": r.lat,
        "long": r.lon,
        "media_url": ORIGINAL_URL.format(id=r.photo_id) if r.photo_id else r.media_url,
    }


def create_request(session: Session, user, *, service_code: str, lon: float, lat: float, crs: str = "wgs84",
                   description: str = "", media_url: str | None = None, contact: dict | None = None,
                   idempotency_key: str | None = None, media: Photo | None = None, store: MediaStore | None = None,
                   limits: PhotoLimits | None = None):
    """A new request: created, located and assigned by gis.cases.events.create_event (as POST /api/v1/events
    does), its clock started, its photo (`media`, checked already) attached to its report, and the likely
    duplicates it may be; returns (event, duplicates, how many more duplicates were left out)."""
    name = session.execute(text("SELECT name FROM categories WHERE code = :c AND active"), {"c": service_code}).scalar()
    if name is None:
        raise InvalidInput("Unknown service_code", f"No active service has code {service_code[:20]!r}; "
                           "see services.json.", parameter="service_code")
    first_line = description.strip().splitlines()[0] if description.strip() else ""
    title = first_line[:60] or name
    try:
        photo = check_photo_ref(media_url)
    except InvalidInput as exc:
        raise InvalidInput("Invalid media_url", exc.detail.replace("`photo_ref`", "`media_url`"),
                           parameter="media_url") from None
    event, _location = create_event(session, user, lon=lon, lat=lat, crs=crs, category=service_code, title=title,
                                    description=description, contact=contact, idempotency_key=idempotency_key,
                                    channel="open311", in_district=True)
    if photo and not event.replayed:  # the report's photo belongs to its first timeline entry
        session.execute(text("UPDATE event_moves SET photo_ref = :p WHERE event_id = :id AND move = 'report'"),
                        {"p": photo, "id": event.id})
    if media is not None:
        attach(session, store, user, event.id, media, limits=limits or PhotoLimits(),
               move_id=report_move_id(session, event.id))
    point_lon, point_lat = session.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM events WHERE id = :id"),
                                           {"id": event.id}).one()
    duplicates, omitted = find_duplicates(session, category=service_code, lon=point_lon, lat=point_lat,
                                          at=event.reported_at, exclude_id=event.id)
    return event, duplicates, omitted


def public_photo(session: Session, attachment_id: int) -> tuple[str, str, str]:
    """(public hash, thumbnail hash, content type) of a published public request's photo, else NotFound."""
    row = session.execute(text(
        "SELECT a.public_sha256, a.thumb_sha256, a.content_type FROM attachments a JOIN events e ON e.id = a.event_id "
        f"JOIN categories c ON c.code = e.category WHERE a.id = :id AND e.published_at IS NOT NULL AND {_PUBLIC}"),
        {"id": attachment_id, **_public_params(session)}).first()
    if row is None:
        raise NotFound("No such photo", f"There is no public photo {attachment_id}; a report's photo is public "
                       "once staff publish the report.")
    return row.public_sha256, row.thumb_sha256, public_type(row.content_type)
