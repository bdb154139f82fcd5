/* gridgov's service worker, served as /sw.js: the grid worker's page works without a network.
 *   the page itself, /cases pages: network first, the kept copy when offline;
 *   /static/ (our scripts, styles, Leaflet): the kept copy first, refreshed in the background;
 *   the worker's data (/layers/*.geojson, /api/v1/events…, /api/v1/attachments…) and the basemap's tiles
 *   seen online (/tiles/roads|water/…, basemap.js): network first.
 * Writes (POST…) never pass through a cache: the page's outbox (worker/outbox.js) sends them.
 * The cache's name carries the server's asset version, so a new release drops the old copies. */

const VERSION = new URL(self.location.href).searchParams.get("v") || "0";
const CACHE = `gridgov-${VERSION}`;
const PAGES = /^\/(map\/worker|cases)(\/|$)/;
const DATA = /^\/(layers\/[\w-]+\.geojson|tiles\/(roads|water)\/|api\/v1\/(events|attachments|me))/;
const NEVER = /^\/api\/v1\/(stream|locate)/;

self.addEventListener("install", () => self.skipWaiting());

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name.startsWith("gridgov-") && name !== CACHE) await caches.delete(name);
    await self.clients.claim();
  })());
});

self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.type === "keep") {
    // Tell the page how many of the URLs are now kept: it then says it works offline.
    event.waitUntil(caches.open(CACHE).then((cache) => Promise.all((data.urls || []).map((url) =>
      cache.match(url).then((hit) => hit || fetch(url, { credentials: "same-origin" })
        .then((r) => (r.ok && !r.redirected ? cache.put(url, r).then(() => true) : false)))
        .catch(() => false))))
      .then((kept) => event.source && event.source.postMessage({ type: "kept", kept: kept.filter(Boolean).length, of: kept.length })));
  } else if (data.type === "forget") {
    event.waitUntil(caches.delete(CACHE));
  }
});

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok && !response.redirected) await cache.put(request, response.clone());
    return response;
  } catch (e) {
    const kept = await cache.match(request, { ignoreVary: true });
    if (kept) return kept;
    if (request.mode === "navigate") {
      const page = await cache.match("/map/worker");
      if (page) return page;
    }
    throw e;
  }
}

async function keptFirst(request, event) {
  const cache = await caches.open(CACHE);
  const kept = await cache.match(request);
  const fresh = fetch(request).then((r) => (r.ok ? cache.put(request, r.clone()).then(() => r) : r));
  if (kept) {
    event.waitUntil(fresh.catch(() => null));
    return kept;
  }
  return fresh;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || NEVER.test(url.pathname)) return;
  if (url.pathname.startsWith("/static/")) event.respondWith(keptFirst(request, event));
  else if (PAGES.test(url.pathname) || DATA.test(url.pathname)) event.respondWith(networkFirst(request));
});
