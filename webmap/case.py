"""The case page (/cases/<id>): where the case is, its timeline, and buttons for the moves the viewer may make."""
from __future__ import annotations

import datetime as dt
from typing import Any

import folium

from webmap.assets import literal_html, render_page
from webmap.render import render

CASE_CSS = "/static/case.css"
CASE_JS = "/static/js/case.js"  # sends the moves' forms to the API
STATUS_COLOURS = {"reported": "#f9a825", "registered": "#fb8c00", "dispatched": "#1e88e5", "in_progress": "#3949ab",
                  "handled": "#8e24aa", "closed": "#43a047", "rejected": "#757575", "merged": "#9e9e9e"}
OVERDUE_COLOUR = "#d50000"

# The fields each move's form asks for; `required` ones the API insists on too.
FORM_FIELDS: dict[str, list[tuple[str, str, str, bool]]] = {
    # move: [(name, label, input type, required)]
    "register": [("category", "更正类别 category (optional)", "text", False), ("note", "备注 note", "text", False)],
    "reject": [("note", "理由 reason", "text", True)],
    "merge": [("target", "并入案件编号 into case #", "number", True), ("note", "备注 note", "text", False)],
    "dispatch": [("handler", "处置人 handler", "handler", False), ("note", "派遣说明 note", "text", False)],
    "start": [],
    "handle": [("note", "处置情况 what was done", "text", True), ("photo_ref", "照片 photo URL", "text", False)],
    "verify": [("note", "核查意见 verification note", "text", False)],
    "rework": [("note", "返工理由 why it is not done", "text", True)],
    "postpone": [("extra_hours", "延长工作小时 extra working hours", "number", True),
                 ("note", "延期理由 reason", "text", True)],
    "escalate": [("note", "理由 reason", "text", False)],
    "deescalate": [("note", "理由 reason", "text", False)],
    "note": [("note", "备注 note", "text", True), ("photo_ref", "照片 photo URL", "text", False)],
}


def case_page(case: dict[str, Any], timeline: list[dict], allowed: list[str], *, lonlat: tuple[float, float],
              move_labels: dict[str, str], handlers: list[str], duplicates: list[dict], csrf_token: str,
              user_name: str, basemap_url: str | None = None, basemap_attribution: str = "",
              attachments: list[dict] = ()) -> str:
    """The page for one case, usable at phone width: a small map, the state, the moves, the timeline."""
    lon, lat = lonlat
    m = folium.Map(location=[lat, lon], zoom_start=18, tiles=None, max_zoom=20, height="38vh", control_scale=True)
    if basemap_url:
        folium.TileLayer(basemap_url, attr=basemap_attribution or "basemap", max_zoom=20).add_to(m)
    colour = OVERDUE_COLOUR if case["overdue"] else STATUS_COLOURS[case["status"]]
    folium.CircleMarker([lat, lon], radius=10, color="#fff", weight=2, fill=True, fill_color=colour,
                        fill_opacity=0.9, tooltip=literal_html(f"#{case['id']} {case['title']}")).add_to(m)
    figure = m.get_root()
    figure.header.add_child(folium.CssLink(CASE_CSS), name="case_css")
    figure.header.add_child(folium.Element(f'<script type="module" src="{CASE_JS}"></script>'), name="case_js")
    panel = render("case_panel.html", case=case, user_name=user_name, handlers=handlers,
                   forms=_forms(allowed, move_labels), duplicates=duplicates if "merge" in allowed else [],
                   steps=[_step(step) for step in reversed(timeline)],
                   moves_url=f"/api/v1/events/{case['id']}/moves", csrf_token=csrf_token,
                   photos=[_photo(a, case, timeline) for a in attachments])
    figure.html.add_child(folium.Element(panel), name="case_panel")
    return render_page(m, f"案件 #{case['id']} — gridgov")


def _forms(allowed: list[str], move_labels: dict[str, str]) -> list[dict]:
    """One form per move the viewer may make, with the fields FORM_FIELDS gives it."""
    return [{"move": move, "label": move_labels[move],
             "fields": [{"name": name, "label": label, "kind": kind, "required": required}
                        for name, label, kind, required in FORM_FIELDS.get(move, [])]}
            for move in allowed]


def _step(step: dict) -> dict:
    """A timeline entry as the page says it: who, and what changed."""
    if step["actor"]:
        who = step["actor"]["display_name"] or step["actor"]["name"]
    else:  # no user: a report from outside (a resident, a hotline, an import), or gridgov itself
        who = "外部来源 outside source" if step["move"] == "report" else "系统 system"
    change = f'{step["from_status"]} → {step["to_status"]}' if step["from_status"] != step["to_status"] else ""
    if step["from_level"] and step["to_level"] and step["from_level"] != step["to_level"]:
        change += f' {step["from_level"]} → {step["to_level"]}'
    ref = step["photo_ref"]
    # A photo on this server is a link; one elsewhere is shown as text, so the page itself never
    # points outside (render_page refuses that, and offline networks could not follow it anyway).
    here = bool(ref) and ref.startswith("/") and not ref.startswith("//")
    return {"move": step["move"], "at": step["at"], "label": step["label"], "who": who, "handler": step["handler"],
            "change": change, "note": step["note"], "photo_ref": ref, "photo_here": here}


def _photo(attachment: dict, case: dict[str, Any], timeline: list[dict]) -> dict:
    """A photo as the page shows it: its thumbnail linking to the original, its move, and its flags in words."""
    labels = {step["id"]: step["label"] for step in timeline if step.get("id")}
    return {"original_url": attachment["original_url"], "thumb_url": attachment["thumb_url"],
            "move": labels.get(attachment["move_id"]), "notes": flag_notes(attachment, case.get("reported_at"))}


def flag_notes(attachment: dict, reported_at: str | None) -> list[str]:
    """Short notes for a photo's flags, e.g. 拍摄于 2.1 km 外, 拍摄时间早于上报 6 天."""
    notes = []
    flags = attachment.get("flags") or []
    distance = attachment.get("distance_m")
    if "far" in flags and distance is not None:
        notes.append(f"拍摄于 {distance / 1000:.1f} km 外" if distance >= 1000 else f"拍摄于 {distance:.0f} m 外")
    if "old" in flags and attachment.get("taken_at") and reported_at:
        hours = (dt.datetime.fromisoformat(reported_at) - dt.datetime.fromisoformat(attachment["taken_at"])
                 ).total_seconds() / 3600
        notes.append(f"拍摄时间早于上报 {hours / 24:.0f} 天" if hours >= 48 else f"拍摄时间早于上报 {hours:.0f} 小时")
    if "future" in flags:
        notes.append("拍摄时间晚于上传时间")
    if "no_exif_time" in flags:
        notes.append("无拍摄时间")
    return notes


TODO_TITLES = {"to_handle": "待处置 to handle", "to_verify": "待核查 to verify", "to_register": "待立案 to register",
               "overdue": "超期 overdue"}


def todo_page(lists: dict[str, list[dict]], omitted: dict[str, int], *, user_name: str) -> str:
    """A plain list page (no map): each kind of waiting case, each case linking to its page."""
    sections = [{"kind": kind, "title": TODO_TITLES[kind], "cases": cases, "more": omitted.get(kind, 0)}
                for kind, cases in lists.items()]
    return render("todo.html", sections=sections, user_name=user_name)
