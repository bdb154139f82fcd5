/* The report form: category (picker.js), title, description, photos from the camera, and — only
 * for coordinates typed or pasted — their coordinate system; GPS and taps are WGS84. */

import { el } from "../core.js";
import { t } from "../i18n.js";
import { icon } from "./icons.js";
import { categoryPicker, remember } from "./picker.js";

const CRS = ["wgs84", "gcj02", "bd09", "cgcs2000"];

function typedCoordinates(onTyped) {
  const text = el("input", { name: "coords", inputmode: "decimal", placeholder: t("worker.coords_placeholder"), "aria-label": t("worker.enter_coords") });
  const crs = el("select", { name: "crs", "aria-label": t("worker.coords_crs") }, ...CRS.map((c) => el("option", { value: c }, t(`worker.crs.${c}`))));
  const go = el("button", { type: "button", class: "gg-secondary" }, t("worker.coords_go"));
  const error = el("p", { class: "gg-note", hidden: "hidden" }, t("worker.coords_bad"));
  go.addEventListener("click", () => {
    const nums = (text.value.match(/-?\d+(\.\d+)?/g) || []).map(Number);
    error.hidden = nums.length === 2;
    if (nums.length === 2) onTyped(nums[0], nums[1], crs.value);
  });
  return el("details", { class: "gg-typed" }, el("summary", {}, t("worker.enter_coords")), text, crs, go, error);
}

export function reportForm(config, { onTyped }) {
  const picker = categoryPicker(config.categories || []);
  const title = el("input", { name: "title", maxlength: "200", placeholder: t("worker.title_placeholder"), "aria-label": t("worker.title_placeholder") });
  const description = el("textarea", { name: "description", rows: "2", placeholder: t("worker.description_placeholder"), "aria-label": t("worker.description_placeholder") });
  const files = el("input", { type: "file", name: "photos", accept: "image/*", capture: "environment", multiple: "multiple", id: "gg-photos", class: "gg-hidden-input" });
  const photoButton = el("label", { for: "gg-photos", class: "gg-secondary gg-tap", id: "gg-photo-button" }, icon("camera"), t("worker.photos"));
  const previews = el("div", { class: "gg-previews", id: "gg-previews" });
  const submit = el("button", { type: "submit", class: "gg-primary", id: "gg-submit" }, icon("send"), t("worker.submit"));
  const node = el("form", { class: "gg-report", id: "gg-report" }, el("h2", {}, t("worker.report")), picker.node, title, description,
    el("div", { class: "gg-row" }, photoButton, files, previews), typedCoordinates(onTyped), submit);
  if (!config.endpoints.report) {
    submit.disabled = true;
    node.append(el("p", { class: "gg-note" }, t("worker.not_available")));
  }
  let photos = [];

  function drawPreviews() {
    previews.replaceChildren(...photos.map((p, i) => {
      const img = el("img", { src: URL.createObjectURL(p.blob), alt: p.name, class: "gg-thumb" });
      img.addEventListener("load", () => URL.revokeObjectURL(img.src));
      return el("button", { type: "button", class: "gg-photo", title: t("worker.photo_remove"), "aria-label": t("worker.photo_remove"),
        onclick: () => { photos.splice(i, 1); drawPreviews(); } }, img);
    }), photos.length ? el("span", { class: "gg-count" }, t("worker.photos_count", { n: photos.length })) : "");
  }

  files.addEventListener("change", () => {
    // Blobs copied out of the input: the outbox keeps them in IndexedDB after the page is gone.
    photos = photos.concat([...files.files].map((f) => ({ name: f.name, type: f.type, blob: f.slice(0, f.size, f.type) })));
    files.value = "";
    drawPreviews();
  });

  const api = {
    node,
    onSubmit(handler) {
      node.addEventListener("submit", (e) => {
        e.preventDefault();
        if (!picker.input.value) return alertFirst(picker.node, t("worker.category_required"));
        if (!title.value.trim()) return alertFirst(title, t("worker.title_required"));
        remember(picker.input.value);
        return handler({ category: picker.input.value, title: title.value.trim(), description: description.value }, photos.slice());
      });
    },
    reset() {
      node.reset();
      picker.choose("");
      photos = [];
      drawPreviews();
    },
    fill(item) {
      picker.choose(item.body.category);
      title.value = item.body.title || "";
      description.value = item.body.description || "";
      photos = item.photos.slice();
      drawPreviews();
    },
  };
  return api;
}

function alertFirst(target, text) {
  const note = el("p", { class: "gg-note gg-warning", role: "alert" }, text);
  target.after(note);
  setTimeout(() => note.remove(), 4000);
  if (target.focus) target.focus();
}
