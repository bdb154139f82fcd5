/* The grid worker's page (/map/worker), made for one thumb and no signal: locate by GPS or tap
 * (offline from the cached grids), report with photos into the outbox (worker/outbox.js), which
 * sends when there is a network; the worker's grids and open cases in a sheet below the map. */

import { bboxOf, el, getJSON, notifier, withQuery } from "./core.js";
import { eventColor } from "./events.js";
import { label, t } from "./i18n.js";
import { pathStyle } from "./layers.js";
import { liveStream } from "./live.js";
import { gridgov, state } from "./state.js";
import { icon } from "./worker/icons.js";
import { outbox as makeOutbox } from "./worker/outbox.js";
import { placeOffline } from "./worker/place.js";
import { forgetKept, installOffline, keep } from "./worker/pwa.js";
import { reportForm } from "./worker/report.js";
import { renderLists, renderOutbox } from "./worker/sheet.js";

function locateView(d) {
  const name = (x) => (!x ? "—" : x.name ? `${x.name} (${x.code})` : x.code);
  const status = `${label("assign", d.status)}${d.distance_m ? ` · ${t("worker.distance", { n: Math.round(d.distance_m) })}` : ""}`;
  const rows = [
    [t("worker.field.status"), status], [t("worker.field.grid"), name(d.grid)], [t("worker.field.building"), name(d.building)],
    [t("worker.field.community"), name(d.community)], [t("worker.field.street"), name(d.street)],
    [t("worker.field.district"), name(d.district)],
    [t("worker.field.cadres"), (d.cadres || []).map((c) => `${c.name}（${c.type}）`).join("、") || "—"],
  ];
  return el("div", {},
    el("table", { class: "gg-props" }, ...rows.filter(([, v]) => v !== "—" || !d.offline).map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v)))),
    d.offline ? el("p", { class: "gg-note" }, t("worker.offline_locate")) : "");
}

export function worker(map, config) {
  const notice = notifier(map);
  const grids = config.layers.find((l) => l.name === "grids");
  const buildings = config.layers.find((l) => l.name === "buildings");
  const eventsLayer = config.layers.find((l) => l.name === "events");
  const rules = config.rules || {};
  const mine = config.user.grids.length > 0;
  const spot = { here: null, marker: null };  // the point last tapped, located or typed, and its marker
  const view = { framed: false, grids: [], buildings: [], events: [] };

  const panel = el("section", { class: "gg-sheet", id: "gg-sheet" });
  document.body.append(panel);
  document.body.classList.add("gg-worker");
  // The sheet grows as its lists fill and the map shares the screen with it: follow the map's real size.
  new ResizeObserver(() => map.invalidateSize()).observe(map.getContainer());

  const network = el("span", { class: "gg-network", id: "gg-network", role: "status" });
  const showNetwork = () => {
    const ready = navigator.onLine && state.offline && state.offline.kept > 0 ? ` · ${t("worker.install")}` : "";
    network.replaceChildren(icon(navigator.onLine ? "online" : "offline"), navigator.onLine ? t("worker.online") + ready : t("worker.offline"));
    network.classList.toggle("gg-offline", !navigator.onLine);
  };
  const gps = el("button", { type: "button", id: "gg-gps", class: "gg-primary" }, icon("gps"), t("worker.gps"));
  const result = el("div", { class: "gg-locate", id: "gg-locate" }, t("worker.tap_or_gps"));
  const accuracyLine = el("p", { class: "gg-accuracy", id: "gg-accuracy", hidden: "hidden" });
  const form = reportForm(config, { onTyped: (lon, lat, crs) => locate({ lat, lng: lon }, null, crs) });
  const outboxBox = el("div", { class: "gg-outbox", id: "gg-outbox" });
  const lists = el("div", { class: "gg-mine", id: "gg-mine" });
  const signOut = el("form", { method: "post", action: config.endpoints.logout, class: "gg-user", onsubmit: () => forgetKept() },
    el("input", { type: "hidden", name: "csrf_token", value: config.csrf }),
    el("button", { type: "submit", class: "gg-link" }, `${config.user.display_name || config.user.name} · ${t("action.sign_out")}`));
  const links = [el("a", { href: "/cases", id: "gg-my-cases", class: "gg-tap" }, icon("list"), t("worker.my_cases"))];
  if (config.user.role !== "worker") links.push(el("a", { href: config.endpoints.command, class: "gg-tap" }, t("worker.command")));
  panel.append(el("div", { class: "gg-row" }, gps, network), result, accuracyLine, form.node, outboxBox,
    el("div", { class: "gg-row" }, ...links, signOut), lists);
  showNetwork();
  window.addEventListener("online", () => { showNetwork(); box.flush(); loadMine(); });
  window.addEventListener("offline", showNetwork);

  function showAccuracy(accuracy) {
    accuracyLine.hidden = !accuracy;
    if (!accuracy) return;
    const n = Math.round(accuracy);
    const poor = n > (rules.accuracy_warn_m || 50);
    accuracyLine.textContent = poor ? t("worker.accuracy_poor", { n }) : t("worker.accuracy", { n });
    accuracyLine.classList.toggle("gg-warning", poor);
  }

  async function locate(latlng, accuracy, crs) {
    // Taps and GPS are WGS84 (the map's own data and the browser's GPS); typed points say their CRS.
    spot.here = { lat: latlng.lat, lon: latlng.lng, accuracy, crs: crs || "wgs84" };
    if (spot.here.crs === "wgs84") mark(latlng.lat, latlng.lng, accuracy);
    else if (spot.marker) map.removeLayer(spot.marker);
    showAccuracy(accuracy);
    if (!config.endpoints.locate) return result.replaceChildren(t("worker.no_locate"));
    const params = { lon: latlng.lng.toFixed(7), lat: latlng.lat.toFixed(7), crs: spot.here.crs };
    if (accuracy) params.accuracy_m = Math.round(accuracy);
    let data;
    try {
      data = navigator.onLine ? await getJSON(withQuery(config.endpoints.locate, params)) : null;
    } catch {
      data = null;  // no network: place it from the cached grids below
    }
    if (data && data.problem) return result.replaceChildren(t("worker.failed", { title: data.problem.title, detail: data.problem.detail || "" }));
    if (!data) {
      if (spot.here.crs !== "wgs84") return result.replaceChildren(t("worker.offline_locate"));
      data = placeOffline(view.grids, view.buildings, latlng.lng, latlng.lat, accuracy || 0,
        { snapM: rules.snap_m, buildingNearM: rules.building_near_m });
    }
    if (spot.here.crs !== "wgs84" && data.lat !== undefined) {
      // Typed in another CRS: the server's answer says where that is on our (WGS84) map.
      mark(data.lat, data.lon, accuracy);
      map.setView([data.lat, data.lon], Math.max(map.getZoom(), 17));
    }
    state.located = data;
    result.replaceChildren(locateView(data));
  }

  function mark(lat, lon, accuracy) {
    if (spot.marker) map.removeLayer(spot.marker);
    const at = L.latLng(lat, lon);
    spot.marker = L.layerGroup([L.circleMarker(at, { radius: 9, color: "#d32f2f", fillOpacity: 0.8 })]).addTo(map);
    if (accuracy) spot.marker.addLayer(L.circle(at, { radius: accuracy, color: "#d32f2f", weight: 1, fillOpacity: 0.1 }));
  }

  map.on("click", (e) => locate(e.latlng, null));
  gps.addEventListener("click", () => {
    if (!navigator.geolocation) return notice(t("worker.gps_none"));
    result.replaceChildren(t("worker.locating"));
    navigator.geolocation.getCurrentPosition(
      (pos) => {
        const latlng = L.latLng(pos.coords.latitude, pos.coords.longitude);
        map.setView(latlng, Math.max(map.getZoom(), 17));
        locate(latlng, pos.coords.accuracy);
      },
      (err) => notice(t("worker.gps_failed", { reason: err.message })),
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 0 }
    );
  });

  const box = makeOutbox({
    reportUrl: config.endpoints.report,
    attachmentsUrl: (id) => `${config.endpoints.report}/${encodeURIComponent(id)}/attachments`,
    csrf: config.csrf, user: config.user.name,
    onChange: (items) => renderOutbox(outboxBox, items, config.user.name, { resend: (k) => box.resend(k), edit, discard: (k) => box.discard(k) }),
    onDelivered: (item) => {
      const a = item.answer || { id: item.eventId };
      const dupes = (a.duplicates || []).map((id) => `#${id}`).join("、");
      notice((a.grid ? t("worker.sent_grid", { id: a.id, grid: a.grid }) : t("worker.sent", { id: a.id }))
        + (dupes ? ` · ${t("worker.duplicates", { ids: dupes })}` : ""), dupes ? 12000 : 5000);
      loadMine();
    },
  });
  gridgov.outbox = box;

  async function edit(key) {
    const item = await box.take(key);
    if (!item) return;
    form.fill(item);
    locate({ lat: item.body.lat, lng: item.body.lon }, item.body.accuracy_m || null, item.body.crs);
  }

  form.onSubmit(async (values, photos) => {
    if (!config.endpoints.report) return notice(t("worker.not_available"));
    const here = spot.here;
    if (!here) return notice(t("worker.place_first"));
    const body = Object.assign({ lon: here.lon, lat: here.lat, crs: here.crs }, values);
    if (here.accuracy) body.accuracy_m = Math.round(here.accuracy * 10) / 10;
    await box.add(body, photos);
    form.reset();
    const outcome = await box.flush();
    if (outcome !== "done") notice(t("worker.queued"), 8000);
  });

  const gridGroup = L.geoJSON(null, {
    style: (f) => Object.assign(pathStyle(grids, f.properties), { fillOpacity: 0.25 }),
    onEachFeature: (f, lyr) => lyr.bindTooltip(`${f.properties.name} ${f.properties.code}`.replace(/[<>&]/g, "")),
  }).addTo(map);
  const eventGroup = L.layerGroup().addTo(map);

  async function fetchLayer(layer, params) {
    const url = withQuery(layer.links.geojson, params);
    const data = await getJSON(url).catch(() => ({ problem: { title: "offline" } }));
    if (!data.problem && mine) keep([url]);
    return data;
  }

  async function loadMine() {
    const params = mine ? { mine: "true" } : { bbox: bboxOf(map), zoom: Math.round(map.getZoom()), overflow: "aggregate" };
    if (grids) {
      const data = await fetchLayer(grids, params);
      if (!data.problem) {
        gridGroup.clearLayers().addData(data);
        state.drawn.grids = data.features.length;
        view.grids = data.features;
        if (mine && data.features.length && !view.framed) {
          map.fitBounds(gridGroup.getBounds(), { padding: [20, 20] });
          view.framed = true;
        }
      }
    }
    if (buildings && mine) {
      const data = await fetchLayer(buildings, { mine: "true" });
      if (!data.problem) view.buildings = data.features.filter((f) => f.geometry);
    }
    if (eventsLayer) {
      const eparams = { open: "true" };
      if (!mine) Object.assign(eparams, { bbox: bboxOf(map), zoom: Math.max(eventsLayer.min_zoom, Math.round(map.getZoom())) });
      const data = await fetchLayer(eventsLayer, eparams);
      if (!data.problem) {
        eventGroup.clearLayers();
        data.features.forEach((f) => {
          const [lng, lat] = f.geometry.coordinates;
          L.circleMarker([lat, lng], { radius: 9, color: "#fff", weight: 1, fillOpacity: 0.9, fillColor: eventColor(eventsLayer, f.properties, "status") })
            .on("click", () => { window.location.href = `/cases/${encodeURIComponent(f.id)}`; })
            .addTo(eventGroup);
        });
        state.drawn.events = data.features.length;
        view.events = data.features;
      }
    }
    renderLists(lists, view, mine, eventsLayer);
  }
  if (!mine) map.on("moveend", loadMine);
  loadMine().then(() => installOffline(config.endpoints.sw, showNetwork)).then(() => box.flush());
  setInterval(() => navigator.onLine && box.flush(), 30000);
  if (eventsLayer && mine) liveStream(config.endpoints.stream, { feature: () => loadMine(), reload: () => loadMine() }, config.stream_poll_s);
  gridgov.map = map;
}
