/* global L */
// The layers page: annotations drawn with leaflet-geoman (the shape goes into the GeoJSON field,
// which can also be pasted by hand), the legend swatches, and the status of raster conversions,
// asked again every few seconds while one is « en cours ».
import { request } from "../http.js";
import { createMap, iconsUrl, mapsAvailable } from "../maps.js";
import { drawingAvailable, geomanControls, parseGeoJson, perimeterOutline, readJson, revealJsOnly, tp } from "./planning-common.js";

const data = readJson("layers-data") || {};

for (const swatch of document.querySelectorAll(".legend-swatch[data-color]")) {
  swatch.style.backgroundColor = swatch.dataset.color;
}

// --- annotations -----------------------------------------------------------------------------------
const element = document.getElementById("annotation-map");
const field = document.getElementById("annotation-geometry");
const status = document.getElementById("annotation-status");
const KINDS = { Point: "kindPoint", LineString: "kindLine", Polygon: "kindPolygon" };

if (element && field && mapsAvailable() && drawingAvailable()) {
  revealJsOnly(element.closest(".annotation-editor").parentElement);
  const map = createMap(element);
  perimeterOutline(map, data.perimeter);
  if (data.annotations && data.annotations.features.length) {
    L.geoJSON(data.annotations, {
      pmIgnore: true,
      style: () => ({ color: "#c2410c", weight: 2, fillOpacity: 0.15 }),
      pointToLayer: (_feature, latlng) => L.circleMarker(latlng, { radius: 6, color: "#c2410c", pmIgnore: true }),
      onEachFeature: (feature, layer) => layer.bindTooltip(feature.properties.title),
    }).addTo(map);
  }
  geomanControls(map, { drawMarker: true, drawPolyline: true, drawPolygon: true, editMode: true, removalMode: true });
  let drawn = null;
  const write = () => {
    if (!drawn || !drawn._map) {
      field.value = "";
      return;
    }
    const geometry = drawn.toGeoJSON(15).geometry;
    field.value = JSON.stringify(geometry);
    status.textContent = tp("shapeDrawn", { kind: tp(KINDS[geometry.type] || "kindPolygon") });
  };
  map.on("pm:create", (event) => {
    if (drawn) map.removeLayer(drawn); // one shape per annotation
    drawn = event.layer;
    drawn.on("pm:edit pm:dragend", write);
    write();
    document.getElementById("annotation-title").focus();
  });
  map.on("pm:remove", (event) => {
    if (event.layer === drawn) drawn = null;
    write();
  });
  const posted = parseGeoJson(field.value);
  if (posted) {
    try {
      drawn = L.geoJSON(posted).getLayers()[0] || null;
      if (drawn) drawn.addTo(map);
    } catch {
      drawn = null;
    }
  }
}

// --- raster conversions ----------------------------------------------------------------------------
const live = document.getElementById("raster-live");

function pendingIds() {
  return [...document.querySelectorAll("[data-raster-status].raster-pending")].map((el) => el.dataset.rasterStatus);
}

async function refresh() {
  if (!data.statusUrl || !pendingIds().length) return;
  let answer;
  try {
    answer = await request(data.statusUrl);
  } catch {
    answer = null;
  }
  if (answer && answer.ok && answer.data) {
    for (const layer of answer.data.layers) {
      const element = document.querySelector(`[data-raster-status="${layer.id}"]`);
      if (!element || element.classList.contains(`raster-${layer.status || "none"}`)) continue;
      element.className = `raster-status raster-${layer.status || "none"}`;
      const icon = { ready: "check", failed: "alert" }[layer.status] || "clock";
      const use = element.querySelector("use");
      if (use) use.setAttribute("href", `${iconsUrl()}#${icon}`);
      element.querySelector(".raster-label").textContent = layer.label;
      let error = element.querySelector(".raster-error");
      if (layer.error) {
        if (!error) {
          error = document.createElement("span");
          error.className = "raster-error";
          element.append(" — ", error);
        }
        error.textContent = layer.error;
      }
      live.textContent = tp("statusChanged", { name: layer.name, status: layer.label });
    }
  }
  if (pendingIds().length) window.setTimeout(refresh, 4000);
}

if (pendingIds().length) window.setTimeout(refresh, 4000);
