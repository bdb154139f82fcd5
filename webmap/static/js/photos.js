/* An event's photos as a strip of thumbnails linking to the originals, with their flags in words
 * (taken far away, before the report, without a time); filled from /api/v1/events/{id}/attachments. */

import { el, getJSON } from "./core.js";
import { t } from "./i18n.js";

function flagText(photo, flag) {
  const d = photo.distance_m || 0;
  if (flag === "far") return d >= 1000 ? t("photo.far_km", { km: (d / 1000).toFixed(1) }) : t("photo.far_m", { m: Math.round(d) });
  if (flag === "old") return t("photo.flag.old");
  if (flag === "future") return t("photo.flag.future");
  return t("photo.flag.no_exif_time");
}

export function photoStrip(eventId) {
  const strip = el("div", { class: "gg-photos", "data-event": eventId });
  getJSON(`/api/v1/events/${encodeURIComponent(eventId)}/attachments`).then((data) => {
    if (!data || data.problem) return;
    const photos = data.attachments || [];
    strip.replaceChildren(...photos.map((p) => el("a", { href: p.original_url, target: "_blank", rel: "noopener", title: t("photo.open") },
      el("img", { src: p.thumb_url, alt: t("photo.title"), loading: "lazy" }),
      ...(p.flags || []).map((f) => el("small", { class: "gg-flag" }, flagText(p, f))))));
  });
  return strip;
}
