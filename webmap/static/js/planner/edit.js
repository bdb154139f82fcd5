/* The planner's pending edit: dragged vertices, grids reshaped with Geoman, or one split,
 * merge, create or retire; only one kind at a time, as the grid edit API takes it. */

import { t } from "../i18n.js";

export class PendingEdit {
  constructor() {
    this.moves = new Map(); // vertex key -> { from: [lng, lat], to: [lng, lat] }
    this.changed = new Map(); // code -> GeoJSON geometry (reshaped with Geoman)
    this.other = null; // { body, label }: a split, merge, create or retire
  }

  any() {
    return Boolean(this.moves.size || this.changed.size || this.other);
  }

  // How many changes wait: 1 for a split, merge, create or retire.
  count() {
    return this.other ? 1 : this.moves.size || this.changed.size;
  }

  label() {
    if (this.other) return this.other.label;
    if (this.moves.size) return t("planner.edit.moves", { n: this.moves.size });
    return this.changed.size ? t("planner.edit.reshape", { grids: [...this.changed.keys()].join(", ") }) : "";
  }

  // The edit as the API wants it, or null when nothing waits.
  body(takeFromNeighbours) {
    if (this.other) return this.other.body;
    if (this.moves.size) return { op: "move_vertices", moves: [...this.moves.values()] };
    if (this.changed.size) {
      return { op: "reshape", take_from_neighbours: takeFromNeighbours,
        grids: [...this.changed.entries()].map(([code, geometry]) => ({ code, geometry })) };
    }
    return null;
  }

  clear() {
    this.moves.clear();
    this.changed.clear();
    this.other = null;
  }
}
