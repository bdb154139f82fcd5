/* The command center's time filter on the events and the heat map (issue 19): every event, today
 * (the district's local day), the last 7 days, or a range of days; it sets ctx.datetime (an OGC
 * `datetime` interval with the district's offsets) and ctx.since, and reloads the events. */

import { el } from "./core.js";
import { localDay, localMidnight, t } from "./i18n.js";

const DAY_MS = 86400000;
const nextDay = (day) => new Date(Date.parse(`${day}T12:00:00Z`) + DAY_MS).toISOString().slice(0, 10);

export function timeFilter(map, ctx) {
  const ctl = L.control({ position: "topright" });
  ctl.onAdd = () => {
    const choice = el("select", { id: "gg-time", "aria-label": t("map.time.label") },
      ["all", "today", "week", "range"].map((v) => el("option", { value: v }, t(`map.time.${v}`))));
    const from = el("input", { type: "date", id: "gg-time-from", "aria-label": t("map.time.from") });
    const to = el("input", { type: "date", id: "gg-time-to", "aria-label": t("map.time.to") });
    const range = el("span", { class: "gg-time-range", hidden: "" }, from, " – ", to);
    const apply = () => {
      const today = localDay();
      range.hidden = choice.value !== "range";
      let lo = null;
      let hi = null;
      if (choice.value === "today") lo = today;
      if (choice.value === "week") lo = new Date(Date.parse(`${today}T12:00:00Z`) - 6 * DAY_MS).toISOString().slice(0, 10);
      if (choice.value === "range") {
        lo = from.value || null;
        hi = to.value ? nextDay(to.value) : null;
      }
      ctx.since = lo ? Date.parse(localMidnight(lo)) : null;
      ctx.until = hi ? Date.parse(localMidnight(hi)) : null;
      ctx.datetime = lo || hi ? `${lo ? localMidnight(lo) : ".."}/${hi ? localMidnight(hi) : ".."}` : null;
      ctx.reload();
    };
    [choice, from, to].forEach((input) => input.addEventListener("change", apply));
    const box = el("div", { class: "gg-panel gg-time" }, t("map.time.heading"), " ", choice, range);
    L.DomEvent.disableClickPropagation(box);
    return box;
  };
  return ctl.addTo(map);
}
