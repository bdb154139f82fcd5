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

// A moment as the pages write it in full, in the district's zone: 2026-12-03 15:11 (as the server's pages do).
export function localDateTime(moment) {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: gridgov.timeZone, hourCycle: "h23", year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit" }).formatToParts(new Date(moment));
  const get = (type) => parts.find((p) => p.type === type).value;
  return `${get("year")}-${get("month")}-${get("day")} ${get("hour")}:${get("minute")}`;
}

// A number as the reader's language writes it (at most one decimal).
export function number(n) {
  return Number(n).toLocaleString(gridgov.lang === "en" ? "en" : "zh-CN", { maximumFractionDigits: 1 });
}

// A layer's name in the reader's language (layer.<name>), else the registry's title.
export function layerTitle(layer) {
  return texts[`layer.${layer.name}`] ?? layer.title;
}

// A feature property's name (field.<key>), and its value as a person reads it: statuses, levels and
// yes/no from the catalog, areas and counts rounded in metric units, times to the minute.
export function fieldName(key) {
  return texts[`field.${key}`] ?? key;
}

export function fieldValue(key, value) {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "boolean") return value ? t("value.yes") : t("value.no");
  if (key === "status") return label("status", value);
  if (key === "level") return label("level", value);
  if (key === "assign_status") return label("assign", value);
  if (key === "area_m2") return t("unit.m2", { n: number(Math.round(value)) });
  if (key === "households") return t("unit.households", { n: number(value) });
  if (key === "population") return t("unit.people", { n: number(value) });
  if (key === "floors") return t("unit.floors", { n: number(value) });
  if (typeof value === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d.*(Z|[+-]\d\d:?\d\d)$/.test(value)) return localDateTime(value);  // the district's zone
  if (typeof value === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(value)) return value.slice(0, 16).replace("T", " ");
  if (typeof value === "number") return number(value);
  return String(value);
}

// The district's calendar day of a moment, as YYYY-MM-DD ("today" is the district's day, not the browser's).
export function localDay(moment = Date.now()) {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: gridgov.timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(new Date(moment));
  const get = (type) => parts.find((p) => p.type === type).value;
  return `${get("year")}-${get("month")}-${get("day")}`;
}

// The district's midnight starting `day` (YYYY-MM-DD) as an ISO time with the zone's offset then.
export function localMidnight(day) {
  const noon = new Date(`${day}T12:00:00Z`);
  const name = new Intl.DateTimeFormat("en-US", { timeZone: gridgov.timeZone, timeZoneName: "longOffset" }).formatToParts(noon)
    .find((p) => p.type === "timeZoneName").value;  // "GMT+08:00", or "GMT" for UTC
  const offset = name === "GMT" ? "+00:00" : name.slice(3);
  return `${day}T00:00:00${offset}`;
}
