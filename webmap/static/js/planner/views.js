/* What the planner is shown of the server's answers: a preview's impact, the problems of an
 * edit (drawn on the map too), and a grid's versions. */

import { el, escapeHtml, getJSON } from "../core.js";

export function impactView(p) {
  const codes = (list) => list.map((g) => `${g.code} v${g.version}`).join(", ") || "—";
  const rows = [
    ["关闭 closes", codes(p.closed)], ["新开 opens", codes(p.opened)], ["撤销 retires", p.retired.join(", ") || "—"],
    ["楼栋 buildings moved", `${p.impact.buildings.moved} (${p.impact.buildings.households} 户 households)`],
    ["在办事件 open events moved", String(p.impact.open_events.moved)],
    ["包片 contracts flagged", String(p.impact.contracts.filter((c) => c.action === "flagged").length)],
  ];
  const moveList = p.impact.buildings.moves.concat(p.impact.open_events.moves).map((m) =>
    el("li", {}, `${m.from || "—"} → ${m.to || "—"}: ${m.buildings !== undefined ? `${m.buildings} 栋 ${m.households} 户` : `${m.events} 件事件 events`}`));
  return el("div", { class: "gg-ok" },
    el("b", {}, "预览 preview — 无拓扑问题 no gap, no overlap"),
    el("table", { class: "gg-props" }, ...rows.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v)))),
    el("ul", { class: "gg-moves" }, ...moveList),
    ...(p.warnings.length ? [el("p", { class: "gg-note" }, "提示 warnings:"), el("ul", {}, ...p.warnings.map((w) => el("li", {}, w.detail)))] : []));
}

// The problems that have a place are drawn into `problems`; a 412 offers `reload`.
export function problemView(problem, problems, reload) {
  const list = problem.problems || [];
  list.filter((x) => x.where).forEach((x) => problems.addData({ type: "Feature", properties: {}, geometry: x.where }));
  return el("div", { class: "gg-bad", role: "alert" },
    el("b", {}, `${problem.title || "错误 error"}`),
    el("p", {}, list.length ? "" : problem.detail || ""),
    el("ul", {}, ...list.map((x) => el("li", { "data-rule": x.rule }, x.detail))),
    problem.status === 412 ? el("button", { type: "button", onclick: reload }, "重新加载 reload") : "");
}

// A popup on the grid's layer listing its versions.
export async function showHistory(code, lyr, notice) {
  const data = await getJSON(`/api/v1/grids/${encodeURIComponent(code)}/history?geometry=false`);
  if (data.problem) return notice(data.problem.detail || data.problem.title);
  const rows = data.versions.map((v) => `<tr><td>v${v.version}</td><td>${escapeHtml(v.valid_from || "—")}</td><td>${escapeHtml(v.valid_to || "now")}</td><td>${Math.round(v.area_m2)}</td></tr>`).join("");
  lyr.bindPopup(`<b>${escapeHtml(code)} ${escapeHtml(data.name)}</b><table class="gg-props">${rows}</table>`).openPopup();
}
