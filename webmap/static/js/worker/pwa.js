/* Installs the service worker (/sw.js?v=…, webmap/static/js/sw.js) and hands it the URLs this page
 * has loaded — page, scripts, styles, the worker's grids and cases — so the next start works
 * without a network even though the first load happened before the worker was in control. */

import { state } from "../state.js";

export async function installOffline(url, onKept) {
  if (!url || !("serviceWorker" in navigator)) return null;
  navigator.serviceWorker.addEventListener("message", (event) => {
    if (event.data && event.data.type === "kept") {
      state.offline = { kept: event.data.kept, of: event.data.of };
      if (onKept) onKept(event.data);
    }
  });
  try {
    const registration = await navigator.serviceWorker.register(url, { scope: "/" });
    const ready = await navigator.serviceWorker.ready;
    const urls = [location.pathname, ...performance.getEntriesByType("resource").map((r) => r.name)]
      .filter((u) => new URL(u, location.href).origin === location.origin);
    (ready.active || registration.active).postMessage({ type: "keep", urls });
    return registration;
  } catch {
    return null;  // a browser that refuses service workers still reports online
  }
}

// Asks the service worker to keep a response it has not seen (data the page fetched itself).
export function keep(urls) {
  if (navigator.serviceWorker && navigator.serviceWorker.controller) {
    navigator.serviceWorker.controller.postMessage({ type: "keep", urls });
  }
}

// Signing out forgets what was kept for this worker on the phone (not the outbox: its reports wait for them).
export async function forgetKept() {
  if (navigator.serviceWorker && navigator.serviceWorker.controller) {
    navigator.serviceWorker.controller.postMessage({ type: "forget" });
  }
}
