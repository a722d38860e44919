/* global L */
// The staff queue: the same tickets as a list or on a map (clusters), one button to switch.
import { t } from "../i18n.js";
import { createMap, mapsAvailable } from "../maps.js";

const list = document.getElementById("queue-list");
const mapElement = document.getElementById("queue-map");
const showList = document.getElementById("show-list");
const showMap = document.getElementById("show-map");
const features = JSON.parse(document.getElementById("queue-features").textContent);
let map = null;

function drawMap() {
  map = createMap(mapElement);
  const clusters = L.markerClusterGroup({ showCoverageOnHover: false, maxClusterRadius: 50 });
  const markers = features.map((item) => {
    const label = `${item.reference} · ${item.category} · ${item.state}${item.overdue ? ` · ${t("overdue")}` : ""}`;
    const marker = L.marker([item.lat, item.lon], { title: label, alt: label, keyboard: true });
    const link = document.createElement("a");
    link.href = item.url;
    link.textContent = t("ticketLink", { reference: item.reference });
    const text = document.createElement("p");
    text.textContent = label;
    const content = document.createElement("div");
    content.append(text, link);
    marker.bindPopup(content);
    return marker;
  });
  clusters.addLayers(markers);
  map.addLayer(clusters);
  if (markers.length) map.fitBounds(clusters.getBounds(), { maxZoom: 17, padding: [20, 20] });
}

function show(which) {
  const mapShown = which === "map";
  mapElement.hidden = !mapShown;
  list.hidden = mapShown;
  showMap.setAttribute("aria-pressed", String(mapShown));
  showList.setAttribute("aria-pressed", String(!mapShown));
  if (mapShown) {
    if (!map) drawMap();
    else map.invalidateSize();
  }
}

if (mapsAvailable() && showList && showMap) {
  document.querySelector(".view-switch").hidden = false;
  showList.addEventListener("click", () => show("list"));
  showMap.addEventListener("click", () => show("map"));
}
