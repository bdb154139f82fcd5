/* The planner's page (/map/planner): boundary edits (issue #7) through the grid editing API.
 * Every change is previewed by the server (the grids it closes and opens, the buildings,
 * households, open events and contracts that move, and every problem: gaps, overlaps, slivers,
 * parts outside the community) and saved with the ETags of the grids as this page loaded them
 * (If-Match), so nobody's edit is lost. Vertices neighbours share are one handle. */

import { userBar } from "../controls.js";
import { bboxOf, el, escapeHtml, latestJSON, notifier, postJSON, withQuery } from "../core.js";
import { layerTitle, number, t } from "../i18n.js";
import { basemapLayers, bboxLayer, pathStyle, tileLayer } from "../layers.js";
import { gridgov, mark, state } from "../state.js";
import { PendingEdit } from "./edit.js";
import { plannerPanel } from "./panel.js";
import { plannerTools } from "./tools.js";
import { buildHandles } from "./vertices.js";
import { impactView, problemView, showHistory } from "./views.js";

const EDIT_ZOOM = 15;
const MAX_HANDLES = 3000;

export function planner(map, config) {
  const notice = notifier(map);
  const grids = config.layers.find((l) => l.name === "grids");
  const api = config.endpoints;
  const overview = tileLayer(map, grids);
  const edit = new PendingEdit();
  // The grids as loaded (code -> { feature, layer }; their versions make the If-Match), the
  // grids the planner selected, and the date the map shows ("" for now).
  const view = { loaded: new Map(), selected: [], asOf: "" };
  const fetchLatest = latestJSON();
  // What the browser tests read: the last valid preview, the last save, the handles drawn.
  const planner = (state.planner = { preview: null, saved: null, handles: 0 });
  // The tools are made below, once the grids they act on exist; a button runs one by name.
  const ui = plannerPanel(map, EDIT_ZOOM, (name) => tools[name]());

  // -- the grids, loaded with their full boundaries (editing needs them, never simplified) --
  const problems = L.geoJSON(null, { pmIgnore: true, interactive: false, style: { color: "#d50000", weight: 3, fillColor: "#ff1744", fillOpacity: 0.45 } }).addTo(map);
  const handles = L.layerGroup([], { pmIgnore: true }).addTo(map);
  const gridStyle = (f) => Object.assign(pathStyle(grids, f.properties), {
    color: view.selected.includes(f.properties.code) ? "#ff6f00" : "#1565c0", weight: view.selected.includes(f.properties.code) ? 3 : 1.5, fillOpacity: 0.25,
  });
  const group = L.geoJSON(null, {
    style: gridStyle,
    onEachFeature: (f, lyr) => {
      view.loaded.set(f.properties.code, { feature: f, layer: lyr });
      lyr.bindTooltip(`${escapeHtml(f.properties.code)} ${escapeHtml(f.properties.name)}`, { permanent: map.getZoom() >= 17, direction: "center", className: "gg-code" });
      lyr.on("click", () => {
        if (map.pm.globalDrawModeEnabled()) return; // a click of the line or polygon being drawn
        if (view.asOf) showHistory(f.properties.code, lyr, notice);
        else toggle(f.properties.code);
      });
      lyr.on("pm:edit", () => {
        edit.changed.set(f.properties.code, lyr.toGeoJSON().geometry);
        pendingChanged();
      });
    },
  });

  function etagOf(code) {
    const got = view.loaded.get(code);
    return got ? `"${code}.v${got.feature.properties.version}"` : null;
  }

  async function load() {
    if (map.getZoom() < EDIT_ZOOM) {
      group.clearLayers();
      handles.clearLayers();
      view.loaded.clear();
      ui.table.replaceChildren();
      state.drawn.grids = 0;
      return;
    }
    if (edit.any()) return; // never throw away what the planner is editing
    const params = { bbox: bboxOf(map), overflow: "aggregate" };
    if (view.asOf) params.at = view.asOf;
    const data = await fetchLatest(withQuery(grids.links.geojson, params));
    if (!data) return;
    if (data.problem) return notice(t("map.problem", { layer: layerTitle(grids), title: data.problem.title, detail: data.problem.detail || "" }));
    if (data.aggregated) return notice(t("planner.too_many"));
    group.clearLayers();
    view.loaded.clear();
    group.addData(data);
    view.selected = view.selected.filter((c) => view.loaded.has(c));
    showSelected();
    state.drawn.grids = data.features.length;
    mark("grids");
    ui.table.replaceChildren(...data.features.map((f) =>
      el("tr", {}, el("td", {}, f.properties.code), el("td", {}, f.properties.name),
        el("td", {}, number(Math.round(f.properties.area_m2))), el("td", {}, number(f.properties.households ?? 0)),
        el("td", {}, String(f.properties.version)))));
    rebuildHandles();
  }

  // -- shared vertices: one draggable handle per distinct vertex --
  function rebuildHandles() {
    planner.handles = 0;
    planner.handles = buildHandles(map, group, handles, {
      canEdit: () => !(view.asOf || map.getZoom() < EDIT_ZOOM || map.pm.globalEditModeEnabled()),
      maxHandles: MAX_HANDLES,
      notice,
      onMoved(key, move) {
        if (edit.other || edit.changed.size) discard(false);
        edit.moves.set(key, move);
        pendingChanged();
        runPreview();
      },
    });
  }

  // -- selection and the other edits --
  function showSelected() {
    ui.chosen.textContent = view.selected.length ? view.selected.join(", ") : "—";
    group.setStyle(gridStyle);
  }
  function toggle(code) {
    view.selected = view.selected.includes(code) ? view.selected.filter((c) => c !== code) : view.selected.concat(code);
    showSelected();
  }
  function setOther(body, label) {
    if (edit.moves.size || edit.changed.size) discard(false);
    edit.other = { body, label };
    pendingChanged();
    runPreview();
  }
  const tools = plannerTools(map, view, ui, notice, setOther);

  // -- the pending edit, its preview and its save --
  function pendingChanged() {
    const n = edit.count();
    ui.pending.textContent = String(n);
    ui.what.textContent = edit.label();
    ui.previewBtn.disabled = ui.discardBtn.disabled = !n;
    planner.preview = null;
    canSave();
  }
  // Saving needs a valid preview and a note saying why the edit is made.
  function canSave() {
    ui.save.disabled = !(planner.preview && ui.note.value.trim());
    ui.save.title = planner.preview && !ui.note.value.trim() ? t("planner.note_needed") : "";
  }
  ui.note.addEventListener("input", canSave);
  function discard(reload = true) {
    edit.clear();
    problems.clearLayers();
    ui.result.replaceChildren();
    pendingChanged();
    if (reload) load();
  }
  const reloadView = () => discard(true);

  async function runPreview() {
    const body = edit.body(ui.take.checked);
    if (!body) return;
    ui.result.replaceChildren(el("p", { class: "gg-note" }, t("planner.previewing")));
    const answer = await postJSON(api.preview, body, config.csrf);
    if (JSON.stringify(edit.body(ui.take.checked)) !== JSON.stringify(body)) return; // edited meanwhile: a newer preview follows
    problems.clearLayers();
    if (answer.status === 200 && answer.body.valid) {
      planner.preview = answer.body;
      canSave();
      ui.result.replaceChildren(impactView(answer.body));
    } else if (answer.status === 200) {
      planner.preview = null;
      ui.save.disabled = true;
      ui.result.replaceChildren(problemView(Object.assign({ problems: answer.body.errors }, answer.body), problems, reloadView));
    } else {
      planner.preview = null;
      ui.save.disabled = true;
      ui.result.replaceChildren(problemView(answer.body || { title: t("map.http_status", { status: answer.status }) }, problems, reloadView));
    }
  }

  ui.previewBtn.addEventListener("click", runPreview);
  ui.discardBtn.addEventListener("click", reloadView);
  ui.save.addEventListener("click", async () => {
    const body = edit.body(ui.take.checked);
    const preview = planner.preview;
    const note = ui.note.value.trim();
    if (!body || !preview) return;
    if (!note) return notice(t("planner.note_needed"));
    ui.save.disabled = true;
    // The versions this page loaded: if someone changed one since, the server answers 412.
    const tags = preview.closed.map((g) => etagOf(g.code) || `"${g.code}.v${g.version}"`);
    const answer = await postJSON(api.save, Object.assign({}, body, { note }), config.csrf, tags.join(", "));
    if (answer.status === 201) {
      planner.saved = answer.body;
      ui.note.value = "";
      notice(t("planner.saved", { id: answer.body.edit.id, grids: answer.body.opened.map((g) => `${g.code} v${g.version}`).join(", ") }), 8000);
      discard(true);
      overview.redraw(); // the server's tile cache forgot these grids when they changed
    } else {
      ui.result.replaceChildren(problemView(answer.body || { title: t("map.http_status", { status: answer.status }) }, problems, reloadView));
      if (answer.status === 412) notice(t("planner.changed_meanwhile"), 10000);
    }
  });

  // -- history: the grids as they were on a date (a click shows a grid's versions) --
  ui.asOfInput.addEventListener("change", () => {
    if (edit.any()) discard(false);
    view.asOf = ui.asOfInput.value;
    if (view.asOf) map.pm.disableGlobalEditMode();
    load();
  });

  // -- near: the editable grids; far: the overview tiles --
  function mode() {
    const near = map.getZoom() >= EDIT_ZOOM;
    if (near && !map.hasLayer(group)) {
      group.addTo(map);
      map.removeLayer(overview);
    } else if (!near && map.hasLayer(group)) {
      map.removeLayer(group);
      overview.addTo(map);
    }
    load();
  }
  map.on("zoomend", mode);
  map.on("moveend", load);
  map.on("pm:globaleditmodetoggled", rebuildHandles);
  overview.addTo(map);
  mode();
  map.pm.addControls({ position: "topleft", drawMarker: false, drawCircleMarker: false, drawPolyline: false, drawCircle: false,
    drawText: false, cutPolygon: false, rotateMode: false, dragMode: false, removalMode: false });
  map.pm.setGlobalOptions({ snappable: true, snapDistance: 10, allowSelfIntersection: false });
  const bases = basemapLayers(config);
  const overlays = {};
  config.layers.filter((l) => ["districts", "streets", "communities"].includes(l.name)).forEach((l) => {
    overlays[layerTitle(l)] = bboxLayer(map, l, { notice, readOnly: true });
  });
  L.control.layers(bases, overlays, { collapsed: true }).addTo(map);
  userBar(map, config);
  gridgov.edits = edit.changed;
  gridgov.moves = edit.moves;
  gridgov.map = map;
}
