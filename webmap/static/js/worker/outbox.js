/* The outbox: every report is kept on the phone first and sent from here, in order, when there
 * is a network. Each item carries its Idempotency-Key from the moment it is made, so a report
 * whose answer was lost is replayed, not duplicated; photos go after their event, one by one,
 * and the server stores a photo once per event whatever the retries (same SHA-256).
 *
 * States: queued → sending → photos → (removed once delivered). A refusal by the server (a 4xx
 * other than sign-in or rate limits) is kept on the item as "refused" with the server's problem,
 * for editing or discarding; nothing is ever dropped without the worker saying so. */

import * as store from "./store.js";

const RETRYABLE = new Set([408, 425, 429]);
const idempotencyKey = () => (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`);

// A report (POST to the events API) or a move on a known case (POST to its moves API), with photos.
function makeItem(user, body, photos, move = null) {
  return { key: idempotencyKey(), user, created: Date.now(), body, photos, kind: move ? "move" : "report",
           url: move ? move.url : null, eventId: move ? move.eventId : null, moveId: null, sent: [], state: "queued", problem: null };
}

// What happened to one request: "ok" (with the body), "refused" (with the problem), "signin", or "later".
async function send(url, init) {
  let response;
  try {
    response = await fetch(url, Object.assign({ credentials: "same-origin" }, init));
  } catch {
    return { outcome: "later" };  // no network, or the connection dropped: try again later
  }
  const body = await response.json().catch(() => null);
  if (response.ok) return { outcome: "ok", body };
  if (response.status === 401 || (response.status === 403 && body && /csrf/i.test(`${body.title} ${body.detail}`))) {
    return { outcome: "signin", problem: body };
  }
  if (response.status >= 500 || RETRYABLE.has(response.status)) return { outcome: "later", problem: body };
  return { outcome: "refused", problem: body || { title: `HTTP ${response.status}`, detail: "" } };
}

// Whether the report or move itself has reached the server (what is left are its photos).
const delivered = (item) => (item.kind === "move" ? item.moveId !== null : item.eventId !== null);

export function outbox({ reportUrl, attachmentsUrl, csrf, user, onChange, onDelivered }) {
  let flushing = null;

  async function change() {
    const items = await store.all();
    onChange(items);
    return items;
  }

  async function deliver(item) {
    const headers = { "X-CSRF-Token": csrf, Accept: "application/json" };
    if (!delivered(item)) {
      item.state = "sending";
      await store.put(item);
      await change();
      const r = await send(item.kind === "move" ? item.url : reportUrl, {
        method: "POST", body: JSON.stringify(item.body),
        headers: Object.assign({ "Content-Type": "application/json", "Idempotency-Key": item.key }, headers),
      });
      if (r.outcome !== "ok") return r;
      if (item.kind === "move") {
        item.moveId = r.body.move.id;
        item.answer = { id: item.eventId, move: r.body.move.move };
        item.result = r.body;  // the case as it now stands, for the case page to redraw without a reload
      } else {
        item.eventId = r.body.id;
        item.answer = { id: r.body.id, grid: r.body.assignment && r.body.assignment.grid ? r.body.assignment.grid.code : null,
                        duplicates: (r.body.duplicates || []).map((d) => d.id) };
      }
      item.state = "photos";
      await store.put(item);
    }
    for (let i = 0; i < item.photos.length; i += 1) {
      if (item.sent.includes(i)) continue;
      item.state = "photos";
      await change();
      const form = new FormData();
      const photo = item.photos[i];
      form.append("file", photo.blob, photo.name || `photo-${i + 1}.jpg`);
      if (item.moveId) form.append("move_id", String(item.moveId));  // a move's photos belong to that move
      const r = await send(attachmentsUrl(item.eventId), { method: "POST", body: form, headers });
      if (r.outcome !== "ok") return r;
      item.sent.push(i);
      await store.put(item);
    }
    return { outcome: "ok" };
  }

  async function flushOnce() {
    for (const item of await store.all()) {
      if (item.user !== user || item.state === "refused") continue;
      const r = await deliver(item);
      if (r.outcome === "ok") {
        await store.remove(item.key);
        onDelivered(item);
      } else if (r.outcome === "refused") {
        Object.assign(item, { state: "refused", problem: r.problem });
        await store.put(item);
      } else {
        // Signed out, or no network: this item and those after it wait (they go in order).
        item.state = r.outcome === "signin" ? "signin" : delivered(item) ? "photos" : "queued";
        await store.put(item);
        await change();
        return r.outcome;
      }
    }
    await change();
    return "done";
  }

  // One flush at a time in this page, and one across the phone's open tabs (Web Locks).
  function flush() {
    if (!flushing) {
      const run = () => flushOnce().finally(() => { flushing = null; });
      flushing = navigator.locks ? navigator.locks.request("gridgov-outbox", run) : run();
    }
    return flushing;
  }

  return {
    flush,
    refresh: change,
    async add(body, photos, move = null) {
      const item = makeItem(user, body, photos, move);
      await store.put(item);
      await change();
      return item;
    },
    async resend(key) {
      const item = (await store.all()).find((it) => it.key === key);
      if (!item) return;
      Object.assign(item, { state: delivered(item) ? "photos" : "queued", problem: null });
      await store.put(item);
      return flush();
    },
    async take(key) {  // for editing: the item leaves the outbox and goes back into the form
      const item = (await store.all()).find((it) => it.key === key);
      if (item) await store.remove(item.key);
      await change();
      return item;
    },
    async discard(key) {
      await store.remove(key);
      return change();
    },
  };
}
