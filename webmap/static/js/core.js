/* Shared helpers of the map pages: DOM building, HTML escaping, the message bar, and fetching
 * JSON from this server (problems resolve to {problem}, never throw). */

import { fieldName, fieldValue, t } from "./i18n.js";
import { state } from "./state.js";

export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([k, v]) => {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined) node.setAttribute(k, v);
  });
  children.flat().forEach((c) => node.append(c instanceof Node ? c : document.createTextNode(c ?? "")));
  return node;
}

export function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

// A feature's properties as a popup shows them, a labelled card: the layer, then the feature's own name
// (title or name, with its code), then each other field by its catalog name, its value labelled and in
// units. Fields the card already says (the name, the code, the category's code beside its name, `open`
// beside the status) are not repeated.
const SAID = new Set(["title", "name", "code", "open"]);

export function propsTable(props, title) {
  const name = props.title || props.name;
  const code = props.code;
  const skip = new Set([...SAID, ...(props.category_name ? ["category"] : [])]);
  const rows = Object.entries(props)
    .filter(([k, v]) => v !== null && v !== "" && !skip.has(k))
    .map(([k, v]) => `<tr><th>${escapeHtml(fieldName(k))}</th><td>${escapeHtml(fieldValue(k, k === "category_name" && props.category ? `${v} (${props.category})` : v))}</td></tr>`)
    .join("");
  const head = name || code ? `<div class="gg-card-name">${escapeHtml(name || "")}${code ? ` <small>${escapeHtml(code)}</small>` : ""}</div>` : "";
  return (title ? `<b>${escapeHtml(title)}</b>` : "") + head + `<table class="gg-props">${rows}</table>`;
}

// A message bar at the bottom of the map: problems are shown to people, never thrown.
export function notifier(map) {
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
export async function getJSON(url, options) {
  const response = await fetch(url, Object.assign({ credentials: "same-origin", headers: { Accept: "application/json" } }, options));
  const body = await response.json().catch(() => null);
  if (!response.ok) return { problem: body || { title: t("map.http_status", { status: response.status }), detail: url } };
  return body;
}

// POST JSON with the page's CSRF token (and If-Match when given); resolves to {status, body}.
export async function postJSON(url, body, csrf, ifMatch) {
  const headers = { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf };
  if (ifMatch) headers["If-Match"] = ifMatch;
  const response = await fetch(url, { method: "POST", credentials: "same-origin", headers, body: JSON.stringify(body) });
  return { status: response.status, body: await response.json().catch(() => null) };
}

// For requests where only the newest answer counts (the map moved again before the last one
// came back): each call aborts the one before. Resolves to the body, or undefined when aborted
// or failed (failures are noted in state.errors).
export function latestJSON() {
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

export function bboxOf(map) {
  const b = map.getBounds();
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  return [clamp(b.getWest(), -180, 180), clamp(b.getSouth(), -90, 90), clamp(b.getEast(), -180, 180), clamp(b.getNorth(), -90, 90)]
    .map((v) => v.toFixed(6))
    .join(",");
}

export function withQuery(url, params) {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== null && v !== undefined && v !== ""));
  const s = q.toString();
  return s ? `${url}${url.includes("?") ? "&" : "?"}${s}` : url;
}

export function groupBy(items, key) {
  const out = new Map();
  items.forEach((it) => {
    const k = key(it);
    if (!out.has(k)) out.set(k, []);
    out.get(k).push(it);
  });
  return [...out.entries()];
}
