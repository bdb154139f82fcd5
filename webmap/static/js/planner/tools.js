/* The planner's edit tools: split (draw a line across the one selected grid), merge, create
 * (draw a polygon in a community) and retire; each becomes one edit for `setOther`. */

import { t } from "../i18n.js";

// `view` is the page's selection (`selected` codes, `loaded` grids, `asOf`); returns the tools
// the panel's buttons run, by name.
export function plannerTools(map, view, ui, notice, setOther) {
  function startDraw(shape) {
    if (view.asOf) return notice(t("planner.history_read_only"));
    if (shape === "Line" && view.selected.length !== 1) return notice(t("planner.select_one_to_split"));
    map.pm.enableDraw(shape, { snappable: true, snapDistance: 15 });
  }
  map.on("pm:create", (e) => {
    const geometry = e.layer.toGeoJSON().geometry;
    map.removeLayer(e.layer);
    if (e.shape === "Line") {
      if (view.selected.length !== 1) return notice(t("planner.select_one_to_split"));
      setOther({ op: "split", grid: view.selected[0], line: geometry }, t("planner.edit.split", { grid: view.selected[0] }));
    } else if (e.shape === "Polygon" || e.shape === "Rectangle") {
      const centre = e.layer.getBounds().getCenter();
      const host = [...view.loaded.values()].find((g) => g.layer.getBounds().contains(centre)) || view.loaded.get(view.selected[0]);
      if (!host) return notice(t("planner.draw_inside"));
      setOther({ op: "create", community: host.feature.properties.community_code, geometry,
        name: ui.nameInput.value.trim() || t("planner.new_name_default"), take_from_neighbours: ui.take.checked }, t("planner.create"));
    }
  });
  function merge() {
    const selected = view.selected;
    if (selected.length < 2) return notice(t("planner.select_two"));
    setOther(Object.assign({ op: "merge", grids: selected.slice() }, ui.nameInput.value.trim() ? { name: ui.nameInput.value.trim() } : {}),
      t("planner.edit.merge", { grids: selected.join(" + ") }));
  }
  function retire() {
    const selected = view.selected;
    if (selected.length !== 2) return notice(t("planner.select_retire"));
    setOther({ op: "retire", grid: selected[0], into: selected[1] }, t("planner.edit.retire", { grid: selected[0], into: selected[1] }));
  }
  return { split: () => startDraw("Line"), merge, create: () => startDraw("Polygon"), retire };
}
