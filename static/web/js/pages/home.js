// Home: the territory's map with the public reports (vector tiles), filtered like the list below it.
import { createMap, mapsAvailable, reportsLayer } from "../maps.js";

const element = document.getElementById("home-map");
if (element && mapsAvailable()) {
  const map = createMap(element);
  reportsLayer(map, { category: element.dataset.category, status: element.dataset.status });
}
