/* global L */
// The list of projects: their perimeters on a map (the list below says the same without a map).
import { t } from "../i18n.js";
import { createMap, mapsAvailable } from "../maps.js";
import { fitTo, readJson } from "./project-map.js";

const OPEN = { color: "#1d4f91", weight: 3, fillColor: "#1d4f91", fillOpacity: 0.35 };
const OTHER = { color: "#4a4a4a", weight: 3, dashArray: "6 5", fillColor: "#4a4a4a", fillOpacity: 0.05 };

const element = document.getElementById("projects-map");
const data = readJson("projects-data");
if (element && data && mapsAvailable()) {
  const map = createMap(element);
  const layer = L.geoJSON(data, {
    style: (feature) => (feature.properties.contributions_open ? OPEN : OTHER),
    onEachFeature: (feature, path) => {
      path.bindPopup(() => {
        const properties = feature.properties;
        const content = document.createElement("div");
        content.className = "map-popup";
        const link = document.createElement("a");
        link.href = properties.url;
        link.textContent = t("openProject", { title: properties.title });
        const title = document.createElement("p");
        title.append(link);
        content.append(title);
        if (properties.current_phase) {
          const phase = document.createElement("p");
          phase.className = "small";
          phase.textContent = t("currentPhase", { phase: properties.current_phase.title });
          content.append(phase);
        }
        return content;
      });
    },
  }).addTo(map);
  fitTo(map, layer, 16);
}
