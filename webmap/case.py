"""The case page (/cases/<id>): where the case is, its timeline, and buttons for the moves the viewer may make."""
from __future__ import annotations

import json
from html import escape
from typing import Any

import folium

from webmap.assets import render_page

CASE_CSS = "/static/case.css"
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


def _when(iso: str | None) -> str:
    """A time as the page shows it: the ISO text's own local date and minute (the API gives the
    district's offset), e.g. 2026-12-02 14:30."""
    return iso[:16].replace("T", " ") if iso else "—"


def case_page(case: dict[str, Any], timeline: list[dict], allowed: list[str], *, lonlat: tuple[float, float],
              move_labels: dict[str, str], handlers: list[str], duplicates: list[dict], csrf_token: str,
              user_name: str, basemap_url: str | None = None, basemap_attribution: str = "") -> str:
    """The page for one case, usable at phone width: a small map, the state, the moves, the timeline."""
    lon, lat = lonlat
    m = folium.Map(location=[lat, lon], zoom_start=18, tiles=None, max_zoom=20, height="38vh", control_scale=True)
    if basemap_url:
        folium.TileLayer(basemap_url, attr=basemap_attribution or "basemap", max_zoom=20).add_to(m)
    colour = OVERDUE_COLOUR if case["overdue"] else STATUS_COLOURS[case["status"]]
    folium.CircleMarker([lat, lon], radius=10, color="#fff", weight=2, fill=True, fill_color=colour,
                        fill_opacity=0.9, tooltip=f"#{case['id']} {case['title']}").add_to(m)
    figure = m.get_root()
    figure.header.add_child(folium.CssLink(CASE_CSS), name="case_css")
    figure.html.add_child(folium.Element(_panel(case, timeline, allowed, move_labels, handlers, duplicates,
                                                user_name)), name="case_panel")
    figure.html.add_child(folium.Element(_script(case["id"], csrf_token)), name="case_script")
    return render_page(m, f"案件 #{case['id']} — gridgov")


def _panel(case, timeline, allowed, move_labels, handlers, duplicates, user_name) -> str:
    e = escape
    badge = '<span class="badge overdue">超期 overdue</span>' if case["overdue"] else ""
    head = (f'<header><h1>#{case["id"]} {e(case["title"])}</h1>'
            f'<p><span class="badge" data-status="{case["status"]}" id="case-status">{e(case["status_label"])}</span>'
            f'{badge} <span class="level">层级 {e(case["level"])}</span></p>'
            f'<dl><dt>期限 deadline</dt><dd id="case-deadline">{e(_when(case["deadline_at"]))}</dd>'
            f'<dt>处置人 handler</dt><dd>{e(case["handler"] or "—")}</dd>'
            f'<dt>返工 rework</dt><dd>{case["rework_count"]}</dd><dt>延期 postponed</dt><dd>{case["postponed_count"]}</dd>'
            + (f'<dt>并入 merged into</dt><dd><a href="/cases/{case["merged_into"]}">#{case["merged_into"]}</a></dd>'
               if case["merged_into"] else "")
            + f'</dl><p class="who">{e(user_name)} · <a href="/cases">待办 my cases</a> · <a href="/map">地图 map</a>'
            f'</p></header>')
    forms = []
    for move in allowed:
        fields = []
        for name, label, kind, required in FORM_FIELDS.get(move, []):
            req = " required" if required else ""
            if kind == "handler":
                options = "".join(f'<option value="{e(h)}">{e(h)}</option>' for h in handlers)
                fields.append(f'<label>{e(label)}<select name="{name}"><option value="">(自动 auto)</option>'
                              f'{options}</select></label>')
            else:
                extra = ' step="0.5" min="0.5"' if kind == "number" and name == "extra_hours" else ""
                fields.append(f'<label>{e(label)}<input name="{name}" type="{kind}"{extra}{req}></label>')
        forms.append(f'<form class="move" data-move="{move}">{"".join(fields)}'
                     f'<button type="submit" name="move" value="{move}">{e(move_labels[move])}</button></form>')
    if duplicates and "merge" in allowed:
        items = "".join(f'<li>#{d["id"]} {e(d["title"])} · {d["distance_m"]} m · {e(d["status"])}</li>'
                        for d in duplicates)
        forms.insert(0, f'<div class="duplicates"><h2>可能重复 likely duplicates</h2><ul>{items}</ul></div>')
    moves = (f'<section class="moves"><h2>操作 moves</h2><p class="error" role="alert" id="move-error"></p>'
             f'{"".join(forms)}</section>' if allowed else "")
    entries = []
    for step in reversed(timeline):
        if step["actor"]:
            who = step["actor"]["display_name"] or step["actor"]["name"]
        else:  # no user: a report from outside (a resident, a hotline, an import), or gridgov itself
            who = "外部来源 outside source" if step["move"] == "report" else "系统 system"
        change = (f'{e(step["from_status"])} → {e(step["to_status"])}' if step["from_status"] != step["to_status"]
                  else "")
        if step["from_level"] and step["to_level"] and step["from_level"] != step["to_level"]:
            change += f' {e(step["from_level"])} → {e(step["to_level"])}'
        photo = _photo(step["photo_ref"])
        handler = f' → {e(step["handler"])}' if step["handler"] else ""
        entries.append(f'<li data-move="{step["move"]}"><time>{e(_when(step["at"]))}</time> '
                       f'<b>{e(step["label"])}</b> {e(who)}{handler} <span class="change">{change}</span>'
                       f'{"<q>" + e(step["note"]) + "</q>" if step["note"] else ""}{photo}</li>')
    line = f'<section class="timeline"><h2>流转记录 timeline</h2><ol id="timeline">{"".join(entries)}</ol></section>'
    return f'<main class="case-panel">{head}{moves}{line}</main>'


def _photo(ref: str | None) -> str:
    # A photo on this server is a link; one elsewhere is shown as text, so the page itself never
    # points outside (render_page refuses that, and offline networks could not follow it anyway).
    if not ref:
        return ""
    if ref.startswith("/") and not ref.startswith("//"):
        return f' <a href="{escape(ref)}">照片 photo</a>'
    return f' <span class="photo">照片 photo: {escape(ref)}</span>'


def _script(case_id: int, csrf_token: str) -> str:
    return f"""<script>
(function () {{
  const url = "/api/v1/events/{case_id}/moves", csrf = {json.dumps(csrf_token)};
  document.querySelectorAll("form.move").forEach(function (form) {{
    form.addEventListener("submit", async function (ev) {{
      ev.preventDefault();
      const body = {{move: form.dataset.move}};
      new FormData(form).forEach(function (value, key) {{
        if (value === "") return;
        body[key] = (key === "extra_hours" || key === "target") ? Number(value) : value;
      }});
      const error = document.getElementById("move-error");
      error.textContent = "";
      const response = await fetch(url, {{method: "POST", credentials: "same-origin",
        headers: {{"Content-Type": "application/json", "X-CSRF-Token": csrf}}, body: JSON.stringify(body)}});
      if (response.ok) {{ window.location.reload(); return; }}
      const problem = await response.json().catch(function () {{ return {{title: response.statusText}}; }});
      error.textContent = problem.title + (problem.detail ? ": " + problem.detail : "");
    }});
  }});
}})();
</script>"""


TODO_TITLES = {"to_handle": "待处置 to handle", "to_verify": "待核查 to verify", "to_register": "待立案 to register",
               "overdue": "超期 overdue"}
TODO_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>待办 — gridgov</title><link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/gridgov.css"><link rel="stylesheet" href="{css}"></head>
<body><main class="case-panel"><header><h1>待办 my cases</h1><p class="who">{user} · <a href="/map">地图 map</a></p>
</header>{sections}</main></body></html>"""


def todo_page(lists: dict[str, list[dict]], omitted: dict[str, int], *, user_name: str) -> str:
    """A plain list page (no map): each kind of waiting case, each case linking to its page."""
    sections = []
    for kind, cases in lists.items():
        more = omitted.get(kind, 0)
        items = "".join(
            f'<li data-id="{c["id"]}"><a href="/cases/{c["id"]}">#{c["id"]} {escape(c["title"])}</a> '
            f'<span class="badge" data-status="{c["status"]}">{escape(c["status"])}</span>'
            + (' <span class="badge overdue">超期</span>' if c["overdue"] else "")
            + f' <time>{escape(_when(c["deadline_at"]) if c["deadline_at"] else "")}</time></li>' for c in cases)
        if more:
            items += f'<li class="more">… 还有 {more:,} 项未列出 / and {more:,} more</li>'
        sections.append(f'<section class="todo" id="{kind}"><h2>{escape(TODO_TITLES[kind])} ({len(cases) + more})</h2>'
                        f'<ol class="cases">{items or "<li>—</li>"}</ol></section>')
    return TODO_PAGE.format(css=CASE_CSS, user=escape(user_name), sections="".join(sections))
