/* Map controls every page may show: the legend of the registry's styles and the user bar
 * with its sign-out form. */

import { el } from "./core.js";
import { label, layerTitle, t } from "./i18n.js";

export function legend(map, layers) {
  const ctl = L.control({ position: "bottomright" });
  ctl.onAdd = () => {
    // Folded on screens too small to show it beside the layer control.
    const box = el("details", { class: "gg-panel gg-legend" });
    if (window.innerHeight >= 900) box.setAttribute("open", "");
    box.append(el("summary", {}, t("map.legend")));
    layers.forEach((layer) => {
      const c = (layer.style || {}).choropleth;
      if (!c) return;
      box.append(el("b", {}, layerTitle(layer)));
      c.colors.forEach((color, i) => {
        const lo = c.breaks[i];
        const hi = i + 1 < c.breaks.length ? c.breaks[i + 1] : null;
        const label = hi === null ? `≥ ${lo}` : hi - lo === 1 ? `${lo}` : `${lo}–${hi - 1}`;
        box.append(el("div", {}, el("i", { style: `background:${color}` }), ` ${label}`));
      });
    });
    const st = layers.find((l) => (l.style || {}).status_colors);
    if (st) {
      box.append(el("b", {}, t("map.legend.status")));
      st.style.status_colors.forEach(([k, color]) => box.append(el("div", {}, el("i", { style: `background:${color};border-radius:50%` }), ` ${label("status", k)}`)));
      if (st.style.overdue_color) {  // issue #8
        box.append(el("div", {}, el("i", { style: `border:3px solid ${st.style.overdue_color};border-radius:50%;box-sizing:border-box` }), ` ${t("status.overdue")}`));
      }
    }
    return box;
  };
  return ctl.addTo(map);
}

export function userBar(map, config) {
  const ctl = L.control({ position: "bottomleft" });
  ctl.onAdd = () => {
    const form = el("form", { method: "post", action: config.endpoints.logout, class: "gg-panel gg-user" },
      `${t("map.user", { name: config.user.display_name || config.user.name, role: label("role", config.user.role) })} `,
      el("input", { type: "hidden", name: "csrf_token", value: config.csrf }),
      el("button", { type: "submit" }, t("action.sign_out")));
    L.DomEvent.disableClickPropagation(form);
    return form;
  };
  return ctl.addTo(map);
}
