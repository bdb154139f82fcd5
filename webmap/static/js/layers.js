/* The layers of the registry's catalog on a Leaflet map: styles, vector tiles, GeoJSON fetched
 * for the view, the optional basemap, and identify (what lies under a click). */

import { bboxOf, getJSON, latestJSON, propsTable, withQuery } from "./core.js";
import { layerTitle, t } from "./i18n.js";
import { mark, state } from "./state.js";

function classColor(value, spec) {
  // Choropleth classes: colour i for values from breaks[i] up to breaks[i + 1].
  let i = 0;
  while (i + 1 < spec.breaks.length && value >= spec.breaks[i + 1]) i++;
  return spec.colors[Math.min(i, spec.colors.length - 1)];
}

// Leaflet path options for a feature of a layer, from the registry's style.
export function pathStyle(layer, props) {
  const s = layer.style || {};
  const out = { color: s.color || "#1565c0", weight: s.weight ?? 1, opacity: 1, dashArray: s.dashArray, fill: s.fill !== false };
  out.fillColor = s.fillColor || s.color || "#1565c0";
  out.fillOpacity = s.fillOpacity ?? 0.2;
  if (s.choropleth && props && props[s.choropleth.property] !== undefined) {
    out.fillColor = classColor(props[s.choropleth.property], s.choropleth);
  }
  if (s.aggregate && props && props[s.aggregate.property] !== undefined) {
    out.fillColor = classColor(props[s.aggregate.property], s.aggregate);
    out.fill = true;
    out.fillOpacity = 0.6;
  }
  return out;
}

// Vector tiles (Leaflet.VectorGrid). Not interactive: clicks go through map identify, which
// avoids VectorGrid's canvas click handler (broken with Leaflet ≥ 1.8).
export function tileLayer(map, layer, params, options) {
  state.tilesLoaded[layer.name] = 0;
  const styles = {};
  styles[layer.name] = (props) => pathStyle(layer, props);
  const vg = L.vectorGrid.protobuf(withQuery(layer.links.tiles, params || {}), Object.assign({
    vectorTileLayerStyles: styles,
    maxNativeZoom: 20,
    maxZoom: 20,
    fetchOptions: { credentials: "same-origin" },
  }, options));
  vg.on("tileload", () => {
    state.tilesLoaded[layer.name] += 1;
    mark(layer.name);
  });
  return vg;
}

// GeoJSON fetched for the view (bbox + zoom) and redrawn after every move; the server
// simplifies for the zoom and answers with per-grid counts when too many features match.
export function bboxLayer(map, layer, options) {
  const opts = Object.assign({ params: {}, minZoom: 0, full: false }, options);
  const group = L.geoJSON(null, {
    pmIgnore: Boolean(opts.readOnly),
    style: (f) => pathStyle(layer, f.properties),
    pointToLayer: opts.pointToLayer,
    onEachFeature: (f, lyr) => {
      // Polygons of a page that identifies clicks (opts.identified) leave the popup to identify(),
      // which picks the building over the grid over the area under the pointer.
      const polygon = /Polygon$/.test((f.geometry || {}).type || "");
      if (!(opts.identified && polygon)) lyr.bindPopup(() => propsTable(f.properties, layerTitle(layer)));
      if (opts.onEachFeature) opts.onEachFeature(f, lyr);
    },
  });
  const fetchLatest = latestJSON();
  group.reload = async function () {
    if (!map.hasLayer(group)) return;
    if (map.getZoom() < opts.minZoom) {
      group.clearLayers();
      state.drawn[layer.name] = 0;
      if (opts.onTooFar) opts.onTooFar();
      return;
    }
    const params = Object.assign({ bbox: bboxOf(map), overflow: "aggregate" }, opts.params);
    if (!opts.full) params.zoom = Math.round(map.getZoom());
    const data = await fetchLatest(withQuery(layer.links.geojson, params));
    if (!data) return;
    if (data.problem) {
      if (opts.notice) opts.notice(t("map.problem", { layer: layerTitle(layer), title: data.problem.title, detail: data.problem.detail || "" }));
      return;
    }
    group.clearLayers();
    group.addData(data);
    state.drawn[layer.name] = data.features.length;
    mark(layer.name);
    if (opts.onData) opts.onData(data);
  };
  map.on("moveend", group.reload);
  group.on("add", group.reload);
  return group;
}

// The base layers basemap.js made (our own, on the map already, and the outside XYZ one if configured).
export function basemapLayers(config) {
  return config.bases || {};
}

// Point query: what lies under a click, the most particular first — a building over a grid over
// an area (community, street, district) — shown as one labelled card from the layers themselves.
export const IDENTIFY_ORDER = ["buildings", "grids", "uncovered_grids", "contracted_areas", "communities", "streets", "districts"];

export async function identify(map, latlng, layers) {
  const d = 0.00001;
  const bbox = [latlng.lng - d, latlng.lat - d, latlng.lng + d, latlng.lat + d].map((v) => v.toFixed(7)).join(",");
  for (const name of IDENTIFY_ORDER) {
    const layer = layers.find((l) => l.name === name);
    if (!layer || !layer.links || !layer.links.geojson) continue;
    const data = await getJSON(withQuery(layer.links.geojson, { bbox }));
    const feature = data && !data.aggregated && data.features ? data.features[0] : null;  // not per-grid counts
    if (feature) {
      state.identified = { layer: name, id: feature.id ?? null };
      L.popup({ maxWidth: 360, className: "gg-card" }).setLatLng(latlng).setContent(propsTable(feature.properties, layerTitle(layer))).openOn(map);
      return;
    }
  }
  state.identified = null;
}
