/* The command center (/map): every readable layer, live events, the counters strip, place
 * search (an exact grid, community or street code jumps to it; /map?focus=<code> too), the
 * incoming queue (queue.js), and the event colour and overdue filters. */

import { el, getJSON, notifier, propsTable, withQuery } from "./core.js";
import { legend, userBar } from "./controls.js";
import { eventLayers } from "./events.js";
import { label, layerTitle, t } from "./i18n.js";
import { basemapLayers, bboxLayer, identify, tileLayer } from "./layers.js";
import { liveStream } from "./live.js";
import { incomingQueue } from "./queue.js";
import { timeFilter } from "./timefilter.js";
import { gridgov } from "./state.js";

function countersPanel(map, config) {
  // A strip across the top centre, the first thing a command-center screen is read for; the
  // corners stay for the map's own controls (search, layers, legend).
  const ctl = L.control({ position: "topleft" });
  const cells = {};
  const items = [
    ["today_events", t("map.counter.today_events")],
    ["open_events", t("map.counter.open_events")],
    ["overdue_events", t("map.counter.overdue_events")],
    ["closure_rate", t("map.counter.closure_rate")],
    ["on_time_closure_rate", t("map.counter.on_time_closure_rate")],  // issue #8: last 30 days, as of the last tick
  ];
  ctl.onAdd = () => {
    const box = el("div", { class: "gg-panel gg-counters", id: "gg-counters" });
    items.forEach(([key, label]) => {
      cells[key] = el("strong", { "data-counter": key }, "—");
      box.append(el("div", { class: "gg-counter" }, cells[key], el("span", {}, label)));
    });
    box.append(el("div", { class: "gg-live", id: "gg-live" }, ""));
    return box;
  };
  ctl.addTo(map);
  const strip = ctl.getContainer();
  strip.classList.add("gg-strip");
  map.getContainer().append(strip);
  L.DomEvent.disableClickPropagation(strip);
  async function refresh() {
    const data = await getJSON(config.endpoints.counters);
    if (!data || data.problem) return;
    items.forEach(([key]) => {
      const v = data[key];
      cells[key].textContent = v === null || v === undefined ? "—" : key.endsWith("closure_rate") ? `${(v * 100).toFixed(1)}%` : String(v);
    });
  }
  const soon = { timer: null };  // one refresh half a second after a burst of live events
  refresh.soon = () => {
    clearTimeout(soon.timer);
    soon.timer = setTimeout(refresh, 500);
  };
  setInterval(refresh, 60000);
  return refresh;
}

// A grid (15 digits), community (12) or street (9) code: searching it exactly goes straight there.
const CODE = /^(\d{9}|\d{12}|\d{15})$/;

function searchControl(map, config, layers, notice) {
  const ctl = L.control({ position: "topleft" });
  const found = { highlight: null };  // the outline of the place last shown
  ctl.onAdd = () => {
    const input = el("input", { type: "search", placeholder: t("map.search.placeholder"), "aria-label": t("map.search.label"), id: "gg-search" });
    const list = el("ul", { class: "gg-results" });
    const form = el("form", { class: "gg-panel gg-search" }, input, list);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const q = input.value.trim();
      list.replaceChildren();
      if (q.length < 2) return notice(t("map.search.too_short"));
      const data = await getJSON(withQuery(config.endpoints.search, { q }));
      if (data.problem) return notice(data.problem.detail);
      if (!data.results.length) return notice(t("map.search.nothing", { q }));
      const exact = CODE.test(q) && data.results.find((r) => r.code === q);
      if (exact) return show(exact);
      data.results.forEach((r) => {
        const item = el("li", { tabindex: "0" }, `${r.name} `, el("small", {}, `${label("map.search.type", r.type)} ${r.code}`));
        const go = () => show(r);
        item.addEventListener("click", go);
        item.addEventListener("keydown", (ev) => ev.key === "Enter" && go());
        list.append(item);
      });
      if (data.results_omitted > 0) {
        list.append(el("li", { class: "gg-more" }, `… ${t("map.search.more", { n: data.results_omitted })}`));
      }
      if (data.results.length === 1) show(data.results[0]);
    });
    L.DomEvent.disableClickPropagation(form);
    L.DomEvent.disableScrollPropagation(form);
    const focus = new URLSearchParams(window.location.search).get("focus");
    if (focus && CODE.test(focus)) {  // the case page's links to its grid, community and street
      input.value = focus;
      setTimeout(() => form.requestSubmit(), 0);
    }
    return form;
  };
  async function show(r) {
    gridgov.state.found = { type: r.type, code: r.code };  // what the map last jumped to
    const [w, s, e, n] = r.bbox;
    map.fitBounds([[s, w], [n, e]], { maxZoom: 18, padding: [40, 40] });
    if (found.highlight) map.removeLayer(found.highlight);
    found.highlight = L.rectangle([[s, w], [n, e]], { color: "#e53935", weight: 3, fill: false, dashArray: "4 4" }).addTo(map);
    const grids = layers.find((l) => l.name === "grids");
    if (r.type === "grid" && grids) {
      const data = await getJSON(withQuery(grids.links.geojson, { code: r.code }));
      if (data.features && data.features.length) {
        map.removeLayer(found.highlight);
        found.highlight = L.geoJSON(data, { style: { color: "#e53935", weight: 4, fill: false } }).addTo(map);
        found.highlight.bindPopup(propsTable(data.features[0].properties, layerTitle(grids))).openPopup();
      }
    }
  }
  return ctl.addTo(map);
}

function eventOptions(map, ctx) {
  const ctl = L.control({ position: "topright" });
  ctl.onAdd = () => {
    const colour = el("select", { "aria-label": t("map.events.colour_by") },
      el("option", { value: "status" }, t("map.events.by_status")), el("option", { value: "category" }, t("map.events.by_category")));
    colour.addEventListener("change", () => {
      ctx.colorBy = colour.value;
      ctx.recolor();
    });
    const closed = el("input", { type: "checkbox" });
    closed.addEventListener("change", () => {
      ctx.includeClosed = closed.checked;
      ctx.reload();
    });
    const box = el("div", { class: "gg-panel gg-event-options" }, t("map.events.heading"), colour, el("label", {}, closed, ` ${t("map.events.closed_too")}`));
    L.DomEvent.disableClickPropagation(box);
    return box;
  };
  return ctl.addTo(map);
}

// Issue #8: show only the cases past their deadline (as of the last workflow tick).
function overdueFilter(map, ctx) {
  const ctl = L.control({ position: "topleft" });
  ctl.onAdd = () => {
    const box = el("input", { type: "checkbox", id: "gg-overdue-only" });
    box.addEventListener("change", () => {
      ctx.overdueOnly = box.checked;
      ctx.reload();
    });
    const panel = el("label", { class: "gg-panel gg-overdue-only" }, box, ` ${t("map.events.overdue_only")}`);
    L.DomEvent.disableClickPropagation(panel);
    return panel;
  };
  return ctl.addTo(map);
}

// Every layer as an overlay, events first: their one request should not queue behind dozens of
// tile requests. Returns the overlays by title (in the reader's language) and the events layer
// (null when not readable).
function drawLayers(map, layers, notice) {
  const drawn = { overlays: {}, events: null };
  const overlays = drawn.overlays;
  const drawOrder = [...layers].sort((a, b) => (b.render === "points") - (a.render === "points"));
  drawOrder.forEach((layer) => {
    if (layer.render === "tiles") {
      // Polygons counted per grid below their min zoom (buildings) would hide the grids'
      // choropleth under a second one: here they appear from their min zoom.
      const fromZoom = layer.aggregate && layer.aggregate.shape === "polygon" ? layer.min_zoom : 0;
      overlays[layerTitle(layer)] = tileLayer(map, layer, {}, { minZoom: fromZoom });
    } else if (layer.render === "points") {
      drawn.events = eventLayers(map, layer, notice);
      overlays[layerTitle(layer)] = drawn.events.cluster;
      overlays[t("layer.heat", { layer: layerTitle(layer) })] = drawn.events.heat;
    } else {
      overlays[layerTitle(layer)] = bboxLayer(map, layer, { notice, identified: true });
    }
    if (layer.shown && overlays[layerTitle(layer)]) overlays[layerTitle(layer)].addTo(map);
  });
  return drawn;
}

export function command(map, config) {
  const notice = notifier(map);
  const layers = config.layers;
  const { overlays, events } = drawLayers(map, layers, notice);
  const bases = basemapLayers(config);
  // The layer control lists layers in registry order, whatever order they were drawn in.
  const ordered = {};
  layers.forEach((layer) => Object.keys(overlays).filter((name) => name.startsWith(layerTitle(layer))).forEach((name) => (ordered[name] = overlays[name])));
  L.control.layers(bases, ordered, { collapsed: window.innerWidth < 900 }).addTo(map);
  legend(map, layers);
  searchControl(map, config, layers, notice);
  const refreshCounters = countersPanel(map, config);
  // Counters scan the events table: ask once the map's own events are on screen.
  if (events) {
    events.onFirstLoad = refreshCounters;
    setTimeout(() => events.onFirstLoad && (events.onFirstLoad = null, refreshCounters()), 3000);
  } else refreshCounters();
  if (events) eventOptions(map, events);
  if (events) overdueFilter(map, events);  // issue #8
  if (events) timeFilter(map, events);  // issue 19
  userBar(map, config);
  const queue = ["commander", "admin"].includes(config.user.role) ? incomingQueue(map, config) : null;
  map.on("click", (e) => identify(map, e.latlng, layers));
  if (events) {
    gridgov.stream = liveStream(config.endpoints.stream, {
      feature(feature, op) {
        events.upsert(feature);
        refreshCounters.soon();
        if (queue) queue.live(feature, op);
        const live = document.getElementById("gg-live");
        const values = { id: feature.id, title: feature.properties.title, grid: feature.properties.grid_code || "—" };
        if (live) live.textContent = op === "insert" ? t("map.live.new", values) : t("map.live.updated", values);
      },
      reload() {
        events.reload();
        refreshCounters.soon();
        if (queue) queue.soon();
      },
    }, config.stream_poll_s);
  }
  gridgov.map = map;
}
