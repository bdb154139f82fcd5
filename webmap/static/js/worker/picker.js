/* The category picker made for a thumb: a search box, the worker's recent categories first, then
 * the major classes, each opening its categories; the choice fills a hidden input. */

import { el, groupBy } from "../core.js";
import { t } from "../i18n.js";

const RECENT_KEY = "gridgov.recentCategories";
const RECENT_MAX = 6;

function recent() {
  try {
    return JSON.parse(localStorage.getItem(RECENT_KEY) || "[]");
  } catch {
    return [];
  }
}

export function remember(code) {
  const codes = [code, ...recent().filter((c) => c !== code)].slice(0, RECENT_MAX);
  localStorage.setItem(RECENT_KEY, JSON.stringify(codes));
}

export function categoryPicker(categories) {
  const input = el("input", { type: "hidden", name: "category", value: "" });
  const chosen = el("button", { type: "button", class: "gg-choice", id: "gg-category", "aria-expanded": "false" }, t("worker.category_choose"));
  const search = el("input", { type: "search", class: "gg-search", placeholder: t("worker.category_search"), "aria-label": t("worker.category_search") });
  const list = el("div", { class: "gg-picker-list" });
  const panel = el("div", { class: "gg-picker", id: "gg-picker", hidden: "hidden" }, search, list);
  const byCode = new Map(categories.map((c) => [c.code, c]));

  const option = (c) => el("button", { type: "button", class: "gg-option", "data-code": c.code, onclick: () => choose(c.code) },
    el("span", {}, c.name), el("small", {}, ` ${c.major_name} · ${c.code}`));

  function draw() {
    const q = search.value.trim().toLowerCase();
    if (q) {
      const hits = categories.filter((c) => `${c.name} ${c.code} ${c.major_name}`.toLowerCase().includes(q));
      list.replaceChildren(...(hits.length ? hits.slice(0, 30).map(option) : [el("p", { class: "gg-note" }, t("worker.category_none"))]));
      return;
    }
    const mine = recent().map((code) => byCode.get(code)).filter(Boolean);
    list.replaceChildren(
      ...(mine.length ? [el("h3", {}, t("worker.category_recent")), ...mine.map(option)] : []),
      ...groupBy(categories, (c) => c.major_name).map(([major, cats]) =>
        el("details", { class: "gg-major" }, el("summary", {}, `${major} (${cats.length})`), ...cats.map(option))));
  }

  function open(show) {
    panel.hidden = !show;
    chosen.setAttribute("aria-expanded", String(show));
    if (show) {
      draw();
      search.focus();
    }
  }

  function choose(code) {
    const c = byCode.get(code);
    input.value = c ? c.code : "";
    chosen.textContent = c ? `${c.name} · ${c.major_name}` : t("worker.category_choose");
    chosen.classList.toggle("gg-chosen", Boolean(c));
    open(false);
  }

  chosen.addEventListener("click", () => open(panel.hidden));
  search.addEventListener("input", draw);
  return { input, node: el("div", { class: "gg-field" }, el("label", { for: "gg-category" }, t("worker.category")), chosen, panel, input), choose };
}
