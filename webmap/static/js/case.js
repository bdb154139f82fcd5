/* The case page (/cases/<id>): each move's form goes to the case's moves API through the phone's
 * outbox (worker/outbox.js) — with an Idempotency-Key, its photos after it as attachments of the
 * move — so a move made without a network waits on the phone and is sent once when it returns.
 * Once delivered, the page redraws the status, the timeline and the moves from the API's answer
 * (no reload); a refusal shows the API's problem (its title is in the reader's language already;
 * data-failed says it when the answer is not one). After a move the forms are drawn again from
 * config.forms, the most likely next move first and prominent; reject and merge ask for a second click.
 * section.moves carries the URL, the CSRF token and who is signed in (case_panel.html). */

import { label, localDateTime, setMessages, t } from "./i18n.js";
import { outbox as makeOutbox } from "./worker/outbox.js";
import { renderOutbox } from "./worker/sheet.js";

const moves = document.querySelector("section.moves");
const panel = document.querySelector("main.case-panel");
if (panel) document.documentElement.lang = panel.dataset.lang;  // the page is in the reader's language

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([k, v]) => v !== null && v !== undefined && v !== false && node.setAttribute(k, v === true ? "" : v));
  children.flat().forEach((c) => node.append(c instanceof Node ? c : document.createTextNode(c ?? "")));
  return node;
}

// The allowed moves, the likeliest first (config.likely by status), then the rest in the API's order.
function ranked(allowed, status, likely) {
  const first = (likely[status] || []).find((m) => allowed.includes(m));
  return first ? [first, ...allowed.filter((m) => m !== first)] : [...allowed];
}

function field(x, handlers) {
  let input;
  if (x.kind === "file") input = el("input", { name: x.name, type: "file", accept: "image/*", capture: "environment", multiple: true });
  else if (x.kind === "handler") {
    input = el("select", { name: x.name }, el("option", { value: "" }, t("case.handler_auto")),
      handlers.map((h) => el("option", { value: h }, h)));
  } else {
    const step = x.kind === "number" && x.name === "extra_hours";
    input = el("input", { name: x.name, type: x.kind, step: step ? "0.5" : null, min: step ? "0.5" : null, required: x.required });
  }
  return el("label", {}, t(x.label), input);
}

function timelineItem(s) {
  const who = s.actor ? s.actor.display_name || s.actor.name : t(s.move === "report" ? "case.outside_source" : "case.system");
  const change = [];
  if (s.from_status !== s.to_status) change.push(`${label("status", s.from_status)} → ${label("status", s.to_status)}`);
  if (s.from_level && s.to_level && s.from_level !== s.to_level) change.push(`${label("level", s.from_level)} → ${label("level", s.to_level)}`);
  const li = el("li", { "data-move": s.move }, el("time", {}, localDateTime(s.at)), " ", el("b", {}, label("move", s.move)), ` ${who}`,
    s.handler ? ` → ${s.handler}` : "", " ", el("span", { class: "change" }, change.join(" ")));
  if (s.note) li.append(el("q", {}, s.note));
  if (s.photo_ref) li.append(" ", s.photo_ref.startsWith("/") && !s.photo_ref.startsWith("//")
    ? el("a", { href: s.photo_ref }, t("case.photo")) : el("span", { class: "photo" }, `${t("case.photo")}: ${s.photo_ref}`));
  return li;
}

// The case as the moves (or timeline) API answered: status, level, deadline, handler, timeline, moves.
function redraw(payload, drawForms) {
  const c = payload.case;
  const status = document.getElementById("case-status");
  status.dataset.status = c.status;
  status.textContent = label("status", c.status);
  let overdue = document.getElementById("case-overdue");
  if (!overdue && c.overdue) {
    overdue = el("span", { class: "badge overdue", id: "case-overdue" }, t("status.overdue"));
    status.after(overdue);
  }
  if (overdue) overdue.hidden = !c.overdue;
  document.getElementById("case-level").textContent = t("case.level", { level: label("level", c.level) });
  document.getElementById("case-deadline").textContent = c.deadline_at ? localDateTime(c.deadline_at) : "—";
  document.getElementById("case-handler").textContent = c.handler || "—";
  const owner = c.owner_department, proposed = c.proposed_owner;
  document.getElementById("case-owner").textContent = owner ? `${owner.name} ${owner.code}` : "—";
  document.getElementById("case-proposed").textContent = proposed ? `${proposed.name} ${proposed.code}` : "—";
  const left = document.getElementById("case-hours-left");
  if (left && (c.work_hours_left === null || c.work_hours_left === undefined)) left.hidden = true;
  else if (left) left.textContent = c.work_hours_left < 0 ? t("case.hours_over", { n: -c.work_hours_left }) : t("case.hours_left", { n: c.work_hours_left });
  document.getElementById("timeline").replaceChildren(...[...payload.timeline].reverse().map(timelineItem));
  drawForms(payload.allowed_moves, c.status);
}

if (moves) {
  const { url, csrf, failed, user, event } = moves.dataset;
  const config = JSON.parse(document.getElementById("case-config").textContent);
  setMessages(config.messages, config.lang, config.time_zone);
  const error = document.getElementById("move-error");
  const box = document.getElementById("case-outbox");
  const formsBox = document.getElementById("move-forms");
  const showProblem = (problem) => {
    error.textContent = problem ? (problem.title || failed) + (problem.detail ? ": " + problem.detail : "") : "";
  };
  const outbox = makeOutbox({
    reportUrl: "/api/v1/events", attachmentsUrl: (id) => `/api/v1/events/${encodeURIComponent(id)}/attachments`,
    csrf, user,
    onChange: (items) => {
      // Only this case's waiting moves, and nothing at all when none wait.
      const mine = items.filter((it) => it.kind === "move" && String(it.eventId) === event);
      if (!mine.length) return box.replaceChildren();
      return renderOutbox(box, mine, user, { resend: (k) => outbox.resend(k), edit: () => null, discard: (k) => outbox.discard(k) });
    },
    onDelivered: async (item) => {
      if (String(item.eventId) !== event) return;
      error.textContent = "";
      // The moves API's answer; a move whose photos followed it asks again for the case as it is now.
      let payload = item.result;
      if (!payload || item.photos.length) {
        const r = await fetch(`/api/v1/events/${encodeURIComponent(event)}/timeline`, { credentials: "same-origin", headers: { Accept: "application/json" } });
        payload = r.ok ? await r.json() : payload;
      }
      if (payload) redraw(payload, drawForms);
    },
  });

  async function submit(form) {
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
  }

  // Reject and merge end the report: the first click asks, the second sends.
  function bind(form) {
    const move = form.dataset.move;
    const button = form.querySelector("button[type=submit]");
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (config.confirm.includes(move) && form.dataset.confirming !== "yes") {
        form.dataset.confirming = "yes";
        button.textContent = t("case.confirm", { move: label("move", move) });
        return;
      }
      delete form.dataset.confirming;
      button.textContent = label("move", move);
      submit(form);
    });
    return form;
  }

  // After a move: the forms of the moves allowed now, drawn as the server draws them (case_panel.html).
  function drawForms(allowed, status) {
    const order = ranked(allowed, status, config.likely);
    formsBox.replaceChildren(...order.map((move, i) => bind(el("form", { class: i === 0 ? "move primary" : "move minor", "data-move": move },
      (config.forms[move] || []).map((x) => field(x, config.handlers)),
      el("button", { type: "submit", name: "move", value: move }, label("move", move))))));
    moves.querySelector("h2").hidden = order.length === 0;
  }

  formsBox.querySelectorAll("form.move").forEach(bind);
  window.addEventListener("online", () => outbox.flush());
  outbox.flush();
}
