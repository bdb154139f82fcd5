/* The command center's incoming queue (issue 19): new reports, overdue cases and cases escalated
 * to the commander's level, from GET /api/v1/cases/mine (each list with the true total, so a list
 * cut short says "显示 8 / 共 2,204"), kept fresh by the live stream; a new report shows a toast
 * linking to its case page. */

import { el, getJSON, withQuery } from "./core.js";
import { number, t } from "./i18n.js";
import { state } from "./state.js";

const KINDS = [["to_register", "command.queue.new"], ["overdue", "command.queue.overdue"], ["escalated", "todo.escalated"]];
const SHOWN = 8;  // items per list in the panel; the to-do page (/cases) has them all

const caseLink = (c) => el("a", { href: `/cases/${encodeURIComponent(c.id)}`, "data-id": c.id }, `#${c.id} ${c.title || ""}`);

export function incomingQueue(map, config) {
  const ctl = L.control({ position: "topleft" });  // under the search: the right holds layers and legend
  const parts = {};
  const toasts = el("div", { class: "gg-toasts", id: "gg-toasts", role: "status", "aria-live": "polite" });
  ctl.onAdd = () => {
    const box = el("div", { class: "gg-panel gg-queue", id: "gg-queue" },
      el("div", { class: "gg-queue-head" }, el("b", {}, t("command.queue.title")), " ",
        el("a", { href: config.endpoints.cases, id: "gg-todo-link" }, t("command.queue.all"))));
    KINDS.forEach(([kind, key]) => {
      const heading = el("summary", {}, t(key));
      const list = el("ol", { class: "gg-queue-list" });
      const capped = el("small", { class: "gg-capped" });
      const section = el("details", { "data-kind": kind, open: true }, heading, list, capped);
      parts[kind] = { key, heading, list, capped, total: 0 };
      box.append(section);
    });
    L.DomEvent.disableClickPropagation(box);
    L.DomEvent.disableScrollPropagation(box);
    return box;
  };
  ctl.addTo(map);
  map.getContainer().append(toasts);

  function draw(kind, cases, total) {
    const part = parts[kind];
    part.total = total;
    part.heading.textContent = t("command.queue.count", { name: t(part.key), n: number(total) });
    const items = cases.slice(0, SHOWN).map((c) => el("li", { "data-id": c.id, class: c.overdue ? "gg-overdue" : "" }, caseLink(c)));
    part.list.replaceChildren(...(items.length ? items : [el("li", { class: "gg-empty" }, t("command.queue.empty"))]));
    part.capped.textContent = total > items.length && items.length ? t("command.queue.capped", { shown: number(items.length), total: number(total) }) : "";
  }

  async function refresh() {
    const data = await getJSON(withQuery(config.endpoints.todo, { limit: SHOWN }));
    if (!data || data.problem) return;
    KINDS.forEach(([kind]) => data[kind] && draw(kind, data[kind], data[kind].length + (data[`${kind}_omitted`] || 0)));
    state.queue = Object.fromEntries(KINDS.map(([kind]) => [kind, parts[kind].total]));
  }
  const soon = { timer: null };
  refresh.soon = () => {
    clearTimeout(soon.timer);
    soon.timer = setTimeout(refresh, 700);
  };

  function toast(feature) {
    const p = feature.properties || {};
    const item = el("div", { class: "gg-toast", "data-id": feature.id },
      t("command.toast.new", { id: feature.id, title: p.title || "" }), " ",
      el("a", { href: `/cases/${encodeURIComponent(feature.id)}` }, t("command.toast.open")));
    toasts.append(item);
    setTimeout(() => item.remove(), 12000);
  }

  // A live event: a new report joins the queue at once and says so; any change refreshes the lists.
  refresh.live = (feature, op) => {
    if (op === "insert" && (feature.properties || {}).status === "reported") {
      const part = parts.to_register;
      const empty = part.list.querySelector(".gg-empty");
      if (empty) empty.remove();
      part.list.prepend(el("li", { "data-id": feature.id, class: "gg-fresh" }, caseLink({ id: feature.id, title: feature.properties.title })));
      part.total += 1;
      part.heading.textContent = t("command.queue.count", { name: t(part.key), n: number(part.total) });
      toast(feature);
    }
    refresh.soon();
  };
  refresh();
  return refresh;
}
