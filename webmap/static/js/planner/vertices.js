/* Shared vertices on the planner's map: one draggable handle per distinct vertex of the grids
 * loaded, so dragging a vertex neighbours share moves every grid that has it. */

import { t } from "../i18n.js";

const key = (ll) => `${ll.lng.toFixed(10)},${ll.lat.toFixed(10)}`;

function walk(latlngs, path, visit) {
  latlngs.forEach((item, i) => (Array.isArray(item) ? walk(item, path.concat(i), visit) : visit(item, path.concat(i))));
}

function setAt(latlngs, path, value) {
  let node = latlngs;
  path.slice(0, -1).forEach((i) => (node = node[i]));
  node[path[path.length - 1]] = value;
}

// Rebuilds the handles of `group`'s grids in `handles`; returns how many it drew (0 when
// `canEdit()` says no or there would be more than `maxHandles`). `onMoved(key, {from, to})`
// follows each drag.
export function buildHandles(map, group, handles, { canEdit, maxHandles, notice, onMoved }) {
  handles.clearLayers();
  if (!canEdit()) return 0;
  const vertices = new Map();
  group.eachLayer((lyr) => walk(lyr.getLatLngs(), [], (ll, path) => {
    const k = key(ll);
    if (!vertices.has(k)) vertices.set(k, { latlng: ll, refs: [] });
    vertices.get(k).refs.push({ lyr, path });
  }));
  if (vertices.size > maxHandles) {
    notice(t("planner.zoom_for_vertices"));
    return 0;
  }
  vertices.forEach((v, k) => {
    const shared = new Set(v.refs.map((r) => r.lyr)).size > 1;
    const handle = L.marker(v.latlng, {
      draggable: true, pmIgnore: true, keyboard: false, zIndexOffset: shared ? 1000 : 500,
      icon: L.divIcon({ className: shared ? "gg-vertex gg-shared" : "gg-vertex", iconSize: shared ? [14, 14] : [10, 10] }),
      title: shared ? t("planner.shared_vertex") : t("planner.vertex"),
    });
    handle.vertexKey = k;
    handle.grids = [...new Set(v.refs.map((r) => r.lyr.feature.properties.code))];
    const from = [v.latlng.lng, v.latlng.lat];
    handle.on("drag", (e) => v.refs.forEach((r) => {
      const latlngs = r.lyr.getLatLngs();
      setAt(latlngs, r.path, e.latlng);
      r.lyr.setLatLngs(latlngs);
    }));
    handle.on("dragend", () => {
      const to = handle.getLatLng();
      onMoved(k, { from, to: [to.lng, to.lat] });
      v.refs.forEach((r) => r.lyr.setStyle({ color: "#e53935", weight: 2 }));
    });
    handles.addLayer(handle);
  });
  return vertices.size;
}
