/* The case page (/cases/<id>): each move's form goes to the case's moves API through the phone's
 * outbox (worker/outbox.js) — with an Idempotency-Key, its photos after it as attachments of the
 * move — so a move made without a network waits on the phone and is sent once when it returns.
 * Online, the page reloads with the new state, or shows the API's problem (its title is in the
 * reader's language already; data-failed says it when the answer is not one). section.moves carries
 * the URL, the CSRF token and who is signed in (webmap/templates/case_panel.html). */

import { label, setMessages, t } from "./i18n.js";
import { outbox as makeOutbox } from "./worker/outbox.js";
import { renderOutbox } from "./worker/sheet.js";

const moves = document.querySelector("section.moves");
const panel = document.querySelector("main.case-panel");
if (panel) document.documentElement.lang = panel.dataset.lang;  // the page is in the reader's language

if (moves) {
  const { url, csrf, failed, user, event } = moves.dataset;
  const config = JSON.parse(document.getElementById("case-config").textContent);
  setMessages(config.messages, config.lang, config.time_zone);
  const error = document.getElementById("move-error");
  const box = document.getElementById("case-outbox");
  const showProblem = (problem) => {
    error.textContent = problem ? (problem.title || failed) + (problem.detail ? ": " + problem.detail : "") : "";
  };
  const outbox = makeOutbox({
    reportUrl: "/api/v1/events", attachmentsUrl: (id) => `/api/v1/events/${encodeURIComponent(id)}/attachments`,
    csrf, user,
    onChange: (items) => renderOutbox(box, items.filter((it) => it.kind === "move" && String(it.eventId) === event), user,
      { resend: (k) => outbox.resend(k), edit: () => null, discard: (k) => outbox.discard(k) }),
    onDelivered: (item) => { if (String(item.eventId) === event) window.location.reload(); },
  });

  document.querySelectorAll("form.move").forEach((form) => {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = { move: form.dataset.move };
      const photos = [];
      new FormData(form).forEach((value, key) => {
        if (value instanceof File) {
          if (value.size) photos.push({ name: value.name, type: value.type, blob: value.slice(0, value.size, value.type) });
          return;
        }
        if (value === "") return;
        body[key] = key === "extra_hours" || key === "target" ? Number(value) : value;
      });
      showProblem(null);
      const item = await outbox.add(body, photos, { url, eventId: Number(event) });
      const outcome = await outbox.flush();
      const left = (await outbox.refresh()).find((it) => it.key === item.key);
      if (left && left.state === "refused") {
        showProblem(left.problem);
        await outbox.discard(left.key);  // a refused move is not kept: the form is still filled in, to fix and send
      } else if (outcome !== "done") {
        error.textContent = t("worker.queued") + ` (${label("move", body.move)})`;
      }
    });
  });
  window.addEventListener("online", () => outbox.flush());
  outbox.flush();
}
