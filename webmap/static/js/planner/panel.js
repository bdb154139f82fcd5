/* The planner's side panel: the as-of date, the edit tools, the pending edit with its preview,
 * save and discard buttons, the server's answer, and the table of the grids in view. */

import { el } from "../core.js";

// `onTool(name)` is called with split, merge, create or retire when its button is pressed.
export function plannerPanel(map, editZoom, onTool) {
  const ui = {
    table: el("tbody"),
    pending: el("span", { id: "gg-pending" }, "0"),
    what: el("span", { id: "gg-pending-what" }),
    previewBtn: el("button", { type: "button", id: "gg-preview-btn", disabled: "disabled" }, "预览 preview"),
    save: el("button", { type: "button", id: "gg-save", disabled: "disabled" }, "保存 save"),
    discardBtn: el("button", { type: "button", id: "gg-discard", disabled: "disabled" }, "放弃 discard"),
    result: el("div", { id: "gg-preview", class: "gg-preview" }),
    chosen: el("span", { id: "gg-selected" }, "—"),
    nameInput: el("input", { id: "gg-name", maxlength: "100", placeholder: "新网格名称 new grid name" }),
    take: el("input", { type: "checkbox", id: "gg-take" }),
    asOfInput: el("input", { type: "date", id: "gg-asof", "aria-label": "as of date" }),
  };
  const tool = (id, label, name) => el("button", { type: "button", id, onclick: () => onTool(name) }, label);
  const side = el("aside", { class: "gg-panel gg-planner", id: "gg-planner" },
    el("h2", {}, "网格 grids"),
    el("p", { class: "gg-note" }, `放大到 ${editZoom} 级以上可编辑；拖动顶点（共用顶点同时移动相邻网格）— zoom to ${editZoom}+ and drag a vertex: a shared vertex moves every grid that has it`),
    el("label", {}, "查看日期 as of ", ui.asOfInput),
    el("div", { class: "gg-tools" }, "选中 selected: ", ui.chosen, el("br"),
      tool("gg-tool-split", "切分 split", "split"),
      tool("gg-tool-merge", "合并 merge", "merge"),
      tool("gg-tool-create", "新建 create", "create"),
      tool("gg-tool-retire", "撤销 retire → 并入 into", "retire"),
      el("br"), ui.nameInput, el("label", {}, ui.take, " 从相邻网格划入 take from neighbours")),
    el("div", { class: "gg-edit" }, "待保存 pending: ", ui.pending, " ", ui.what, el("br"), ui.previewBtn, " ", ui.save, " ", ui.discardBtn),
    ui.result,
    el("table", { class: "gg-grid-table" }, el("thead", {}, el("tr", {}, el("th", {}, "编码 code"), el("th", {}, "名称 name"), el("th", {}, "面积 m²"), el("th", {}, "户 households"), el("th", {}, "版本 v"))), ui.table));
  L.DomEvent.disableClickPropagation(side);
  L.DomEvent.disableScrollPropagation(side);
  map.getContainer().append(side);
  return ui;
}
