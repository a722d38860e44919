// A project's page: the perimeter, the contributions, and the layer switcher (checkboxes outside the
// map, each layer's legend under its name; every change is announced in words).
import { t } from "../i18n.js";
import { createMap, mapsAvailable } from "../maps.js";
import { contributionsLayer, fitTo, perimeterLayer, planningLayer, readJson, say, showJsOnly } from "./project-map.js";

const element = document.getElementById("project-map");
const data = readJson("project-data");
if (element && data && mapsAvailable()) {
  showJsOnly();
  const map = createMap(element);
  // Planning layers under the contributions, above the basemap.
  map.createPane("planning").style.zIndex = 350;
  const perimeter = perimeterLayer(data.perimeter).addTo(map);
  fitTo(map, perimeter);
  contributionsLayer(data.contributions, data.contributionUrl).addTo(map);

  const shown = new Map();
  for (const input of document.querySelectorAll("input[data-layer]")) {
    const layer = data.layers.find((item) => item.slug === input.dataset.layer);
    if (!layer) continue; // an image still being prepared: nothing to show yet
    input.hidden = false;
    input.checked = false;
    input.addEventListener("change", () => {
      if (input.checked) {
        if (!shown.has(layer.slug)) shown.set(layer.slug, planningLayer(layer, { pane: "planning" }));
        shown.get(layer.slug).addTo(map);
        say("layer-status", t("layerShown", { name: layer.name }));
      } else {
        const drawn = shown.get(layer.slug);
        if (drawn) map.removeLayer(drawn);
        say("layer-status", t("layerHidden", { name: layer.name }));
      }
    });
  }
}
