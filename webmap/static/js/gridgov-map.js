/* gridgov map pages: the command center, the grid worker's page and the planner's page.
 * The entry module. Folium creates the Leaflet map, then the page's script imports this module
 * and calls <page>(map, config) (webmap/app.py); config comes from the layer registry
 * (layers/registry.py) via api/pages.py. Everything is fetched from this server. The entries
 * are on window.gridgov too, beside what the page has drawn (state.js). */

import { basemap } from "./basemap.js";
import { command as commandPage } from "./command.js";
import { setMessages } from "./i18n.js";
import { planner as plannerPage } from "./planner/page.js";
import { gridgov } from "./state.js";
import { worker as workerPage } from "./worker.js";

// Each page first takes the texts of its language (config.messages, from webmap/catalog.py), and
// the basemap under everything it draws (basemap.js; the page's layer control finds config.bases).
const withMessages = (page) => (map, config) => {
  setMessages(config.messages, config.lang, config.time_zone);
  basemap(map, config);
  return page(map, config);
};
export const command = withMessages(commandPage);
export const worker = withMessages(workerPage);
export const planner = withMessages(plannerPage);

Object.assign(gridgov, { command, worker, planner });
