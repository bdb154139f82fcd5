/* The planner's edit tools: split (draw a line across the one selected grid), merge, create
 * (draw a polygon in a community) and retire; each becomes one edit for `setOther`. */

// `view` is the page's selection (`selected` codes, `loaded` grids, `asOf`); returns the tools
// the panel's buttons run, by name.
export function plannerTools(map, view, ui, notice, setOther) {
  function startDraw(shape) {
    if (view.asOf) return notice("历史视图不能编辑 — clear the date to edit");
    if (shape === "Line" && view.selected.length !== 1) return notice("先点选一个要切分的网格 — select the one grid to split first");
    map.pm.enableDraw(shape, { snappable: true, snapDistance: 15 });
  }
  map.on("pm:create", (e) => {
    const geometry = e.layer.toGeoJSON().geometry;
    map.removeLayer(e.layer);
    if (e.shape === "Line") {
      if (view.selected.length !== 1) return notice("先点选一个要切分的网格 — select the one grid to split first");
      setOther({ op: "split", grid: view.selected[0], line: geometry }, `切分 split ${view.selected[0]}`);
    } else if (e.shape === "Polygon" || e.shape === "Rectangle") {
      const centre = e.layer.getBounds().getCenter();
      const host = [...view.loaded.values()].find((g) => g.layer.getBounds().contains(centre)) || view.loaded.get(view.selected[0]);
      if (!host) return notice("新网格须画在已加载的社区内 — draw the new grid inside a community in view");
      setOther({ op: "create", community: host.feature.properties.community_code, geometry,
        name: ui.nameInput.value.trim() || "新网格", take_from_neighbours: ui.take.checked }, "新建 create");
    }
  });
  function merge() {
    const selected = view.selected;
    if (selected.length < 2) return notice("点选两个以上相邻网格 — select two or more adjacent grids");
    setOther(Object.assign({ op: "merge", grids: selected.slice() }, ui.nameInput.value.trim() ? { name: ui.nameInput.value.trim() } : {}),
      `合并 merge ${selected.join(" + ")}`);
  }
  function retire() {
    const selected = view.selected;
    if (selected.length !== 2) return notice("先点选要撤销的网格，再点选并入的相邻网格 — select the grid to retire, then the neighbour taking its area");
    setOther({ op: "retire", grid: selected[0], into: selected[1] }, `撤销 retire ${selected[0]} → ${selected[1]}`);
  }
  return { split: () => startDraw("Line"), merge, create: () => startDraw("Polygon"), retire };
}
