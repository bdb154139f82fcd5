/* The residents' report page (/report): a place by GPS or a tap, a kind of problem, a description,
 * one photo and an optional contact, sent as a GeoReport v2 request (multipart, `media`); the
 * tracking numbers this phone received are kept in localStorage under "my reports". No account. */

import { el, groupBy } from "./core.js";
import { setMessages, t } from "./i18n.js";

const MINE_KEY = "gridgov.myReports";
const config = JSON.parse(document.getElementById("gg-config").textContent);
setMessages(config.messages, config.lang, config.time_zone);

const mine = () => { try { return JSON.parse(localStorage.getItem(MINE_KEY) || "[]"); } catch { return []; } };

function drawMine(box) {
  const items = mine();
  box.replaceChildren(el("h2", {}, t("resident.mine")), items.length
    ? el("ul", {}, ...items.map((it) => el("li", {}, el("a", { href: `/report/${encodeURIComponent(it.id)}` }, `#${it.id}`), ` · ${it.what}`)))
    : el("p", { class: "gg-note" }, t("resident.mine_none")));
}

function page(root) {
  const here = { point: null, marker: null };
  const status = el("p", { class: "gg-note", id: "gg-place", role: "status" }, t("resident.tap_map"));
  const gps = el("button", { type: "button", id: "gg-resident-gps" }, t("resident.use_gps"));
  const mapBox = el("div", { id: "gg-resident-map", class: "gg-resident-map" });
  const service = el("select", { name: "service_code", id: "gg-service", required: "required", "aria-label": t("resident.what") },
    el("option", { value: "" }, t("resident.what_choose")),
    ...groupBy(config.services, (s) => s.group).map(([group, items]) =>
      el("optgroup", { label: group }, ...items.map((s) => el("option", { value: s.service_code }, s.service_name)))));
  const description = el("textarea", { name: "description", rows: "3", required: "required", maxlength: "2000", placeholder: t("resident.description_placeholder") });
  const media = el("input", { type: "file", name: "media", accept: "image/*", capture: "environment" });
  const name = el("input", { name: "first_name", autocomplete: "name", maxlength: "60" });
  const phone = el("input", { name: "phone", type: "tel", autocomplete: "tel", maxlength: "30" });
  const submit = el("button", { type: "submit", id: "gg-resident-submit" }, t("resident.submit"));
  const answer = el("p", { id: "gg-answer", role: "alert" });
  const form = el("form", { id: "gg-resident-form", class: "gg-report" },
    el("h2", {}, t("resident.where")), el("div", { class: "gg-row" }, gps, status), mapBox,
    el("label", {}, t("resident.what"), service), el("label", {}, t("resident.description"), description),
    el("label", {}, t("resident.photo"), media),
    el("fieldset", {}, el("legend", {}, t("resident.contact")), el("label", {}, t("resident.name"), name), el("label", {}, t("resident.phone"), phone)),
    submit, answer);
  const mineBox = el("section", { id: "gg-mine-reports" });
  root.append(form, mineBox);
  drawMine(mineBox);

  const map = L.map(mapBox, { zoomControl: true }).fitBounds(config.bounds || [[30, 120], [30.1, 120.1]]);
  L.control.scale({ imperial: false }).addTo(map);
  if (config.areas) {
    fetch(config.areas).then((r) => (r.ok ? r.json() : null)).then((data) => {
      if (data) L.geoJSON(data, { style: { color: "#607d8b", weight: 1, fill: false } }).addTo(map);
    }).catch(() => null);
  }
  function place(lat, lon, accuracy) {
    here.point = { lat, lon };
    if (here.marker) map.removeLayer(here.marker);
    here.marker = L.circleMarker([lat, lon], { radius: 9, color: "#d32f2f", fillOpacity: 0.8 }).addTo(map);
    status.textContent = accuracy ? t("resident.placed", { n: Math.round(accuracy) }) : t("resident.placed_tap");
  }
  map.on("click", (e) => place(e.latlng.lat, e.latlng.lng, null));
  gps.addEventListener("click", () => navigator.geolocation && navigator.geolocation.getCurrentPosition((pos) => {
    place(pos.coords.latitude, pos.coords.longitude, pos.coords.accuracy);
    map.setView([pos.coords.latitude, pos.coords.longitude], 17);
  }, () => { status.textContent = t("resident.tap_map"); }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 0 }));

  // One key per report, kept across retries of the same report: a lost answer is not a second case.
  let key = crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!here.point) return (answer.textContent = t("resident.need_place"));
    if (!service.value || !description.value.trim()) return (answer.textContent = t("resident.need_what"));
    const body = new FormData();
    body.append("service_code", service.value);
    body.append("lat", here.point.lat.toFixed(7));
    body.append("long", here.point.lon.toFixed(7));
    body.append("description", description.value.trim());
    if (name.value.trim()) body.append("first_name", name.value.trim());
    if (phone.value.trim()) body.append("phone", phone.value.trim());
    if (media.files[0]) body.append("media", media.files[0]);
    submit.disabled = true;
    answer.textContent = t("resident.sending");
    let response;
    try {
      const headers = { Accept: "application/json", "Idempotency-Key": key };
      if (config.csrf) headers["X-CSRF-Token"] = config.csrf;
      response = await fetch(config.endpoints.report, { method: "POST", body, headers });
    } catch {
      submit.disabled = false;
      return (answer.textContent = t("resident.offline"));
    }
    const data = await response.json().catch(() => null);
    submit.disabled = false;
    if (!response.ok) {
      const p = data || {};
      return (answer.textContent = t("resident.failed", { title: p.title || response.status, detail: p.detail || "" }));
    }
    const id = data[0].service_request_id;
    const what = service.options[service.selectedIndex].textContent;
    localStorage.setItem(MINE_KEY, JSON.stringify([{ id, what, at: Date.now() }, ...mine()].slice(0, 50)));
    answer.textContent = t("resident.thanks", { id });
    key = crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
    form.reset();
    drawMine(mineBox);
  });
}

page(document.getElementById("gg-resident"));
