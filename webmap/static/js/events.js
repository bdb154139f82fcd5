/* The events layer of the command center: clustered markers coloured by status or category,
 * a heat map, overdue cases ringed in red, and live upserts from the stream. */

import { bboxOf, el, escapeHtml, latestJSON, propsTable, withQuery } from "./core.js";
import { layerTitle, t } from "./i18n.js";
import { photoStrip } from "./photos.js";
import { mark, state } from "./state.js";

const colorMaps = new WeakMap();

export function eventColor(layer, props, by) {
  if (!colorMaps.has(layer)) {
    colorMaps.set(layer, { status: Object.fromEntries(layer.style.status_colors), category: Object.fromEntries(layer.style.category_colors) });
  }
  const maps = colorMaps.get(layer);
  return (by === "category" ? maps.category[props.major_category] : maps.status[props.status]) || "#757575";
}

// The markers by event id live in state.events (the tests and the console read them there).
export function eventLayers(map, layer, notice) {
  const cluster = L.markerClusterGroup({ maxClusterRadius: 50, chunkedLoading: true, disableClusteringAtZoom: 19 });
  const heat = L.heatLayer([], { radius: 22, blur: 18, maxZoom: 17, minOpacity: 0.3 });
  const ctx = { cluster, heat, colorBy: "status", includeClosed: false, overdueOnly: false, aggregated: false, datetime: null, since: null, until: null };
  const fetchLatest = latestJSON();

  function marker(feature) {
    const [lng, lat] = feature.geometry.coordinates;
    const overdue = feature.properties.overdue;  // issue #8: overdue cases wear a thick red ring
    const m = L.circleMarker([lat, lng], Object.assign({}, layer.style, {
      radius: (layer.style.radius || 6) + (overdue ? 2 : 0),
      fillColor: eventColor(layer, feature.properties, ctx.colorBy),
    }, overdue ? { color: layer.style.overdue_color, weight: layer.style.overdue_weight } : {}));
    m.feature = feature;
    m.bindPopup(() => {
      const card = el("div", {});
      card.innerHTML = propsTable(feature.properties, t("map.events.popup_title", { layer: layerTitle(layer), id: feature.id })) +
        `<p><a class="gg-case-link" href="/cases/${encodeURIComponent(feature.id)}">${escapeHtml(t("map.events.case_link"))}</a></p>`;
      card.append(photoStrip(feature.id));  // issue 18: the report's photos
      return card;
    });
    return m;
  }

  function bubble(feature) {
    const [lng, lat] = feature.geometry.coordinates;
    const n = feature.properties.events;
    return L.marker([lat, lng], {
      icon: L.divIcon({ className: "gg-bubble", html: `<span>${n}</span>`, iconSize: [30, 30] }),
      title: `${feature.properties.grid_code}: ${n}`,
    });
  }

  ctx.reload = async function () {
    if (!map.hasLayer(cluster) && !map.hasLayer(heat)) return;
    const params = { bbox: bboxOf(map), zoom: Math.round(map.getZoom()), overflow: "aggregate" };
    if (!ctx.includeClosed) params.open = "true";
    if (ctx.overdueOnly) params.overdue = "true";
    if (ctx.datetime) params.datetime = ctx.datetime;  // issue 19: the time filter (timefilter.js)
    const data = await fetchLatest(withQuery(layer.links.geojson, params));
    if (!data) return;
    if (data.problem) return notice(t("map.problem", { layer: layerTitle(layer), title: data.problem.title, detail: data.problem.detail || "" }));
    ctx.aggregated = data.aggregated;
    cluster.clearLayers();
    state.events.clear();
    const points = [];
    if (data.aggregated) {
      cluster.addLayers(data.features.map(bubble));
      data.features.forEach((f) => points.push([f.geometry.coordinates[1], f.geometry.coordinates[0], f.properties.events]));
    } else {
      const markers = data.features.map((f) => {
        const m = marker(f);
        state.events.set(f.id, m);
        points.push([f.geometry.coordinates[1], f.geometry.coordinates[0], 1]);
        return m;
      });
      cluster.addLayers(markers);
    }
    const max = Math.max(1, ...points.map((p) => p[2]));
    heat.setOptions({ max });
    heat.setLatLngs(points);
    state.drawn[layer.name] = data.features.length;
    mark(layer.name);
    if (ctx.onFirstLoad) {
      const first = ctx.onFirstLoad;
      ctx.onFirstLoad = null;
      first();
    }
  };

  // A live event: add it, or replace the marker of an event that changed.
  ctx.upsert = function (feature) {
    const old = state.events.get(feature.id);
    if (old) cluster.removeLayer(old);
    state.events.delete(feature.id);
    if (ctx.aggregated) return;
    if (!feature.properties.open && !ctx.includeClosed) return;
    if (ctx.overdueOnly && !feature.properties.overdue) return;
    const at = Date.parse(feature.properties.occurred_at);
    if ((ctx.since && at < ctx.since) || (ctx.until && at >= ctx.until)) return;
    const m = marker(feature);
    state.events.set(feature.id, m);
    cluster.addLayer(m);
    heat.addLatLng([feature.geometry.coordinates[1], feature.geometry.coordinates[0], 1]);
  };

  ctx.recolor = function () {
    state.events.forEach((m) => m.setStyle({ fillColor: eventColor(layer, m.feature.properties, ctx.colorBy) }));
  };

  map.on("moveend", ctx.reload);
  cluster.on("add", ctx.reload);
  heat.on("add", ctx.reload);
  return ctx;
}
