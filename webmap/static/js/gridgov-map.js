/* gridgov map pages: the command center, the grid worker's page and the planner's page.
 * The entry module. Folium creates the Leaflet map, then the page's script imports this module
 * and calls <page>(map, config) (webmap/app.py); config comes from the layer registry
 * (layers/registry.py) via api/pages.py. Everything is fetched from this server. The entries
 * are on window.gridgov too, beside what the page has drawn (state.js). */

import { command } from "./command.js";
import { planner } from "./planner/page.js";
import { gridgov } from "./state.js";
import { worker } from "./worker.js";

export { command, planner, worker };

Object.assign(gridgov, { command, worker, planner });
