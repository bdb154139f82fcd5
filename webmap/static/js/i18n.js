/* The message catalog on the page: the server sends the texts of the page's language in
 * config.messages (webmap/catalog.py); t(key, values) returns one with {name} filled in.
 * A key the catalog lacks shows a neutral dash, never the key itself (tests/webmap/test_catalog.py
 * checks every key used here exists). */

import { gridgov } from "./state.js";

let texts = {};

export function setMessages(messages, lang, timeZone) {
  texts = messages || {};
  gridgov.lang = lang || "zh";
  gridgov.timeZone = timeZone || "Asia/Shanghai";
  document.documentElement.lang = gridgov.lang === "en" ? "en" : "zh-CN";
}

export function t(key, values) {
  const text = texts[key];
  if (text === undefined) {
    (gridgov.missingMessages = gridgov.missingMessages || []).push(key);
    return "—";
  }
  return values ? text.replace(/\{(\w+)\}/g, (m, name) => (name in values ? String(values[name]) : m)) : text;
}

// The catalog's text for a value the data names (a status, a move), or the value itself when there is none.
export function label(prefix, value) {
  return texts[`${prefix}.${value}`] ?? String(value ?? "—");
}

// A moment (ms or Date) as people here read it: the district's zone (config.time_zone), 24-hour clock.
export function localTime(moment, withDate = true) {
  const opts = { timeZone: gridgov.timeZone, hour12: false, hour: "2-digit", minute: "2-digit" };
  if (withDate) Object.assign(opts, { month: "numeric", day: "numeric" });
  return new Date(moment).toLocaleString(gridgov.lang === "en" ? "en-GB" : "zh-CN", opts);
}
