/* global L */
// The perimeter of a project (create and edit pages): drawn with leaflet-geoman, written into the
// GeoJSON field the form sends. Without scripts (or without a map) the field is pasted by hand, or
// a file is sent: the server reads all three the same way.
import { createMap, mapsAvailable } from "../maps.js";
import { drawingAvailable, drawnMultiPolygon, geomanControls, parseGeoJson, readJson, revealJsOnly, tp } from "./planning-common.js";

const element = document.getElementById("perimeter-map");
const field = document.querySelector("[data-perimeter-field]");
const status = document.getElementById("perimeter-status");

function say(text) {
  if (status) status.textContent = text;
}

function load(map, geojson) {
  let added = 0;
  try {
    L.geoJSON(geojson).eachLayer((layer) => {
      if (layer instanceof L.Polygon) {
        // Re-created as plain polygons so that each is a geoman layer of its own (edit, move, remove).
        L.polygon(layer.getLatLngs()).addTo(map);
        added += 1;
      }
    });
  } catch {
    return 0;
  }
  const layers = map.pm.getGeomanLayers().filter((layer) => layer instanceof L.Polygon);
  if (layers.length) {
    const bounds = L.featureGroup(layers).getBounds();
    if (bounds.isValid()) map.fitBounds(bounds, { padding: [20, 20] });
  }
  return added;
}

function sync(map) {
  const geometry = drawnMultiPolygon(map);
  field.value = geometry ? JSON.stringify(geometry) : "";
  say(geometry ? tp("perimeterDrawn", { count: geometry.coordinates.length }) : tp("perimeterCleared"));
}

if (element && field && mapsAvailable() && drawingAvailable()) {
  revealJsOnly(element.closest("fieldset"));
  const map = createMap(element);
  geomanControls(map, { drawPolygon: true, drawRectangle: true, editMode: true, dragMode: true, removalMode: true });
  const posted = parseGeoJson(field.value);
  load(map, posted || readJson("perimeter-initial"));
  const watch = (layer) => layer.on("pm:edit pm:dragend pm:markerdragend pm:vertexremoved", () => sync(map));
  for (const layer of map.pm.getGeomanLayers()) watch(layer);
  map.on("pm:create", (event) => {
    watch(event.layer);
    sync(map);
  });
  map.on("pm:remove", () => sync(map));
  // A GeoJSON pasted by hand is drawn too (it is checked by the server when the form is sent).
  field.addEventListener("change", () => {
    const pasted = parseGeoJson(field.value);
    if (!pasted) {
      if (field.value.trim()) say(tp("geojsonUnreadable"));
      return;
    }
    for (const layer of map.pm.getGeomanLayers()) map.removeLayer(layer);
    const added = load(map, pasted);
    for (const layer of map.pm.getGeomanLayers()) watch(layer);
    say(added ? tp("perimeterDrawn", { count: added }) : tp("geojsonUnreadable"));
  });
}
