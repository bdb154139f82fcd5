/* The grid worker's page (/map/worker): locate by tap or GPS, report an event there, and the
 * worker's grids and their open cases in a sheet below the map. */

import { bboxOf, el, escapeHtml, getJSON, groupBy, notifier, propsTable, withQuery } from "./core.js";
import { eventColor } from "./events.js";
import { pathStyle } from "./layers.js";
import { liveStream } from "./live.js";
import { gridgov, state } from "./state.js";

const idempotency = () => (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`);

function locateView(d) {
  const name = (x) => (x ? `${x.name} (${x.code})` : "—");
  const rows = [
    ["状态 status", `${d.status}${d.distance_m ? ` · ${Number(d.distance_m).toFixed(1)} m` : ""}`],
    ["网格 grid", name(d.grid)], ["楼栋 building", name(d.building)], ["社区 community", name(d.community)],
    ["街道 street", name(d.street)], ["区 district", name(d.district)],
    ["责任人 cadres", (d.cadres || []).map((c) => `${c.name} (${c.type})`).join("、") || "—"],
  ];
  return el("table", { class: "gg-props" }, ...rows.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v))));
}

// Fills the sheet below the map: GPS, links, the locate answer, the report form, the lists.
function fillSheet(panel, config) {
  const ui = {};
  ui.result = el("div", { class: "gg-locate", id: "gg-locate" }, "点击地图或使用定位 — tap the map or use GPS");
  ui.gps = el("button", { type: "button", id: "gg-gps" }, "📍 定位 GPS");
  ui.crs = el("select", { name: "crs", "aria-label": "coordinate system" },
    el("option", { value: "wgs84" }, "WGS84 (浏览器 browser)"), el("option", { value: "gcj02" }, "GCJ-02 (高德/腾讯)"));
  ui.category = el("select", { name: "category", required: "required", "aria-label": "category" },
    el("option", { value: "" }, "— 类别 category —"),
    ...groupBy(config.categories || [], (c) => c.major_name).map(([major, cats]) =>
      el("optgroup", { label: major }, ...cats.map((c) => el("option", { value: c.code }, `${c.name} (${c.code})`)))));
  ui.title = el("input", { name: "title", required: "required", maxlength: "200", placeholder: "标题 title" });
  ui.description = el("textarea", { name: "description", rows: "3", placeholder: "描述 description" });
  ui.submit = el("button", { type: "submit" }, "上报 report");
  ui.form = el("form", { class: "gg-report", id: "gg-report" }, el("h2", {}, "事件上报 report"), ui.category, ui.title, ui.description, ui.crs, ui.submit);
  ui.list = el("div", { class: "gg-mine", id: "gg-mine" });
  const signOut = el("form", { method: "post", action: config.endpoints.logout, class: "gg-user" },
    el("input", { type: "hidden", name: "csrf_token", value: config.csrf }),
    el("button", { type: "submit", class: "gg-link" }, `${config.user.name} 退出 sign out`));
  const toCommand = config.user.role === "worker" ? "" : el("a", { href: config.endpoints.command }, "指挥中心 command");
  const toCases = el("a", { href: "/cases", id: "gg-my-cases" }, "待办 my cases");  // issue #8
  panel.append(el("div", { class: "gg-row" }, ui.gps, toCases, toCommand, signOut), ui.result, ui.form, ui.list);
  if (!config.endpoints.report) {
    ui.submit.disabled = true;
    ui.form.append(el("p", { class: "gg-note" }, "上报接口尚未启用 — reporting is not available on this server yet."));
  }
  return ui;
}

function renderList(ui, lists, mine) {
  ui.list.replaceChildren(
    el("h2", {}, mine ? "我的网格 my grids" : "视图内网格 grids in view"),
    el("ul", {}, ...lists.grids.slice(0, 50).map((f) =>
      el("li", {}, `${f.properties.name} ${f.properties.code} · ${Math.round(f.properties.area_m2 || 0)} m² · ${f.properties.households ?? "—"} 户 · `,
        el("b", {}, `${f.properties.open_events ?? 0}`), " 在办"))),
    el("h2", {}, "在办事件 open events"),
    el("ul", {}, ...lists.events.slice(0, 100).map((f) =>
      // issue #8: each case opens its page (timeline and moves); overdue ones say so
      el("li", {}, el("a", { href: `/cases/${encodeURIComponent(f.id)}`, class: "gg-case-link" }, `#${f.id} ${f.properties.title}`),
        ` · ${f.properties.category_name || f.properties.category} · ${f.properties.status}`,
        f.properties.overdue ? el("b", { class: "gg-overdue" }, " 超期 overdue") : "")))
  );
}

export function worker(map, config) {
  const notice = notifier(map);
  const layers = config.layers;
  const grids = layers.find((l) => l.name === "grids");
  const eventsLayer = layers.find((l) => l.name === "events");
  const mine = config.user.grids.length > 0;
  const spot = { here: null, marker: null };  // the point last tapped or located, and its marker
  const report = { key: idempotency() };  // one Idempotency-Key per report, kept across retries
  const view = { framed: false, lists: { grids: [], events: [] } };  // what the sheet lists

  const panel = el("section", { class: "gg-sheet", id: "gg-sheet" });
  document.body.append(panel);
  document.body.classList.add("gg-worker");
  map.invalidateSize();
  window.addEventListener("resize", () => map.invalidateSize());
  const ui = fillSheet(panel, config);

  async function locate(latlng, accuracy) {
    spot.here = { lat: latlng.lat, lon: latlng.lng, accuracy };
    if (spot.marker) map.removeLayer(spot.marker);
    spot.marker = L.layerGroup([L.circleMarker(latlng, { radius: 8, color: "#d32f2f", fillOpacity: 0.8 })]).addTo(map);
    if (accuracy) spot.marker.addLayer(L.circle(latlng, { radius: accuracy, color: "#d32f2f", weight: 1, fillOpacity: 0.1 }));
    if (!config.endpoints.locate) {
      ui.result.textContent = `${latlng.lat.toFixed(6)}, ${latlng.lng.toFixed(6)} — 定位接口尚未启用 (locate is not available yet)`;
      return;
    }
    const params = { lon: latlng.lng.toFixed(7), lat: latlng.lat.toFixed(7), crs: ui.crs.value };
    if (accuracy) params.accuracy_m = Math.round(accuracy);
    const data = await getJSON(withQuery(config.endpoints.locate, params));
    if (data.problem) {
      ui.result.textContent = `${data.problem.title}: ${data.problem.detail || ""}`;
      return;
    }
    ui.result.replaceChildren(locateView(data));
  }

  map.on("click", (e) => locate(e.latlng, null));
  ui.gps.addEventListener("click", () => {
    if (!navigator.geolocation) return notice("此浏览器不支持定位 — no geolocation in this browser");
    navigator.geolocation.getCurrentPosition(
      (pos) => {
        const latlng = L.latLng(pos.coords.latitude, pos.coords.longitude);
        map.setView(latlng, Math.max(map.getZoom(), 17));
        locate(latlng, pos.coords.accuracy);
      },
      (err) => notice(`定位失败 — ${err.message}`),
      { enableHighAccuracy: true, timeout: 15000 }
    );
  });

  ui.form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const here = spot.here;
    if (!here) return notice("先点击地图或定位 — tap the map or use GPS first");
    ui.submit.disabled = true;
    const body = { lon: here.lon, lat: here.lat, crs: ui.crs.value, category: ui.category.value, title: ui.title.value, description: ui.description.value };
    if (here.accuracy) body.accuracy_m = here.accuracy;
    const data = await getJSON(config.endpoints.report, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": config.csrf, "Idempotency-Key": report.key },
      body: JSON.stringify(body),
    });
    ui.submit.disabled = false;
    if (data.problem) return notice(`${data.problem.title}: ${data.problem.detail || ""}`, 10000);
    const dupes = (data.duplicates || []).map((d) => `#${d.id}`).join(", ");  // issue #8: offered on report
    notice(`已上报 reported #${data.id}${data.assignment && data.assignment.grid ? ` → ${data.assignment.grid.code}` : ""}` +
      (dupes ? ` · 可能与 ${dupes} 重复，可在案件页合并 — possibly a duplicate of ${dupes}` : ""), dupes ? 12000 : 5000);
    report.key = idempotency();
    ui.form.reset();
    loadMine();
  });

  const gridGroup = L.geoJSON(null, {
    style: (f) => Object.assign(pathStyle(grids, f.properties), { fillOpacity: 0.25 }),
    onEachFeature: (f, lyr) => lyr.bindTooltip(`${escapeHtml(f.properties.name)} ${escapeHtml(f.properties.code)}`),
  }).addTo(map);
  const eventGroup = L.layerGroup().addTo(map);

  async function loadMine() {
    const params = mine ? { mine: "true" } : { bbox: bboxOf(map), zoom: Math.round(map.getZoom()), overflow: "aggregate" };
    if (grids) {
      const data = await getJSON(withQuery(grids.links.geojson, params));
      if (!data.problem) {
        gridGroup.clearLayers().addData(data);
        state.drawn.grids = data.features.length;
        if (mine && data.features.length && !view.framed) {
          map.fitBounds(gridGroup.getBounds(), { padding: [20, 20] });
          view.framed = true;
        }
        view.lists.grids = data.features;
        renderList(ui, view.lists, mine);
      }
    }
    if (eventsLayer) {
      const eparams = { open: "true" };
      if (!mine) Object.assign(eparams, { bbox: bboxOf(map), zoom: Math.max(eventsLayer.min_zoom, Math.round(map.getZoom())) });
      const data = await getJSON(withQuery(eventsLayer.links.geojson, eparams));
      if (!data.problem) {
        eventGroup.clearLayers();
        data.features.forEach((f) => {
          const [lng, lat] = f.geometry.coordinates;
          L.circleMarker([lat, lng], { radius: 7, color: "#fff", weight: 1, fillOpacity: 0.9, fillColor: eventColor(eventsLayer, f.properties, "status") })
            .bindPopup(propsTable(f.properties, `#${f.id}`))
            .addTo(eventGroup);
        });
        state.drawn.events = data.features.length;
        view.lists.events = data.features;
        renderList(ui, view.lists, mine);
      }
    }
  }
  if (!mine) map.on("moveend", loadMine);
  loadMine();
  if (eventsLayer && mine) liveStream(config.endpoints.stream, { feature: () => loadMine(), reload: () => loadMine() }, config.stream_poll_s);
  gridgov.map = map;
}
