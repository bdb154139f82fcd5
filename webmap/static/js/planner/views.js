/* What the planner is shown of the server's answers: a preview's impact, the problems of an
 * edit (drawn on the map too), and a grid's versions. */

import { el, escapeHtml, getJSON } from "../core.js";
import { number, t } from "../i18n.js";

const FIGURES = ["area_m2", "buildings", "households", "open_events"];

// Before and after, one row per affected grid: area (geodesic m²), buildings, households, open events.
function beforeAfterTable(rows) {
  const value = (side, k) => (side ? number(k === "area_m2" ? Math.round(side[k]) : side[k]) : t("planner.table.none"));
  const head = el("tr", {}, el("th", { rowspan: "2" }, t("planner.table.grid")),
    ...FIGURES.map((k) => el("th", { colspan: "2" }, t(`planner.table.${k}`))));
  const sides = el("tr", {}, ...FIGURES.flatMap(() => [el("th", {}, t("planner.table.before")), el("th", {}, t("planner.table.after"))]));
  const body = rows.map((r) => el("tr", { "data-code": r.code }, el("td", { title: r.name || "" }, r.code),
    ...FIGURES.flatMap((k) => [el("td", { "data-figure": `${k}.before` }, value(r.before, k)),
      el("td", { "data-figure": `${k}.after`, class: r.before && r.after && r.before[k] !== r.after[k] ? "gg-changed" : "" }, value(r.after, k))])));
  return el("table", { class: "gg-props gg-before-after", id: "gg-before-after" },
    el("caption", {}, t("planner.table.caption")), el("thead", {}, head, sides), el("tbody", {}, ...body));
}

// The warnings this edit brings, and how many of the affected grids' warnings were there before it.
function warningsView(p) {
  const fresh = p.warnings || [];
  const already = p.warnings_already_count || 0;
  return el("div", { class: "gg-warnings" },
    el("p", { class: "gg-note", id: "gg-warnings-new" }, fresh.length ? t("planner.warnings_new", { n: fresh.length }) : t("planner.warnings_none_new")),
    el("ul", {}, ...fresh.map((w) => el("li", { "data-rule": w.rule }, w.text || w.detail))),
    already ? el("details", { id: "gg-warnings-already" }, el("summary", { class: "gg-note" }, t("planner.warnings_already", { n: already })),
      el("ul", {}, ...(p.warnings_already || []).map((w) => el("li", { "data-rule": w.rule }, w.text || w.detail)))) : "");
}

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
    beforeAfterTable(p.impact.before_after || []),
    el("ul", { class: "gg-moves" }, ...moveList),
    warningsView(p));
}

// The problems that have a place are drawn into `problems`; a 412 offers `reload`.
export function problemView(problem, problems, reload) {
  const list = problem.problems || [];
  list.filter((x) => x.where).forEach((x) => problems.addData({ type: "Feature", properties: {}, geometry: x.where }));
  return el("div", { class: "gg-bad", role: "alert" },
    el("b", {}, problem.title || t("planner.error")),
    el("p", {}, list.length ? "" : problem.detail || ""),
    el("ul", {}, ...list.map((x) => el("li", { "data-rule": x.rule }, x.text || x.detail))),
    problem.status === 412 ? el("button", { type: "button", onclick: reload }, t("planner.reload")) : "");
}

// A popup on the grid's layer listing its versions.
export async function showHistory(code, lyr, notice) {
  const data = await getJSON(`/api/v1/grids/${encodeURIComponent(code)}/history?geometry=false`);
  if (data.problem) return notice(data.problem.detail || data.problem.title);
  const rows = data.versions.map((v) => `<tr><td>v${v.version}</td><td>${escapeHtml(v.valid_from || "—")}</td><td>${escapeHtml(v.valid_to || t("planner.now"))}</td><td>${escapeHtml(t("unit.m2", { n: number(Math.round(v.area_m2)) }))}</td></tr>`).join("");
  lyr.bindPopup(`<b>${escapeHtml(code)} ${escapeHtml(data.name)}</b><table class="gg-props">${rows}</table>`).openPopup();
}
