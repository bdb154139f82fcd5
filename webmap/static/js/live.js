/* Live updates from the server-sent event stream, with polling when the server turns the
 * stream away; state.live and state.polling say which is running. */

import { t } from "./i18n.js";
import { state } from "./state.js";

// A browser without EventSource, or one the server turned away (503 when every stream slot of
// its process is taken: EventSource then gives up for good), polls with handlers.reload every
// `pollSeconds` and asks for a stream again later.
export function liveStream(url, handlers, pollSeconds) {
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
    if (line) line.textContent = t("map.live.busy", { s: pollSeconds || 30 });
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
