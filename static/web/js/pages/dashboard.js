// Organisation dashboard: the density of reports as the public reports' vector tiles, fitted to the
// organisation's territory (the map config's bounds). The table of counts by zone is the map's
// alternative, rendered on the server.
import { createMap, mapsAvailable, reportsLayer } from "../maps.js";

const element = document.getElementById("dashboard-map");
if (element && mapsAvailable()) {
  const map = createMap(element);
  reportsLayer(map);
}
