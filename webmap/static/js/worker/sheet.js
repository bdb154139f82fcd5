/* The sheet's lists: the outbox with each report's state, the worker's grids and open cases,
 * and a legend of the marker colours. */

import { el } from "../core.js";
import { label, localTime, t } from "../i18n.js";

const LIST_GRIDS = 50;
const LIST_EVENTS = 100;

const more = (n) => (n > 0 ? [el("li", { class: "gg-note" }, t("worker.more", { n }))] : []);

export function renderOutbox(box, items, user, actions) {
  const waiting = items.filter((it) => it.state !== "sent");
  box.replaceChildren(
    el("h2", {}, waiting.length ? t("worker.outbox_count", { n: waiting.length }) : t("worker.outbox")),
    waiting.length ? el("ul", {}, ...waiting.map((it) => {
      const buttons = [];
      if (it.state === "refused") {
        if (it.kind !== "move" && it.eventId === null) buttons.push(el("button", { type: "button", class: "gg-secondary", onclick: () => actions.edit(it.key) }, t("worker.outbox.edit")));
        buttons.push(el("button", { type: "button", class: "gg-secondary", onclick: () => actions.resend(it.key) }, t("worker.outbox.resend")));
      }
      buttons.push(el("button", { type: "button", class: "gg-link", onclick: () => confirm(t("worker.outbox.discard_confirm")) && actions.discard(it.key) }, t("worker.outbox.discard")));
      const problem = it.problem ? el("p", { class: "gg-warning" }, t("worker.failed", { title: it.problem.title || "", detail: it.problem.detail || "" })) : "";
      return el("li", { class: `gg-item gg-${it.state}`, "data-key": it.key, "data-state": it.state },
        el("b", {}, t(`worker.outbox.${it.state}`)), " ",
        it.kind === "move"
          ? t("worker.outbox.move", { move: label("move", it.body.move), id: it.eventId, photos: it.photos.length, when: localTime(it.created) })
          : t("worker.outbox.item", { title: it.body.title, photos: it.photos.length, when: localTime(it.created) }),
        it.user !== user ? el("small", {}, ` (${it.user})`) : "", problem, el("div", { class: "gg-row" }, ...buttons));
    })) : el("p", { class: "gg-note" }, t("worker.outbox_empty")));
}

export function renderLists(box, view, mine, eventsLayer) {
  const fmt = new Intl.NumberFormat(document.documentElement.lang || "zh-CN", { maximumFractionDigits: 0 });
  box.replaceChildren(
    el("h2", {}, mine ? t("worker.my_grids") : t("worker.grids_in_view")),
    el("ul", {}, ...view.grids.slice(0, LIST_GRIDS).map((f) => el("li", {}, t("worker.grid_line", {
      name: f.properties.name, code: f.properties.code, area: t("unit.m2", { n: fmt.format(f.properties.area_m2 || 0) }),
      households: f.properties.households == null ? "—" : t("unit.households", { n: f.properties.households }), open: f.properties.open_events ?? 0,
    }))), ...more(view.grids.length - LIST_GRIDS)),
    el("h2", {}, t("worker.open_events")),
    el("ul", {}, ...view.events.slice(0, LIST_EVENTS).map((f) =>
      el("li", {}, el("a", { href: `/cases/${encodeURIComponent(f.id)}`, class: "gg-case-link gg-tap" }, `#${f.id} ${f.properties.title}`),
        ` · ${f.properties.category_name || f.properties.category} · ${label("status", f.properties.status)}`,
        f.properties.overdue ? el("b", { class: "gg-overdue" }, ` ${t("status.overdue")}`) : "")), ...more(view.events.length - LIST_EVENTS)),
    legend(eventsLayer));
}

function legend(eventsLayer) {
  const swatch = (color, text, round) => el("li", {}, el("span", { class: `gg-swatch${round ? " gg-round" : ""}`, "data-color": color }), text);
  const statuses = eventsLayer ? eventsLayer.style.status_colors.filter(([s]) => !["closed", "rejected", "merged"].includes(s)) : [];
  const list = el("ul", { class: "gg-legend" }, swatch("#1565c0", t("worker.legend.mine")), swatch("#d32f2f", t("worker.legend.here"), true),
    ...statuses.map(([s, c]) => swatch(c, label("status", s), true)));
  // Colours set as properties, not style attributes: the page's policy keeps inline styles out of our markup.
  list.querySelectorAll(".gg-swatch").forEach((n) => { n.style.background = n.dataset.color; });
  return el("details", { class: "gg-legend-box" }, el("summary", {}, t("worker.legend")), list);
}
