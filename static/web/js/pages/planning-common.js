/* global L */
// Shared by the planners' pages (/urbanisme/): their strings (a JSON block the server translated),
// JSON data blocks, the project's perimeter drawn as an outline, and leaflet-geoman's set-up.
import { lang, translator } from "../i18n.js";

/** A planning string in the page's language; [singular, plural] pairs are chosen by count. */
export const tp = translator("planning-i18n");

export { readJson, showJsOnly as revealJsOnly } from "../dom.js";

export function drawingAvailable() {
  return typeof window.L !== "undefined" && typeof window.L.PM !== "undefined";
}

// The perimeter: an orange dashed outline, never editable nor clickable (not a drawing).
const OUTLINE = { color: "#c2410c", weight: 3, opacity: 1, fill: false, dashArray: "6 4", interactive: false, pmIgnore: true };

export function perimeterOutline(map, geojson) {
  if (!geojson) return null;
  const layer = L.geoJSON(geojson, { style: () => OUTLINE, pmIgnore: true, interactive: false }).addTo(map);
  const bounds = layer.getBounds();
  if (bounds.isValid()) map.fitBounds(bounds, { padding: [20, 20] });
  return layer;
}

/** The geoman toolbar with the tools asked for, in the page's language. */
export function geomanControls(map, tools) {
  map.pm.setLang(lang().startsWith("en") ? "en" : "fr");
  const all = {
    drawMarker: false,
    drawCircleMarker: false,
    drawPolyline: false,
    drawRectangle: false,
    drawPolygon: false,
    drawCircle: false,
    drawText: false,
    editMode: false,
    dragMode: false,
    cutPolygon: false,
    removalMode: false,
    rotateMode: false,
  };
  map.pm.addControls({ position: "topleft", ...all, ...tools });
  // The toolbar's buttons are links without text: give each the name its tooltip shows.
  for (const button of map.getContainer().querySelectorAll(".leaflet-pm-toolbar .button-container")) {
    const link = button.querySelector("a.leaflet-buttons-control-button");
    const title = button.getAttribute("title") || button.title;
    if (link && title) {
      link.setAttribute("aria-label", title);
      link.setAttribute("role", "button");
    }
  }
}

/** The polygons drawn with geoman on the map, as one GeoJSON MultiPolygon (or null). */
export function drawnMultiPolygon(map) {
  const polygons = [];
  for (const layer of map.pm.getGeomanLayers()) {
    if (!(layer instanceof L.Polygon)) continue;
    const geometry = layer.toGeoJSON(15).geometry;
    if (geometry.type === "Polygon") polygons.push(geometry.coordinates);
    else if (geometry.type === "MultiPolygon") polygons.push(...geometry.coordinates);
  }
  return polygons.length ? { type: "MultiPolygon", coordinates: polygons } : null;
}

/** A GeoJSON text (geometry, Feature or FeatureCollection) as Leaflet layers, or null when unreadable. */
export function parseGeoJson(text) {
  if (!text || !text.trim()) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
