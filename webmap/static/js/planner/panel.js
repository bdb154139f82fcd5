/* The planner's side panel: the as-of date, the edit tools, the pending edit with its preview,
 * the note saying why (required to save), save and discard buttons, the server's answer, and the table of the grids in view. */

import { el } from "../core.js";
import { fieldName, t } from "../i18n.js";

// `onTool(name)` is called with split, merge, create or retire when its button is pressed.
export function plannerPanel(map, editZoom, onTool) {
  const ui = {
    table: el("tbody"),
    pending: el("span", { id: "gg-pending" }, "0"),
    what: el("span", { id: "gg-pending-what" }),
    previewBtn: el("button", { type: "button", id: "gg-preview-btn", disabled: "disabled" }, t("planner.preview")),
    save: el("button", { type: "button", id: "gg-save", disabled: "disabled" }, t("action.save")),
    discardBtn: el("button", { type: "button", id: "gg-discard", disabled: "disabled" }, t("planner.discard")),
    result: el("div", { id: "gg-preview", class: "gg-preview" }),
    chosen: el("span", { id: "gg-selected" }, "—"),
    nameInput: el("input", { id: "gg-name", maxlength: "100", placeholder: t("planner.new_name") }),
    take: el("input", { type: "checkbox", id: "gg-take" }),
    asOfInput: el("input", { type: "date", id: "gg-asof", "aria-label": t("planner.as_of") }),
    note: el("textarea", { id: "gg-note", rows: "2", maxlength: "2000", required: "required", placeholder: t("planner.note_placeholder") }),
  };
  const tool = (id, label, name) => el("button", { type: "button", id, onclick: () => onTool(name) }, label);
  const side = el("aside", { class: "gg-panel gg-planner", id: "gg-planner" },
    el("h2", {}, t("planner.grids")),
    el("p", { class: "gg-note" }, t("planner.hint", { zoom: editZoom })),
    el("label", {}, `${t("planner.as_of")} `, ui.asOfInput),
    el("div", { class: "gg-tools" }, t("planner.selected"), ui.chosen, el("br"),
      tool("gg-tool-split", t("planner.split"), "split"),
      tool("gg-tool-merge", t("planner.merge"), "merge"),
      tool("gg-tool-create", t("planner.create"), "create"),
      tool("gg-tool-retire", t("planner.retire"), "retire"),
      el("br"), ui.nameInput, el("label", {}, ui.take, ` ${t("planner.take")}`)),
    el("div", { class: "gg-edit" }, t("planner.pending"), ui.pending, " ", ui.what, el("br"),
      el("label", { for: "gg-note" }, t("planner.note")), el("br"), ui.note, el("br"), ui.previewBtn, " ", ui.save, " ", ui.discardBtn),
    ui.result,
    el("table", { class: "gg-grid-table" }, el("thead", {}, el("tr", {}, el("th", {}, fieldName("code")), el("th", {}, fieldName("name")), el("th", {}, t("planner.column.area")),
      el("th", {}, fieldName("households")), el("th", {}, t("planner.column.version")))), ui.table));
  L.DomEvent.disableClickPropagation(side);
  L.DomEvent.disableScrollPropagation(side);
  map.getContainer().append(side);
  return ui;
}
