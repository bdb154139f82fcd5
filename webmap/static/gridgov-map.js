/* gridgov map pages: the command center, the grid worker's page and the planner's page.
 * Folium creates the Leaflet map and calls gridgov.<page>(map, config); config comes from the
 * layer registry (layers/registry.py) via api/pages.py. Everything is fetched from this server.
 */
(function () {
  "use strict";

  const gridgov = (window.gridgov = window.gridgov || {});
  // What the page has drawn, for people debugging in the console and for the browser tests.
  const state = (gridgov.state = { drawn: {}, tilesLoaded: {}, events: new Map(), live: false, errors: [], marks: {} });
  // performance.now() when each layer first had something on screen (bench/tiles.py reads it).
  const mark = (name) => state.marks[name] ?? (state.marks[name] = performance.now());

  // ---- helpers ------------------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (v !== null && v !== undefined) node.setAttribute(k, v);
    });
    children.flat().forEach((c) => node.append(c instanceof Node ? c : document.createTextNode(c ?? "")));
    return node;
  }

  function escapeHtml(text) {
    return String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }

  function propsTable(props, title) {
    const rows = Object.entries(props)
      .filter(([, v]) => v !== null && v !== "")
      .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`)
      .join("");
    return (title ? `<b>${escapeHtml(title)}</b>` : "") + `<table class="gg-props">${rows}</table>`;
  }

  // A message bar at the bottom of the map: problems are shown to people, never thrown.
  function notifier(map) {
    const box = el("div", { class: "gg-notice", role: "status", "aria-live": "polite" });
    map.getContainer().append(box);
    let timer = null;
    return function notice(text, ms = 5000) {
      box.textContent = text;
      box.classList.toggle("gg-visible", Boolean(text));
      clearTimeout(timer);
      if (text && ms) timer = setTimeout(() => box.classList.remove("gg-visible"), ms);
    };
  }

  // fetch JSON; on a problem+json answer, resolve to {problem} instead of throwing.
  async function getJSON(url, options) {
    const response = await fetch(url, Object.assign({ credentials: "same-origin", headers: { Accept: "application/json" } }, options));
    const body = await response.json().catch(() => null);
    if (!response.ok) return { problem: body || { title: `HTTP ${response.status}`, detail: url } };
    return body;
  }

  // For requests where only the newest answer counts (the map moved again before the last one
  // came back): each call aborts the one before. Resolves to the body, or undefined when aborted
  // or failed (failures are noted in state.errors).
  function latestJSON() {
    let controller = null;
    return async function (url) {
      if (controller) controller.abort();
      controller = new AbortController();
      try {
        return await getJSON(url, { signal: controller.signal });
      } catch (e) {
        if (e.name !== "AbortError") state.errors.push(String(e));
        return undefined;
      }
    };
  }

  function bboxOf(map) {
    const b = map.getBounds();
    const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
    return [clamp(b.getWest(), -180, 180), clamp(b.getSouth(), -90, 90), clamp(b.getEast(), -180, 180), clamp(b.getNorth(), -90, 90)]
      .map((v) => v.toFixed(6))
      .join(",");
  }

  function classColor(value, spec) {
    // Choropleth classes: colour i for values from breaks[i] up to breaks[i + 1].
    let i = 0;
    while (i + 1 < spec.breaks.length && value >= spec.breaks[i + 1]) i++;
    return spec.colors[Math.min(i, spec.colors.length - 1)];
  }

  // Leaflet path options for a feature of a layer, from the registry's style.
  function pathStyle(layer, props) {
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

  function withQuery(url, params) {
    const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== null && v !== undefined && v !== ""));
    const s = q.toString();
    return s ? `${url}${url.includes("?") ? "&" : "?"}${s}` : url;
  }

  // ---- layers -------------------------------------------------------------------------------
  // Vector tiles (Leaflet.VectorGrid). Not interactive: clicks go through map identify, which
  // avoids VectorGrid's canvas click handler (broken with Leaflet ≥ 1.8).
  function tileLayer(map, layer, params, options) {
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
  function bboxLayer(map, layer, options) {
    const opts = Object.assign({ params: {}, minZoom: 0, full: false }, options);
    const group = L.geoJSON(null, {
      pmIgnore: Boolean(opts.readOnly),
      style: (f) => pathStyle(layer, f.properties),
      pointToLayer: opts.pointToLayer,
      onEachFeature: (f, lyr) => {
        lyr.bindPopup(() => propsTable(f.properties, layer.title));
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
        if (opts.notice) opts.notice(`${layer.title}: ${data.problem.title} — ${data.problem.detail || ""}`);
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

  function legend(map, layers) {
    const ctl = L.control({ position: "bottomright" });
    ctl.onAdd = () => {
      // Folded on screens too small to show it beside the layer control.
      const box = el("details", { class: "gg-panel gg-legend" });
      if (window.innerHeight >= 900) box.setAttribute("open", "");
      box.append(el("summary", {}, "图例 legend"));
      layers.forEach((layer) => {
        const c = (layer.style || {}).choropleth;
        if (!c) return;
        box.append(el("b", {}, layer.title));
        c.colors.forEach((color, i) => {
          const lo = c.breaks[i];
          const hi = i + 1 < c.breaks.length ? c.breaks[i + 1] : null;
          const label = hi === null ? `≥ ${lo}` : hi - lo === 1 ? `${lo}` : `${lo}–${hi - 1}`;
          box.append(el("div", {}, el("i", { style: `background:${color}` }), ` ${label}`));
        });
      });
      const st = layers.find((l) => (l.style || {}).status_colors);
      if (st) {
        box.append(el("b", {}, "事件状态 status"));
        st.style.status_colors.forEach(([k, color]) => box.append(el("div", {}, el("i", { style: `background:${color};border-radius:50%` }), ` ${k}`)));
        if (st.style.overdue_color) {  // issue #8
          box.append(el("div", {}, el("i", { style: `border:3px solid ${st.style.overdue_color};border-radius:50%;box-sizing:border-box` }), " 超期 overdue"));
        }
      }
      return box;
    };
    return ctl.addTo(map);
  }

  function basemapLayers(config) {
    if (!config.basemap) return {};
    return { "底图 basemap": L.tileLayer(config.basemap.url, { attribution: config.basemap.attribution, maxZoom: 20 }) };
  }

  function userBar(map, config) {
    const ctl = L.control({ position: "bottomleft" });
    ctl.onAdd = () => {
      const form = el("form", { method: "post", action: config.endpoints.logout, class: "gg-panel gg-user" },
        `${config.user.display_name || config.user.name} (${config.user.role}) `,
        el("input", { type: "hidden", name: "csrf_token", value: config.csrf }),
        el("button", { type: "submit" }, "退出 sign out"));
      L.DomEvent.disableClickPropagation(form);
      return form;
    };
    return ctl.addTo(map);
  }

  // Point query: what lies under a click (current grid, building), from the layers themselves.
  async function identify(map, latlng, layers) {
    const d = 0.00001;
    const bbox = [latlng.lng - d, latlng.lat - d, latlng.lng + d, latlng.lat + d].map((v) => v.toFixed(7)).join(",");
    const parts = [];
    for (const name of ["grids", "buildings", "communities"]) {
      const layer = layers.find((l) => l.name === name);
      if (!layer) continue;
      const data = await getJSON(withQuery(layer.links.geojson, { bbox }));
      if (data && data.features) data.features.slice(0, 2).forEach((f) => parts.push(propsTable(f.properties, layer.title)));
    }
    if (parts.length) L.popup({ maxWidth: 360 }).setLatLng(latlng).setContent(parts.join("<hr>")).openOn(map);
  }

  // ---- events: clustered markers, heat map, live stream ------------------------------------
  const colorMaps = new WeakMap();
  function eventColor(layer, props, by) {
    if (!colorMaps.has(layer)) {
      colorMaps.set(layer, { status: Object.fromEntries(layer.style.status_colors), category: Object.fromEntries(layer.style.category_colors) });
    }
    const maps = colorMaps.get(layer);
    return (by === "category" ? maps.category[props.major_category] : maps.status[props.status]) || "#757575";
  }

  function eventLayers(map, layer, notice) {
    const cluster = L.markerClusterGroup({ maxClusterRadius: 50, chunkedLoading: true, disableClusteringAtZoom: 19 });
    const heat = L.heatLayer([], { radius: 22, blur: 18, maxZoom: 17, minOpacity: 0.3 });
    const ctx = { cluster, heat, colorBy: "status", includeClosed: false, overdueOnly: false, aggregated: false };
    const fetchLatest = latestJSON();

    function marker(feature) {
      const [lng, lat] = feature.geometry.coordinates;
      const overdue = feature.properties.overdue;  // issue #8: overdue cases wear a thick red ring
      const m = L.circleMarker([lat, lng], Object.assign({}, layer.style, {
        radius: (layer.style.radius || 6) + (overdue ? 2 : 0),
        fillColor: eventColor(layer, feature.properties, ctx.colorBy),
      }, overdue ? { color: layer.style.overdue_color, weight: layer.style.overdue_weight } : {}));
      m.feature = feature;
      m.bindPopup(() => propsTable(feature.properties, `${layer.title} #${feature.id}`) +
        `<p><a class="gg-case-link" href="/cases/${encodeURIComponent(feature.id)}">案件流转 case →</a></p>`);
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
      const data = await fetchLatest(withQuery(layer.links.geojson, params));
      if (!data) return;
      if (data.problem) return notice(`${layer.title}: ${data.problem.detail || data.problem.title}`);
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

  // Live updates: a server-sent event stream. A browser without EventSource, or one the server
  // turned away (503 when every stream slot of its process is taken: EventSource then gives up
  // for good), polls with handlers.reload every `pollSeconds` and asks for a stream again later.
  function liveStream(url, handlers, pollSeconds) {
    if (!url) return null;
    const live = { source: null, poll: null };
    const stopPolling = () => {
      if (live.poll) clearInterval(live.poll);
      live.poll = null;
      state.polling = false;
    };
    const fallBack = (retry) => {
      state.live = false;
      state.polling = true;
      const line = document.getElementById("gg-live");
      if (line) line.textContent = `实时推送繁忙，每${pollSeconds || 30}秒刷新 · live updates busy, refreshing every ${pollSeconds || 30} s`;
      if (!live.poll) live.poll = setInterval(() => handlers.reload(), 1000 * (pollSeconds || 30));
      if (retry) setTimeout(connect, 1000 * (60 + Math.random() * 60));
    };
    function connect() {
      if (!window.EventSource) return fallBack(false);
      const source = (live.source = new EventSource(url));
      source.addEventListener("open", () => {
        state.live = true;
        if (live.poll) {
          stopPolling();
          const line = document.getElementById("gg-live");
          if (line) line.textContent = "";
          handlers.reload();  // catch up on what the polling may have missed
        }
      });
      source.addEventListener("error", () => {
        state.live = false;
        // CONNECTING: the browser retries by itself; CLOSED: refused, so poll and retry later.
        if (source.readyState === EventSource.CLOSED) fallBack(true);
      });
      ["insert", "update"].forEach((op) =>
        source.addEventListener(op, (e) => {
          try {
            handlers.feature(JSON.parse(e.data), op);
          } catch (err) {
            state.errors.push(String(err));
          }
        })
      );
      source.addEventListener("reload", () => handlers.reload());
    }
    connect();
    return live;
  }

  // ---- the command center ------------------------------------------------------------------
  function countersPanel(map, config) {
    // A strip across the top centre, the first thing a command-center screen is read for; the
    // corners stay for the map's own controls (search, layers, legend).
    const ctl = L.control({ position: "topleft" });
    const cells = {};
    const items = [
      ["today_events", "今日事件 today"],
      ["open_events", "在办 open"],
      ["overdue_events", "超期 overdue"],
      ["closure_rate", "结案率 closure rate"],
      ["on_time_closure_rate", "按期结案率 on time"],  // issue #8: last 30 days, as of the last tick
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
    let pending = null;
    refresh.soon = () => {
      clearTimeout(pending);
      pending = setTimeout(refresh, 500);
    };
    setInterval(refresh, 60000);
    return refresh;
  }

  function searchControl(map, config, layers, notice) {
    const ctl = L.control({ position: "topleft" });
    let highlight = null;
    ctl.onAdd = () => {
      const input = el("input", { type: "search", placeholder: "网格编码 / 地址 grid code or address", "aria-label": "search", id: "gg-search" });
      const list = el("ul", { class: "gg-results" });
      const form = el("form", { class: "gg-panel gg-search" }, input, list);
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        const q = input.value.trim();
        list.replaceChildren();
        if (q.length < 2) return notice("请输入至少两个字符 — type at least 2 characters");
        const data = await getJSON(withQuery(config.endpoints.search, { q }));
        if (data.problem) return notice(data.problem.detail);
        if (!data.results.length) return notice(`没有找到 “${q}” — nothing found`);
        data.results.forEach((r) => {
          const item = el("li", { tabindex: "0" }, `${r.name} `, el("small", {}, `${r.type} ${r.code}`));
          const go = () => show(r);
          item.addEventListener("click", go);
          item.addEventListener("keydown", (ev) => ev.key === "Enter" && go());
          list.append(item);
        });
        if (data.results_omitted > 0) {
          list.append(el("li", { class: "gg-more" }, `… 还有 ${data.results_omitted} 项未列出 / and ${data.results_omitted} more — 请输入更多字符 type more to narrow`));
        }
        if (data.results.length === 1) show(data.results[0]);
      });
      L.DomEvent.disableClickPropagation(form);
      L.DomEvent.disableScrollPropagation(form);
      return form;
    };
    async function show(r) {
      const [w, s, e, n] = r.bbox;
      map.fitBounds([[s, w], [n, e]], { maxZoom: 18, padding: [40, 40] });
      if (highlight) map.removeLayer(highlight);
      highlight = L.rectangle([[s, w], [n, e]], { color: "#e53935", weight: 3, fill: false, dashArray: "4 4" }).addTo(map);
      const grids = layers.find((l) => l.name === "grids");
      if (r.type === "grid" && grids) {
        const data = await getJSON(withQuery(grids.links.geojson, { code: r.code }));
        if (data.features && data.features.length) {
          map.removeLayer(highlight);
          highlight = L.geoJSON(data, { style: { color: "#e53935", weight: 4, fill: false } }).addTo(map);
          highlight.bindPopup(propsTable(data.features[0].properties, grids.title)).openPopup();
        }
      }
    }
    return ctl.addTo(map);
  }

  function eventOptions(map, ctx) {
    const ctl = L.control({ position: "topright" });
    ctl.onAdd = () => {
      const colour = el("select", { "aria-label": "colour events by" },
        el("option", { value: "status" }, "按状态 by status"), el("option", { value: "category" }, "按类别 by category"));
      colour.addEventListener("change", () => {
        ctx.colorBy = colour.value;
        ctx.recolor();
      });
      const closed = el("input", { type: "checkbox" });
      closed.addEventListener("change", () => {
        ctx.includeClosed = closed.checked;
        ctx.reload();
      });
      const box = el("div", { class: "gg-panel gg-event-options" }, "事件 events: ", colour, el("label", {}, closed, " 含已结案 closed too"));
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
      const panel = el("label", { class: "gg-panel gg-overdue-only" }, box, " 只看超期 overdue only");
      L.DomEvent.disableClickPropagation(panel);
      return panel;
    };
    return ctl.addTo(map);
  }

  gridgov.command = function (map, config) {
    const notice = notifier(map);
    const layers = config.layers;
    const overlays = {};
    let events = null;
    // Events first: their one request should not queue behind dozens of tile requests.
    const drawOrder = [...layers].sort((a, b) => (b.render === "points") - (a.render === "points"));
    drawOrder.forEach((layer) => {
      if (layer.render === "tiles") {
        // Polygons counted per grid below their min zoom (buildings) would hide the grids'
        // choropleth under a second one: here they appear from their min zoom.
        const fromZoom = layer.aggregate && layer.aggregate.shape === "polygon" ? layer.min_zoom : 0;
        overlays[layer.title] = tileLayer(map, layer, {}, { minZoom: fromZoom });
      } else if (layer.render === "points") {
        events = eventLayers(map, layer, notice);
        overlays[layer.title] = events.cluster;
        overlays[`${layer.title} 热力图 heat map`] = events.heat;
      } else {
        overlays[layer.title] = bboxLayer(map, layer, { notice });
      }
      if (layer.shown && overlays[layer.title]) overlays[layer.title].addTo(map);
    });
    const bases = basemapLayers(config);
    Object.values(bases).forEach((b) => b.addTo(map));
    // The layer control lists layers in registry order, whatever order they were drawn in.
    const ordered = {};
    layers.forEach((layer) => Object.keys(overlays).filter((t) => t.startsWith(layer.title)).forEach((t) => (ordered[t] = overlays[t])));
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
    userBar(map, config);
    map.on("click", (e) => identify(map, e.latlng, layers));
    if (events) {
      gridgov.stream = liveStream(config.endpoints.stream, {
        feature(feature, op) {
          events.upsert(feature);
          refreshCounters.soon();
          const live = document.getElementById("gg-live");
          if (live) live.textContent = `${op === "insert" ? "新事件" : "更新"} #${feature.id} ${feature.properties.title} (${feature.properties.grid_code || "—"})`;
        },
        reload() {
          events.reload();
          refreshCounters.soon();
        },
      }, config.stream_poll_s);
    }
    gridgov.map = map;
  };

  // ---- the grid worker's page --------------------------------------------------------------
  gridgov.worker = function (map, config) {
    const notice = notifier(map);
    const layers = config.layers;
    const grids = layers.find((l) => l.name === "grids");
    const eventsLayer = layers.find((l) => l.name === "events");
    const mine = config.user.grids.length > 0;
    let here = null;
    let located = null;
    const idempotency = () => (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`);
    let reportKey = idempotency();

    const panel = el("section", { class: "gg-sheet", id: "gg-sheet" });
    document.body.append(panel);
    document.body.classList.add("gg-worker");
    map.invalidateSize();
    window.addEventListener("resize", () => map.invalidateSize());

    const result = el("div", { class: "gg-locate", id: "gg-locate" }, "点击地图或使用定位 — tap the map or use GPS");
    const gps = el("button", { type: "button", id: "gg-gps" }, "📍 定位 GPS");
    const crs = el("select", { name: "crs", "aria-label": "coordinate system" },
      el("option", { value: "wgs84" }, "WGS84 (浏览器 browser)"), el("option", { value: "gcj02" }, "GCJ-02 (高德/腾讯)"));
    const category = el("select", { name: "category", required: "required", "aria-label": "category" },
      el("option", { value: "" }, "— 类别 category —"),
      ...groupBy(config.categories || [], (c) => c.major_name).map(([major, cats]) =>
        el("optgroup", { label: major }, ...cats.map((c) => el("option", { value: c.code }, `${c.name} (${c.code})`)))));
    const title = el("input", { name: "title", required: "required", maxlength: "200", placeholder: "标题 title" });
    const description = el("textarea", { name: "description", rows: "3", placeholder: "描述 description" });
    const submit = el("button", { type: "submit" }, "上报 report");
    const form = el("form", { class: "gg-report", id: "gg-report" }, el("h2", {}, "事件上报 report"), category, title, description, crs, submit);
    const list = el("div", { class: "gg-mine", id: "gg-mine" });
    const signOut = el("form", { method: "post", action: config.endpoints.logout, class: "gg-user" },
      el("input", { type: "hidden", name: "csrf_token", value: config.csrf }),
      el("button", { type: "submit", class: "gg-link" }, `${config.user.name} 退出 sign out`));
    const toCommand = config.user.role === "worker" ? "" : el("a", { href: config.endpoints.command }, "指挥中心 command");
    const toCases = el("a", { href: "/cases", id: "gg-my-cases" }, "待办 my cases");  // issue #8
    panel.append(el("div", { class: "gg-row" }, gps, toCases, toCommand, signOut), result, form, list);
    if (!config.endpoints.report) {
      submit.disabled = true;
      form.append(el("p", { class: "gg-note" }, "上报接口尚未启用 — reporting is not available on this server yet."));
    }

    async function locate(latlng, accuracy) {
      here = { lat: latlng.lat, lon: latlng.lng, accuracy };
      if (located) map.removeLayer(located);
      located = L.layerGroup([L.circleMarker(latlng, { radius: 8, color: "#d32f2f", fillOpacity: 0.8 })]).addTo(map);
      if (accuracy) located.addLayer(L.circle(latlng, { radius: accuracy, color: "#d32f2f", weight: 1, fillOpacity: 0.1 }));
      if (!config.endpoints.locate) {
        result.textContent = `${latlng.lat.toFixed(6)}, ${latlng.lng.toFixed(6)} — 定位接口尚未启用 (locate is not available yet)`;
        return;
      }
      const params = { lon: latlng.lng.toFixed(7), lat: latlng.lat.toFixed(7), crs: crs.value };
      if (accuracy) params.accuracy_m = Math.round(accuracy);
      const data = await getJSON(withQuery(config.endpoints.locate, params));
      if (data.problem) {
        result.textContent = `${data.problem.title}: ${data.problem.detail || ""}`;
        return;
      }
      result.replaceChildren(locateView(data));
    }

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

    map.on("click", (e) => locate(e.latlng, null));
    gps.addEventListener("click", () => {
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

    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!here) return notice("先点击地图或定位 — tap the map or use GPS first");
      submit.disabled = true;
      const body = { lon: here.lon, lat: here.lat, crs: crs.value, category: category.value, title: title.value, description: description.value };
      if (here.accuracy) body.accuracy_m = here.accuracy;
      const data = await getJSON(config.endpoints.report, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": config.csrf, "Idempotency-Key": reportKey },
        body: JSON.stringify(body),
      });
      submit.disabled = false;
      if (data.problem) return notice(`${data.problem.title}: ${data.problem.detail || ""}`, 10000);
      const dupes = (data.duplicates || []).map((d) => `#${d.id}`).join(", ");  // issue #8: offered on report
      notice(`已上报 reported #${data.id}${data.assignment && data.assignment.grid ? ` → ${data.assignment.grid.code}` : ""}` +
        (dupes ? ` · 可能与 ${dupes} 重复，可在案件页合并 — possibly a duplicate of ${dupes}` : ""), dupes ? 12000 : 5000);
      reportKey = idempotency();
      form.reset();
      loadMine();
    });

    const gridGroup = L.geoJSON(null, {
      style: (f) => Object.assign(pathStyle(grids, f.properties), { fillOpacity: 0.25 }),
      onEachFeature: (f, lyr) => lyr.bindTooltip(`${f.properties.name} ${f.properties.code}`),
    }).addTo(map);
    const eventGroup = L.layerGroup().addTo(map);

    async function loadMine() {
      const params = mine ? { mine: "true" } : { bbox: bboxOf(map), zoom: Math.round(map.getZoom()), overflow: "aggregate" };
      if (grids) {
        const data = await getJSON(withQuery(grids.links.geojson, params));
        if (!data.problem) {
          gridGroup.clearLayers().addData(data);
          state.drawn.grids = data.features.length;
          if (mine && data.features.length && !loadMine.framed) {
            map.fitBounds(gridGroup.getBounds(), { padding: [20, 20] });
            loadMine.framed = true;
          }
          renderList(data.features, null);
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
          renderList(null, data.features);
        }
      }
    }
    const lists = { grids: [], events: [] };
    function renderList(gridFeatures, eventFeatures) {
      if (gridFeatures) lists.grids = gridFeatures;
      if (eventFeatures) lists.events = eventFeatures;
      list.replaceChildren(
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
    if (!mine) map.on("moveend", loadMine);
    loadMine();
    if (eventsLayer && mine) liveStream(config.endpoints.stream, { feature: () => loadMine(), reload: () => loadMine() }, config.stream_poll_s);
    gridgov.map = map;
  };

  function groupBy(items, key) {
    const out = new Map();
    items.forEach((it) => {
      const k = key(it);
      if (!out.has(k)) out.set(k, []);
      out.get(k).push(it);
    });
    return [...out.entries()];
  }

  // ---- the planner's page ------------------------------------------------------------------
  // Boundary edits (issue #7) go through the grid editing API: every change is previewed by the
  // server (the grids it closes and opens, the buildings, households, open events and contracts
  // that move, and every problem: gaps, overlaps, slivers, parts outside the community) and saved
  // with the ETags of the grids as this page loaded them (If-Match), so nobody's edit is lost.
  // Vertices shared by neighbours are one handle: dragging it moves every grid that has it.
  gridgov.planner = function (map, config) {
    const notice = notifier(map);
    const grids = config.layers.find((l) => l.name === "grids");
    const api = config.endpoints;
    const EDIT_ZOOM = 15;
    const MAX_HANDLES = 3000;
    const overview = tileLayer(map, grids);
    const loaded = new Map(); // code -> { feature, layer } as loaded (their versions make the If-Match)
    const moves = new Map(); // vertex key -> { from: [lng, lat], to: [lng, lat] }
    const changed = new Map(); // code -> GeoJSON geometry (reshaped with Geoman)
    let other = null; // a split, merge, create or retire waiting for preview and save
    let selected = [];
    let asOf = "";
    let preview = null;
    const fetchLatest = latestJSON();
    const planner = (state.planner = { preview: null, saved: null, handles: 0 });

    // -- the side panel --
    const table = el("tbody");
    const pending = el("span", { id: "gg-pending" }, "0");
    const what = el("span", { id: "gg-pending-what" });
    const previewBtn = el("button", { type: "button", id: "gg-preview-btn", disabled: "disabled" }, "预览 preview");
    const save = el("button", { type: "button", id: "gg-save", disabled: "disabled" }, "保存 save");
    const discardBtn = el("button", { type: "button", id: "gg-discard", disabled: "disabled" }, "放弃 discard");
    const result = el("div", { id: "gg-preview", class: "gg-preview" });
    const chosen = el("span", { id: "gg-selected" }, "—");
    const nameInput = el("input", { id: "gg-name", maxlength: "100", placeholder: "新网格名称 new grid name" });
    const take = el("input", { type: "checkbox", id: "gg-take" });
    const asOfInput = el("input", { type: "date", id: "gg-asof", "aria-label": "as of date" });
    const tool = (id, label, fn) => el("button", { type: "button", id, onclick: fn }, label);
    const side = el("aside", { class: "gg-panel gg-planner", id: "gg-planner" },
      el("h2", {}, "网格 grids"),
      el("p", { class: "gg-note" }, `放大到 ${EDIT_ZOOM} 级以上可编辑；拖动顶点（共用顶点同时移动相邻网格）— zoom to ${EDIT_ZOOM}+ and drag a vertex: a shared vertex moves every grid that has it`),
      el("label", {}, "查看日期 as of ", asOfInput),
      el("div", { class: "gg-tools" }, "选中 selected: ", chosen, el("br"),
        tool("gg-tool-split", "切分 split", () => startDraw("Line")),
        tool("gg-tool-merge", "合并 merge", merge),
        tool("gg-tool-create", "新建 create", () => startDraw("Polygon")),
        tool("gg-tool-retire", "撤销 retire → 并入 into", retire),
        el("br"), nameInput, el("label", {}, take, " 从相邻网格划入 take from neighbours")),
      el("div", { class: "gg-edit" }, "待保存 pending: ", pending, " ", what, el("br"), previewBtn, " ", save, " ", discardBtn),
      result,
      el("table", { class: "gg-grid-table" }, el("thead", {}, el("tr", {}, el("th", {}, "编码 code"), el("th", {}, "名称 name"), el("th", {}, "面积 m²"), el("th", {}, "户 households"), el("th", {}, "版本 v"))), table));
    L.DomEvent.disableClickPropagation(side);
    L.DomEvent.disableScrollPropagation(side);
    map.getContainer().append(side);

    // -- the grids, loaded with their full boundaries (editing needs them, never simplified) --
    const problems = L.geoJSON(null, { pmIgnore: true, interactive: false, style: { color: "#d50000", weight: 3, fillColor: "#ff1744", fillOpacity: 0.45 } }).addTo(map);
    const handles = L.layerGroup([], { pmIgnore: true }).addTo(map);
    const gridStyle = (f) => Object.assign(pathStyle(grids, f.properties), {
      color: selected.includes(f.properties.code) ? "#ff6f00" : "#1565c0", weight: selected.includes(f.properties.code) ? 3 : 1.5, fillOpacity: 0.25,
    });
    const group = L.geoJSON(null, {
      style: gridStyle,
      onEachFeature: (f, lyr) => {
        loaded.set(f.properties.code, { feature: f, layer: lyr });
        lyr.bindTooltip(`${f.properties.code} ${f.properties.name}`, { permanent: map.getZoom() >= 17, direction: "center", className: "gg-code" });
        lyr.on("click", () => {
          if (map.pm.globalDrawModeEnabled()) return; // a click of the line or polygon being drawn
          if (asOf) showHistory(f.properties.code, lyr);
          else toggle(f.properties.code);
        });
        lyr.on("pm:edit", () => {
          changed.set(f.properties.code, lyr.toGeoJSON().geometry);
          pendingChanged();
        });
      },
    });

    function etagOf(code) {
      const got = loaded.get(code);
      return got ? `"${code}.v${got.feature.properties.version}"` : null;
    }

    async function load() {
      if (map.getZoom() < EDIT_ZOOM) {
        group.clearLayers();
        handles.clearLayers();
        loaded.clear();
        table.replaceChildren();
        state.drawn.grids = 0;
        return;
      }
      if (hasPending()) return; // never throw away what the planner is editing
      const params = { bbox: bboxOf(map), overflow: "aggregate" };
      if (asOf) params.at = asOf;
      const data = await fetchLatest(withQuery(grids.links.geojson, params));
      if (!data) return;
      if (data.problem) return notice(`${grids.title}: ${data.problem.title} — ${data.problem.detail || ""}`);
      if (data.aggregated) return notice("视图内网格太多，请放大 — too many grids in view, zoom in");
      group.clearLayers();
      loaded.clear();
      group.addData(data);
      selected = selected.filter((c) => loaded.has(c));
      showSelected();
      state.drawn.grids = data.features.length;
      mark("grids");
      table.replaceChildren(...data.features.map((f) =>
        el("tr", {}, el("td", {}, f.properties.code), el("td", {}, f.properties.name),
          el("td", {}, Math.round(f.properties.area_m2).toLocaleString()), el("td", {}, String(f.properties.households)),
          el("td", {}, String(f.properties.version)))));
      buildHandles();
    }

    // -- shared vertices: one draggable handle per distinct vertex --
    const key = (ll) => `${ll.lng.toFixed(10)},${ll.lat.toFixed(10)}`;
    function walk(latlngs, path, visit) {
      latlngs.forEach((item, i) => (Array.isArray(item) ? walk(item, path.concat(i), visit) : visit(item, path.concat(i))));
    }
    function setAt(latlngs, path, value) {
      let node = latlngs;
      path.slice(0, -1).forEach((i) => (node = node[i]));
      node[path[path.length - 1]] = value;
    }
    function buildHandles() {
      handles.clearLayers();
      planner.handles = 0;
      if (asOf || map.getZoom() < EDIT_ZOOM || map.pm.globalEditModeEnabled()) return;
      const vertices = new Map();
      group.eachLayer((lyr) => walk(lyr.getLatLngs(), [], (ll, path) => {
        const k = key(ll);
        if (!vertices.has(k)) vertices.set(k, { latlng: ll, refs: [] });
        vertices.get(k).refs.push({ lyr, path });
      }));
      if (vertices.size > MAX_HANDLES) return notice("顶点太多，请放大后拖动 — zoom in to drag vertices");
      vertices.forEach((v, k) => {
        const shared = new Set(v.refs.map((r) => r.lyr)).size > 1;
        const handle = L.marker(v.latlng, {
          draggable: true, pmIgnore: true, keyboard: false, zIndexOffset: shared ? 1000 : 500,
          icon: L.divIcon({ className: shared ? "gg-vertex gg-shared" : "gg-vertex", iconSize: shared ? [14, 14] : [10, 10] }),
          title: shared ? "共用顶点 shared vertex" : "顶点 vertex",
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
          if (other || changed.size) discard(false);
          const to = handle.getLatLng();
          moves.set(k, { from, to: [to.lng, to.lat] });
          v.refs.forEach((r) => r.lyr.setStyle({ color: "#e53935", weight: 2 }));
          pendingChanged();
          runPreview();
        });
        handles.addLayer(handle);
      });
      planner.handles = vertices.size;
    }

    // -- selection and the other edits --
    function showSelected() {
      chosen.textContent = selected.length ? selected.join(", ") : "—";
      group.setStyle(gridStyle);
    }
    function toggle(code) {
      selected = selected.includes(code) ? selected.filter((c) => c !== code) : selected.concat(code);
      showSelected();
    }
    function startDraw(shape) {
      if (asOf) return notice("历史视图不能编辑 — clear the date to edit");
      if (shape === "Line" && selected.length !== 1) return notice("先点选一个要切分的网格 — select the one grid to split first");
      map.pm.enableDraw(shape, { snappable: true, snapDistance: 15 });
    }
    map.on("pm:create", (e) => {
      const geometry = e.layer.toGeoJSON().geometry;
      map.removeLayer(e.layer);
      if (e.shape === "Line") {
        if (selected.length !== 1) return notice("先点选一个要切分的网格 — select the one grid to split first");
        setOther({ op: "split", grid: selected[0], line: geometry }, `切分 split ${selected[0]}`);
      } else if (e.shape === "Polygon" || e.shape === "Rectangle") {
        const centre = e.layer.getBounds().getCenter();
        const host = [...loaded.values()].find((g) => g.layer.getBounds().contains(centre)) || loaded.get(selected[0]);
        if (!host) return notice("新网格须画在已加载的社区内 — draw the new grid inside a community in view");
        setOther({ op: "create", community: host.feature.properties.community_code, geometry,
          name: nameInput.value.trim() || "新网格", take_from_neighbours: take.checked }, "新建 create");
      }
    });
    function merge() {
      if (selected.length < 2) return notice("点选两个以上相邻网格 — select two or more adjacent grids");
      setOther(Object.assign({ op: "merge", grids: selected.slice() }, nameInput.value.trim() ? { name: nameInput.value.trim() } : {}),
        `合并 merge ${selected.join(" + ")}`);
    }
    function retire() {
      if (selected.length !== 2) return notice("先点选要撤销的网格，再点选并入的相邻网格 — select the grid to retire, then the neighbour taking its area");
      setOther({ op: "retire", grid: selected[0], into: selected[1] }, `撤销 retire ${selected[0]} → ${selected[1]}`);
    }
    function setOther(body, label) {
      if (moves.size || changed.size) discard(false);
      other = { body, label };
      pendingChanged();
      runPreview();
    }

    // -- the edit as the API wants it --
    const hasPending = () => Boolean(moves.size || changed.size || other);
    function editBody() {
      if (other) return other.body;
      if (moves.size) return { op: "move_vertices", moves: [...moves.values()] };
      if (changed.size) {
        return { op: "reshape", take_from_neighbours: take.checked,
          grids: [...changed.entries()].map(([code, geometry]) => ({ code, geometry })) };
      }
      return null;
    }
    function pendingChanged() {
      const n = other ? 1 : moves.size || changed.size;
      pending.textContent = String(n);
      what.textContent = other ? other.label : moves.size ? `移动顶点 move ${moves.size} vertex(es)` : changed.size ? `改形 reshape ${[...changed.keys()].join(", ")}` : "";
      previewBtn.disabled = discardBtn.disabled = !n;
      save.disabled = true;
      preview = planner.preview = null;
    }
    function discard(reload = true) {
      moves.clear();
      changed.clear();
      other = null;
      problems.clearLayers();
      result.replaceChildren();
      pendingChanged();
      if (reload) load();
    }

    async function post(url, body, ifMatch) {
      const headers = { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": config.csrf };
      if (ifMatch) headers["If-Match"] = ifMatch;
      const response = await fetch(url, { method: "POST", credentials: "same-origin", headers, body: JSON.stringify(body) });
      return { status: response.status, body: await response.json().catch(() => null) };
    }

    async function runPreview() {
      const body = editBody();
      if (!body) return;
      result.replaceChildren(el("p", { class: "gg-note" }, "预览中… previewing…"));
      const answer = await post(api.preview, body);
      if (JSON.stringify(editBody()) !== JSON.stringify(body)) return; // edited meanwhile: a newer preview follows
      problems.clearLayers();
      if (answer.status === 200 && answer.body.valid) {
        preview = planner.preview = answer.body;
        save.disabled = false;
        result.replaceChildren(impactView(answer.body));
      } else if (answer.status === 200) {
        preview = planner.preview = null;
        save.disabled = true;
        result.replaceChildren(problemView(Object.assign({ problems: answer.body.errors }, answer.body)));
      } else {
        preview = planner.preview = null;
        save.disabled = true;
        result.replaceChildren(problemView(answer.body || { title: `HTTP ${answer.status}` }));
      }
    }

    function impactView(p) {
      const codes = (list) => list.map((g) => `${g.code} v${g.version}`).join(", ") || "—";
      const rows = [
        ["关闭 closes", codes(p.closed)], ["新开 opens", codes(p.opened)], ["撤销 retires", p.retired.join(", ") || "—"],
        ["楼栋 buildings moved", `${p.impact.buildings.moved} (${p.impact.buildings.households} 户 households)`],
        ["在办事件 open events moved", String(p.impact.open_events.moved)],
        ["包片 contracts flagged", String(p.impact.contracts.filter((c) => c.action === "flagged").length)],
      ];
      const moveList = p.impact.buildings.moves.concat(p.impact.open_events.moves).map((m) =>
        el("li", {}, `${m.from || "—"} → ${m.to || "—"}: ${m.buildings !== undefined ? `${m.buildings} 栋 ${m.households} 户` : `${m.events} 件事件 events`}`));
      return el("div", { class: "gg-ok" },
        el("b", {}, "预览 preview — 无拓扑问题 no gap, no overlap"),
        el("table", { class: "gg-props" }, ...rows.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v)))),
        el("ul", { class: "gg-moves" }, ...moveList),
        ...(p.warnings.length ? [el("p", { class: "gg-note" }, "提示 warnings:"), el("ul", {}, ...p.warnings.map((w) => el("li", {}, w.detail)))] : []));
    }

    function problemView(problem) {
      const list = problem.problems || [];
      list.filter((x) => x.where).forEach((x) => problems.addData({ type: "Feature", properties: {}, geometry: x.where }));
      return el("div", { class: "gg-bad", role: "alert" },
        el("b", {}, `${problem.title || "错误 error"}`),
        el("p", {}, list.length ? "" : problem.detail || ""),
        el("ul", {}, ...list.map((x) => el("li", { "data-rule": x.rule }, x.detail))),
        problem.status === 412 ? el("button", { type: "button", onclick: () => discard(true) }, "重新加载 reload") : "");
    }

    previewBtn.addEventListener("click", runPreview);
    discardBtn.addEventListener("click", () => discard(true));
    save.addEventListener("click", async () => {
      const body = editBody();
      if (!body || !preview) return;
      save.disabled = true;
      // The versions this page loaded: if someone changed one since, the server answers 412.
      const tags = preview.closed.map((g) => etagOf(g.code) || `"${g.code}.v${g.version}"`);
      const answer = await post(api.save, body, tags.join(", "));
      if (answer.status === 201) {
        planner.saved = answer.body;
        notice(`已保存 saved: edit #${answer.body.edit.id} — ${answer.body.opened.map((g) => `${g.code} v${g.version}`).join(", ")}`, 8000);
        discard(true);
        overview.redraw(); // the server's tile cache forgot these grids when they changed
      } else {
        result.replaceChildren(problemView(answer.body || { title: `HTTP ${answer.status}` }));
        if (answer.status === 412) notice("网格已被他人修改，请重新加载 — someone changed these grids meanwhile; reload", 10000);
      }
    });

    // -- history: the grids as they were on a date, and each grid's versions --
    asOfInput.addEventListener("change", () => {
      if (hasPending()) discard(false);
      asOf = asOfInput.value;
      if (asOf) map.pm.disableGlobalEditMode();
      load();
    });
    async function showHistory(code, lyr) {
      const data = await getJSON(`/api/v1/grids/${encodeURIComponent(code)}/history?geometry=false`);
      if (data.problem) return notice(data.problem.detail || data.problem.title);
      const rows = data.versions.map((v) => `<tr><td>v${v.version}</td><td>${escapeHtml(v.valid_from || "—")}</td><td>${escapeHtml(v.valid_to || "now")}</td><td>${Math.round(v.area_m2)}</td></tr>`).join("");
      lyr.bindPopup(`<b>${escapeHtml(code)} ${escapeHtml(data.name)}</b><table class="gg-props">${rows}</table>`).openPopup();
    }

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
    map.on("pm:globaleditmodetoggled", buildHandles);
    overview.addTo(map);
    mode();
    map.pm.addControls({ position: "topleft", drawMarker: false, drawCircleMarker: false, drawPolyline: false, drawCircle: false,
      drawText: false, cutPolygon: false, rotateMode: false, dragMode: false, removalMode: false });
    map.pm.setGlobalOptions({ snappable: true, snapDistance: 10, allowSelfIntersection: false });
    const bases = basemapLayers(config);
    Object.values(bases).forEach((b) => b.addTo(map));
    const overlays = {};
    config.layers.filter((l) => ["districts", "streets", "communities"].includes(l.name)).forEach((l) => {
      overlays[l.title] = bboxLayer(map, l, { notice, readOnly: true });
    });
    L.control.layers(bases, overlays, { collapsed: true }).addTo(map);
    userBar(map, config);
    gridgov.edits = changed;
    gridgov.moves = moves;
    gridgov.map = map;
  };
})();
