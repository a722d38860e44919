/* global L */
// Shared map helpers of the pages (citizens, field services, and next the project pages):
// a Leaflet map from the settings' basemap (the only third-party host, possibly none), the reports'
// vector tiles, a draggable pin that also moves with the keyboard, markers with clusters.
import { t } from "./i18n.js";

export function readConfig() {
  const element = document.getElementById("map-config");
  return element ? JSON.parse(element.textContent) : {};
}

export function iconsUrl() {
  return document.body.dataset.icons || "";
}

export function mapsAvailable() {
  return typeof window.L !== "undefined";
}

export function createMap(element, { center = null, zoom = null } = {}) {
  const config = readConfig();
  const map = L.map(element, {
    minZoom: config.minZoom,
    maxZoom: config.maxZoom,
    keyboard: true,
    zoomSnap: 1,
  });
  map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
  if (config.basemap && config.basemap.url) {
    L.tileLayer(config.basemap.url, {
      attribution: config.basemap.attribution,
      maxZoom: config.maxZoom,
    }).addTo(map);
  }
  if (center) {
    map.setView(center, zoom ?? 17);
  } else if (config.bounds) {
    map.fitBounds(config.bounds);
  } else {
    map.setView(config.center, config.zoom);
  }
  return map;
}

const PIN_SVG =
  '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false">' +
  '<path d="M12 22s7-7.2 7-12.5A7 7 0 0 0 5 9.5C5 14.8 12 22 12 22z" fill="#b3261e" stroke="#ffffff" stroke-width="1.5"/>' +
  '<circle cx="12" cy="9.5" r="2.5" fill="#ffffff"/></svg>';

export function pinIcon() {
  return L.divIcon({ className: "pin-icon", html: PIN_SVG, iconSize: [40, 40], iconAnchor: [20, 38] });
}

const ARROWS = { ArrowUp: [0, -1], ArrowDown: [0, 1], ArrowLeft: [-1, 0], ArrowRight: [1, 0] };

/** A draggable pin; arrow keys move it by 10 pixels when it has the focus (Shift: 1 pixel). */
export function pinMarker(latlng, { onMove = () => {}, draggable = true, label = t("pinLabel") } = {}) {
  const marker = L.marker(latlng, { icon: pinIcon(), draggable, keyboard: draggable, title: label, autoPan: true });
  if (!draggable) return marker;
  marker.on("dragend", () => onMove(marker.getLatLng()));
  marker.on("add", () => {
    const element = marker.getElement();
    element.setAttribute("role", "button");
    element.setAttribute("aria-label", label);
    element.addEventListener("keydown", (event) => {
      const step = ARROWS[event.key];
      if (!step || !marker._map) return;
      event.preventDefault();
      event.stopPropagation();
      const pixels = event.shiftKey ? 1 : 10;
      const map = marker._map;
      const point = map.latLngToContainerPoint(marker.getLatLng()).add([step[0] * pixels, step[1] * pixels]);
      const moved = map.containerPointToLatLng(point);
      marker.setLatLng(moved);
      onMove(moved);
    });
  });
  return marker;
}

/** A fixed pin, for the pages that show where a report is. */
export function showPoint(element) {
  const lat = parseFloat(element.dataset.lat);
  const lon = parseFloat(element.dataset.lon);
  const map = createMap(element, { center: [lat, lon], zoom: 17 });
  L.marker([lat, lon], { icon: pinIcon(), keyboard: false, interactive: false }).addTo(map);
  return map;
}

const OPEN = new Set(["nouveau", "transfere", "pris_en_compte", "programme", "en_cours"]);

/** Symbols of the reports layer: shape and stroke say the state, not only the colour (legend on the page). */
export function reportStyle(properties) {
  if (properties.count !== undefined && properties.reference === undefined) {
    const radius = Math.min(26, 7 + Math.sqrt(properties.count) * 3);
    return { radius, fill: true, fillColor: "#1d4f91", fillOpacity: 0.35, color: "#1d4f91", weight: 2 };
  }
  if (OPEN.has(properties.status)) {
    return { radius: 7, fill: true, fillColor: "#1d4f91", fillOpacity: 1, color: "#ffffff", weight: 2 };
  }
  if (properties.status === "resolu") {
    return { radius: 7, fill: true, fillColor: "#ffffff", fillOpacity: 0.6, color: "#1e6b34", weight: 3 };
  }
  return { radius: 7, fill: true, fillColor: "#ffffff", fillOpacity: 0.6, color: "#4a4a4a", weight: 2, dashArray: "2 3" };
}

/** The public reports as vector tiles (/tiles/reports/…), clustered by the server up to z14. */
export function reportsLayer(map, { category = "", status = "" } = {}) {
  const config = readConfig();
  // Leaflet.VectorGrid 1.3 calls L.DomEvent.fakeStop, which Leaflet 1.9 removed (VectorGrid PR #288).
  if (!L.DomEvent.fakeStop) L.DomEvent.fakeStop = L.DomEvent.stop;
  const params = new URLSearchParams();
  if (category) params.set("category", category);
  if (status) params.set("status", status);
  const query = params.toString();
  const layer = L.vectorGrid.protobuf(config.reportsTiles + (query ? `?${query}` : ""), {
    vectorTileLayerStyles: { reports: (properties) => reportStyle(properties) },
    interactive: true,
    maxNativeZoom: 16,
    maxZoom: config.maxZoom,
  });
  layer.on("click", (event) => {
    const properties = event.layer.properties || {};
    const content = document.createElement("div");
    if (properties.reference) {
      const link = document.createElement("a");
      link.href = config.reportUrl.replace("REFERENCE", encodeURIComponent(properties.reference));
      link.textContent = t("reportLink", { reference: properties.reference });
      content.append(link);
    } else {
      const text = document.createElement("p");
      text.textContent = t("clusterLabel", { count: properties.count });
      const zoom = document.createElement("button");
      zoom.type = "button";
      zoom.className = "button";
      zoom.textContent = t("zoomIn");
      zoom.addEventListener("click", () => map.setView(event.latlng, Math.min(map.getZoom() + 2, 16)));
      content.append(text, zoom);
    }
    L.popup().setLatLng(event.latlng).setContent(content).openOn(map);
  });
  return layer.addTo(map);
}
