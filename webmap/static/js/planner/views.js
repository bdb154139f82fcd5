/* What the planner is shown of the server's answers: a preview's impact, the problems of an
 * edit (drawn on the map too), and a grid's versions. */

import { el, escapeHtml, getJSON } from "../core.js";
import { number, t } from "../i18n.js";

export function impactView(p) {
  const codes = (list) => list.map((g) => `${g.code} v${g.version}`).join(", ") || "—";
  const rows = [
    [t("planner.impact.closes"), codes(p.closed)], [t("planner.impact.opens"), codes(p.opened)],
    [t("planner.impact.retires"), p.retired.join(", ") || "—"],
    [t("planner.impact.buildings"), t("planner.impact.buildings_value", { n: p.impact.buildings.moved, households: number(p.impact.buildings.households) })],
    [t("planner.impact.events"), String(p.impact.open_events.moved)],
    [t("planner.impact.contracts"), String(p.impact.contracts.filter((c) => c.action === "flagged").length)],
  ];
  const moveList = p.impact.buildings.moves.concat(p.impact.open_events.moves).map((m) =>
    el("li", {}, `${m.from || "—"} → ${m.to || "—"}: ${m.buildings !== undefined ? t("planner.impact.move_buildings", { buildings: m.buildings, households: m.households }) : t("planner.impact.move_events", { n: m.events })}`));
  return el("div", { class: "gg-ok" },
    el("b", {}, t("planner.ok")),
    el("table", { class: "gg-props" }, ...rows.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v)))),
    el("ul", { class: "gg-moves" }, ...moveList),
    ...(p.warnings.length ? [el("p", { class: "gg-note" }, t("planner.warnings")), el("ul", {}, ...p.warnings.map((w) => el("li", {}, w.detail)))] : []));
}

// The problems that have a place are drawn into `problems`; a 412 offers `reload`.
export function problemView(problem, problems, reload) {
  const list = problem.problems || [];
  list.filter((x) => x.where).forEach((x) => problems.addData({ type: "Feature", properties: {}, geometry: x.where }));
  return el("div", { class: "gg-bad", role: "alert" },
    el("b", {}, problem.title || t("planner.error")),
    el("p", {}, list.length ? "" : problem.detail || ""),
    el("ul", {}, ...list.map((x) => el("li", { "data-rule": x.rule }, x.detail))),
    problem.status === 412 ? el("button", { type: "button", onclick: reload }, t("planner.reload")) : "");
}

// A popup on the grid's layer listing its versions.
export async function showHistory(code, lyr, notice) {
  const data = await getJSON(`/api/v1/grids/${encodeURIComponent(code)}/history?geometry=false`);
  if (data.problem) return notice(data.problem.detail || data.problem.title);
  const rows = data.versions.map((v) => `<tr><td>v${v.version}</td><td>${escapeHtml(v.valid_from || "—")}</td><td>${escapeHtml(v.valid_to || t("planner.now"))}</td><td>${escapeHtml(t("unit.m2", { n: number(Math.round(v.area_m2)) }))}</td></tr>`).join("");
  lyr.bindPopup(`<b>${escapeHtml(code)} ${escapeHtml(data.name)}</b><table class="gg-props">${rows}</table>`).openPopup();
}
