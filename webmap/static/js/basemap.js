/* The basemap from the district's own data (issue 19): water and roads as vector tiles, place and
 * major road names as labels, in panes under every other layer; the outside XYZ basemap (BASEMAP_URL),
 * when configured, as the alternative in the layer control; and a metric scale bar. Every map page
 * calls it once: gridgov-map.js before the page's own script, the case page by webmap/basemap.py. */

import { bboxOf, escapeHtml, latestJSON, withQuery } from "./core.js";
import { t } from "./i18n.js";
import { mark, state } from "./state.js";

// Under the overlay pane (400), above Leaflet's tile pane (200, where the XYZ alternative goes).
export const PANE = "gg-basemap";
export const LABEL_PANE = "gg-basemap-labels";
const ROAD_NAME_ZOOM = 15;  // major roads are named from here
const MAX_LABELS = 150;

// Road width in pixels: the class's width at zoom 15, halved for every two zooms out.
function roadStyle(style, props, zoom) {
  const cls = (style.classes || []).find(([name]) => name === props.class) || [props.class, style.color, style.weight];
  const from = (style.min_zoom || []).find(([name]) => name === props.class);
  if (from && zoom < from[1]) return [];  // the tiles leave them out too (the registry's tile_rule)
  const weight = Math.max(0.6, Math.min(24, cls[2] * 2 ** ((zoom - 15) / 2)));
  return { color: cls[1], weight, opacity: 1, lineCap: "round", lineJoin: "round", fill: false };
}

function waterStyle(style) {
  return { color: style.color, weight: style.weight, fill: true, fillColor: style.fillColor, fillOpacity: style.fillOpacity, opacity: 1 };
}

function tiles(layer, style, zIndex) {
  state.tilesLoaded[layer.name] = 0;
  const vg = L.vectorGrid.protobuf(layer.links.tiles, {
    pane: PANE, zIndex, interactive: false, maxNativeZoom: 20, maxZoom: 20,
    vectorTileLayerStyles: { [layer.name]: (props, zoom) => style(layer.style || {}, props, zoom) },
    fetchOptions: { credentials: "same-origin" },
  });
  // Offline (the phone's pages), a tile not kept is an empty tile, not an unhandled failed fetch.
  const fetchTile = vg._getVectorTilePromise.bind(vg);
  vg._getVectorTilePromise = (...args) => fetchTile(...args).catch(() => ({ layers: [] }));
  vg.on("tileload", () => {
    state.tilesLoaded[layer.name] += 1;
    mark(layer.name);
  });
  return vg;
}

// The kinds of place named at this zoom (the registry's label_zoom), so the map stays readable zoomed out.
function kindsAt(layer, zoom) {
  return ((layer.style || {}).label_zoom || []).filter(([, from]) => zoom >= from).map(([kind]) => kind);
}

function label(latlng, name, kind) {
  return L.marker(latlng, {
    pane: LABEL_PANE, interactive: false, keyboard: false,
    icon: L.divIcon({ className: `gg-label gg-label-${kind}`, html: `<span>${escapeHtml(name)}</span>`, iconSize: null }),
  });
}

// The middle of a line's longest part, where its name is written.
function middle(geometry) {
  const parts = geometry.type === "MultiLineString" ? geometry.coordinates : [geometry.coordinates];
  const longest = parts.reduce((a, b) => (b.length > a.length ? b : a), []);
  const [lon, lat] = longest[Math.floor(longest.length / 2)] || [];
  return lat === undefined ? null : [lat, lon];
}

function labels(map, places, roads) {
  const group = L.layerGroup([], { pane: LABEL_PANE });
  const fetchPlaces = latestJSON();
  const fetchRoads = latestJSON();
  group.reload = async function () {
    if (!map.hasLayer(group)) return;
    const zoom = Math.round(map.getZoom());
    const bbox = bboxOf(map);
    const kinds = places ? kindsAt(places, zoom) : [];
    const [p, r] = await Promise.all([
      kinds.length ? fetchPlaces(withQuery(places.links.geojson, { bbox, kind: kinds.join(",") })) : null,
      roads && zoom >= ROAD_NAME_ZOOM ? fetchRoads(withQuery(roads.links.geojson, { bbox, zoom, class: "motorway,arterial,secondary" })) : null,
    ]);
    group.clearLayers();
    let n = 0;
    if (p && p.features) {
      p.features.slice(0, MAX_LABELS).forEach((f) => {
        const [lon, lat] = f.geometry.coordinates;
        group.addLayer(label([lat, lon], f.properties.name, f.properties.kind));
        n += 1;
      });
    }
    const named = new Set();
    if (r && r.features) {
      r.features.forEach((f) => {
        const name = f.properties.name;
        if (!name || named.has(name) || n >= MAX_LABELS) return;
        const at = middle(f.geometry);
        if (!at) return;
        named.add(name);
        group.addLayer(label(at, name, "road"));
        n += 1;
      });
    }
    state.drawn.basemap_labels = n;
    mark("basemap_labels");
  };
  map.on("moveend", group.reload);
  group.on("add", group.reload);
  return group;
}

function panes(map) {
  if (map.getPane(PANE)) return;
  map.createPane(PANE).style.zIndex = 250;
  const labelPane = map.createPane(LABEL_PANE);
  labelPane.style.zIndex = 350;
  labelPane.style.pointerEvents = "none";
}

// The base layers by title, our own first (on the map already); the page's layer control lists them.
export function basemap(map, config, titles) {
  const title = titles || ((key) => t(key));
  panes(map);
  L.control.scale({ imperial: false, metric: true }).addTo(map);
  const layers = config.basemap_layers || [];
  const find = (name) => layers.find((l) => l.name === name);
  const parts = [];
  if (find("water")) parts.push(tiles(find("water"), waterStyle, 1));
  if (find("roads")) parts.push(tiles(find("roads"), roadStyle, 2));
  if (find("places") || find("roads")) parts.push(labels(map, find("places"), find("roads")));
  const bases = {};
  if (parts.length) {
    const own = L.layerGroup(parts);
    own.on("add", () => map.getContainer().classList.add("gg-basemap-on"));
    own.on("remove", () => map.getContainer().classList.remove("gg-basemap-on"));
    bases[title("basemap.own")] = own.addTo(map);
  }
  if (config.basemap) {
    bases[title("basemap.outside")] = L.tileLayer(config.basemap.url, { attribution: config.basemap.attribution, maxZoom: 20 });
  }
  config.bases = bases;
  return bases;
}

// The case page: no layer control of its own, so one here when there is an alternative to choose.
export function basemapPage(map, config) {
  const titles = (key) => (config.messages || {})[key] || key;
  const bases = basemap(map, config, titles);
  if (Object.keys(bases).length > 1) L.control.layers(bases, {}, { collapsed: true }).addTo(map);
  return bases;
}
