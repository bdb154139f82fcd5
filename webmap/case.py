"""The case page (/cases/<id>): where the case is, its timeline, and buttons for the moves the viewer may make."""
from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import folium

from webmap.assets import literal_html, render_page
from webmap.basemap import BasemapHook
from webmap.catalog import DEFAULT_LANG, messages, t
from webmap.render import render

CASE_CSS = "/static/case.css"
CASE_JS = "/static/js/case.js"  # sends the moves' forms to the API
STATUS_COLOURS = {"reported": "#f9a825", "registered": "#fb8c00", "dispatched": "#1e88e5", "in_progress": "#3949ab",
                  "handled": "#8e24aa", "closed": "#43a047", "rejected": "#757575", "merged": "#9e9e9e"}
OVERDUE_COLOUR = "#d50000"

# The fields each move's form asks for; `required` ones the API insists on too. Labels are catalog keys.
FORM_FIELDS: dict[str, list[tuple[str, str, str, bool]]] = {
    # move: [(name, label key, input type, required)]
    "register": [("category", "case.field.category", "text", False), ("note", "case.field.note", "text", False)],
    "reject": [("note", "case.field.reason", "text", True)],
    "merge": [("target", "case.field.target", "number", True), ("note", "case.field.note", "text", False)],
    "dispatch": [("department", "case.field.department", "text", False),
                 ("handler", "case.field.handler", "handler", False),
                 ("note", "case.field.dispatch_note", "text", False)],
    "return": [("note", "case.field.return_reason", "text", True)],  # 退单 (issue 25)
    "start": [],
    # Photos of the work done or checked go as attachments of the move (the page's outbox sends them after it).
    "handle": [("note", "case.field.done", "text", True), ("photos", "case.field.photos", "file", False)],
    "verify": [("note", "case.field.verify_note", "text", False), ("photos", "case.field.photos", "file", False)],
    "rework": [("note", "case.field.rework_reason", "text", True)],
    "postpone": [("extra_hours", "case.field.extra_hours", "number", True),
                 ("note", "case.field.postpone_reason", "text", True)],
    "escalate": [("note", "case.field.reason", "text", False)],
    "deescalate": [("note", "case.field.reason", "text", False)],
    "note": [("note", "case.field.note", "text", True), ("photos", "case.field.photos", "file", False)],
}


# The move people most likely make next, by status: it comes first and prominent, the rest smaller.
LIKELY_NEXT = {"reported": ("register", "merge"), "registered": ("dispatch",), "dispatched": ("start", "handle"),
               "in_progress": ("handle",), "handled": ("verify",)}
CONFIRM = ("reject", "merge")  # moves the page asks to confirm before sending


def case_page(case: dict[str, Any], timeline: list[dict], allowed: list[str], *, lonlat: tuple[float, float],
              handlers: list[str], duplicates: list[dict], csrf_token: str, user_name: str, lang: str = DEFAULT_LANG,
              basemap_url: str | None = None, basemap_attribution: str = "", details: dict | None = None,
              attachments: list[dict] = (), user_key: str = "", time_zone: str | None = None,
              basemap_layers: list[dict] = ()) -> str:
    """The page for one case, usable at phone width: the map on top, what is known of it, the moves, the timeline."""
    lon, lat = lonlat
    details = details or {}
    m = folium.Map(location=[lat, lon], zoom_start=18, tiles=None, max_zoom=20, height="38vh", control_scale=False)
    # Our own basemap under the case, the outside XYZ one as an alternative, and a metric scale bar.
    BasemapHook({"lang": lang, "messages": messages(lang, "basemap."), "basemap_layers": list(basemap_layers),
                 "basemap": {"url": basemap_url, "attribution": basemap_attribution} if basemap_url else None}
                ).add_to(m)
    colour = OVERDUE_COLOUR if case["overdue"] else STATUS_COLOURS[case["status"]]
    folium.CircleMarker([lat, lon], radius=10, color="#fff", weight=2, fill=True, fill_color=colour,
                        fill_opacity=0.9, tooltip=literal_html(f"#{case['id']} {case['title']}")).add_to(m)
    # The grid's outline and the accuracy circle around the point; they never take the pointer (case.css).
    for ring in _rings(details.get("grid_outline")):
        folium.Polygon(ring, color="#1565c0", weight=3, fill=False, dash_array="6 4",
                       class_name="gg-grid-outline").add_to(m)
    if details.get("accuracy_m"):
        folium.Circle([lat, lon], radius=float(details["accuracy_m"]), color="#1e88e5", weight=1, fill=True,
                      fill_opacity=0.12, class_name="gg-accuracy").add_to(m)
    figure = m.get_root()
    figure.header.add_child(folium.CssLink(CASE_CSS), name="case_css")
    figure.header.add_child(folium.Element(f'<script type="module" src="{CASE_JS}"></script>'), name="case_js")
    zone = ZoneInfo(time_zone) if time_zone else None
    forms = [{"move": move, "fields": _form(move)} for move in ranked(allowed, case["status"])]
    panel = render("case_panel.html", lang, case=case, user_name=user_name, facts=_facts(details, zone),
                   forms=forms, handlers=handlers,
                   duplicates=duplicates,
                   steps=[_step(step) for step in reversed(timeline)],
                   moves_url=f"/api/v1/events/{case['id']}/moves", csrf_token=csrf_token,
                   photos=[_photo(a, case, timeline, lang) for a in attachments], user_key=user_key,
                   hours_left=_hours_left(case.get("work_hours_left"), lang),
                   # The page's outbox (moves made without a network) shows its items in these words; the
                   # forms are drawn from `forms` by case.js, again after each move from the API's answer.
                   script_config={"lang": lang, "time_zone": time_zone, "handlers": handlers,
                                  "forms": {move: _form(move) for move in FORM_FIELDS}, "likely": LIKELY_NEXT,
                                  "confirm": list(CONFIRM),
                                  "messages": {**messages(lang, "worker.outbox"), **messages(lang, "move."),
                                               **messages(lang, "worker.queued"), **messages(lang, "worker.failed"),
                                               **messages(lang, "status."), **messages(lang, "level."),
                                               **messages(lang, "case.")}})
    figure.html.add_child(folium.Element(panel), name="case_panel")
    return render_page(m, f"{t('case.title', lang, id=case['id'])} — gridgov")


def ranked(allowed: list[str], status: str) -> list[str]:
    """The allowed moves, the likeliest next first (LIKELY_NEXT), then the others in the state table's order."""
    first = next((move for move in LIKELY_NEXT.get(status, ()) if move in allowed), None)
    return [first, *(move for move in allowed if move != first)] if first else list(allowed)


def _rings(geometry: dict | None) -> list[list[list[float]]]:
    """The outer rings of a GeoJSON (Multi)Polygon as Leaflet's [lat, lon] lists."""
    if not geometry:
        return []
    polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    return [[[y, x] for x, y in polygon[0]] for polygon in polygons]


def _local(iso: str | None, zone: ZoneInfo | None) -> str | None:
    """An ISO time moved into the district's zone (the page reads it as local time)."""
    if not iso or zone is None:
        return iso
    return dt.datetime.fromisoformat(iso).astimezone(zone).isoformat()


def _facts(details: dict, zone: ZoneInfo | None) -> dict:
    """What the events API knows of the case, as the panel lists it: places with codes, times in the district's zone."""
    place = details.get("assignment") or {}
    return {"category": details.get("category_name"), "major": details.get("category_major"),
            "code": details.get("category"), "description": details.get("description") or "",
            "reported_at": _local(details.get("reported_at"), zone),
            "occurred_at": _local(details.get("occurred_at"), zone), "accuracy_m": details.get("accuracy_m"),
            "places": [(kind, place[kind]) for kind in ("grid", "community", "street") if place.get(kind)],
            "building": place.get("building"), "shows_contact": "contact" in details,
            # a resident's contact is an object of short texts ({"name": …, "phone": …}): its values, in order
            "contact": " · ".join(str(v) for v in (details.get("contact") or {}).values())}


def _hours_left(hours: float | None, lang: str) -> str | None:
    """Working hours left before the deadline, or how far past it, in words."""
    if hours is None:
        return None
    if hours < 0:
        return t("case.hours_over", lang, n=f"{-hours:g}")
    return t("case.hours_left", lang, n=f"{hours:g}")


def _form(move: str) -> list[dict]:
    """The fields of one move's form, as case.js draws it."""
    return [{"name": name, "label": label, "kind": kind, "required": required}
            for name, label, kind, required in FORM_FIELDS.get(move, [])]


def _step(step: dict) -> dict:
    """A timeline entry as the page says it: who (a name, or the catalog key of who it was), and what changed."""
    who = (step["actor"]["display_name"] or step["actor"]["name"]) if step["actor"] else None
    # no user: a report from outside (a resident, a hotline, an import), or gridgov itself
    who_key = "case.outside_source" if step["move"] == "report" else "case.system"
    ref = step["photo_ref"]
    # A photo on this server is a link; one elsewhere is shown as text, so the page itself never
    # points outside (render_page refuses that, and offline networks could not follow it anyway).
    here = bool(ref) and ref.startswith("/") and not ref.startswith("//")
    return {"move": step["move"], "at": step["at"], "who": who, "who_key": who_key, "handler": step["handler"],
            "from_status": step["from_status"], "to_status": step["to_status"], "from_level": step["from_level"],
            "to_level": step["to_level"], "note": step["note"], "photo_ref": ref, "photo_here": here}


def _photo(attachment: dict, case: dict[str, Any], timeline: list[dict], lang: str) -> dict:
    """A photo as the page shows it: its thumbnail linking to the original, its move, and its flags in words."""
    labels = {step["id"]: step["label"] for step in timeline if step.get("id")}
    return {"original_url": attachment["original_url"], "thumb_url": attachment["thumb_url"],
            "move": labels.get(attachment["move_id"]), "notes": flag_notes(attachment, case.get("reported_at"), lang)}


def flag_notes(attachment: dict, reported_at: str | None, lang: str = DEFAULT_LANG) -> list[str]:
    """Short notes for a photo's flags, e.g. 拍摄于 2.1 km 外, 拍摄时间早于上报 6 天."""
    notes = []
    flags = attachment.get("flags") or []
    distance = attachment.get("distance_m")
    if "far" in flags and distance is not None:
        notes.append(t("photo.far_km", lang, km=f"{distance / 1000:.1f}") if distance >= 1000
                     else t("photo.far_m", lang, m=f"{distance:.0f}"))
    if "old" in flags and attachment.get("taken_at") and reported_at:
        hours = (dt.datetime.fromisoformat(reported_at) - dt.datetime.fromisoformat(attachment["taken_at"])
                 ).total_seconds() / 3600
        notes.append(t("photo.old_days", lang, n=f"{hours / 24:.0f}") if hours >= 48
                     else t("photo.old_hours", lang, n=f"{hours:.0f}"))
    if "future" in flags:
        notes.append(t("photo.flag.future", lang))
    if "no_exif_time" in flags:
        notes.append(t("photo.flag.no_exif_time", lang))
    return notes


def todo_page(lists: dict[str, list[dict]], omitted: dict[str, int], *, user_name: str,
              lang: str = DEFAULT_LANG) -> str:
    """A plain list page (no map): each kind of waiting case (its heading is todo.<kind>), each linking to its page."""
    sections = [{"kind": kind, "cases": cases, "more": omitted.get(kind, 0)} for kind, cases in lists.items()]
    return render("todo.html", lang, sections=sections, user_name=user_name)
