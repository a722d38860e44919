/* global L */
// Map pieces shared by the project pages: the perimeter (dashed outline), the contributions (one
// symbol whatever their kind, so that nothing is said by colour; the kind is in the popup and in the
// list), the planning layers of the layer switcher (the `planning` vector tiles filtered on one
// layer, or a raster layer's tiles).
import { t } from "../i18n.js";
import { readConfig } from "../maps.js";

export const PERIMETER_STYLE = { color: "#1b1b1b", weight: 3, dashArray: "8 6", fill: true, fillOpacity: 0.04, interactive: false };
const CONTRIBUTION_COLOR = "#6a1b9a";
const CONTRIBUTION_POINT = { radius: 8, color: "#ffffff", weight: 2, fillColor: CONTRIBUTION_COLOR, fillOpacity: 1 };
const CONTRIBUTION_SHAPE = { color: CONTRIBUTION_COLOR, weight: 4, fillColor: CONTRIBUTION_COLOR, fillOpacity: 0.25 };

export { readJson, say, showJsOnly } from "../dom.js";

export function perimeterLayer(geometry) {
  return L.geoJSON(geometry, { style: () => PERIMETER_STYLE, interactive: false });
}

/** Fit the map to a layer's bounds, at most at street zoom (a point would zoom in too far). */
export function fitTo(map, layer, maxZoom = 17) {
  const bounds = layer.getBounds();
  if (bounds.isValid()) map.fitBounds(bounds, { padding: [16, 16], maxZoom });
}

function paragraph(text, className = "") {
  const p = document.createElement("p");
  p.textContent = text;
  if (className) p.className = className;
  return p;
}

function contributionPopup(properties, urlTemplate) {
  const content = document.createElement("div");
  content.className = "map-popup";
  content.append(paragraph(properties.kind_label + (properties.theme ? ` · ${properties.theme}` : ""), "small"));
  const link = document.createElement("a");
  link.href = urlTemplate.replace("ID", encodeURIComponent(properties.id));
  link.textContent = properties.title;
  const title = document.createElement("p");
  title.append(link);
  content.append(title);
  let meta = t("supports", { count: properties.supports_count });
  if (properties.is_answered) meta += ` · ${t("officialAnswer")}`;
  content.append(paragraph(meta, "small"));
  return content;
}

/** The public contributions (GeoJSON from the page's island); hidden ones have no geometry. */
export function contributionsLayer(collection, urlTemplate, { popups = true } = {}) {
  return L.geoJSON(collection, {
    filter: (feature) => Boolean(feature.geometry),
    pointToLayer: (_feature, latlng) => L.circleMarker(latlng, CONTRIBUTION_POINT),
    // L.geoJSON applies `style` to points too: each kind of geometry keeps its own symbol.
    style: (feature) => (feature.geometry.type === "Point" ? CONTRIBUTION_POINT : CONTRIBUTION_SHAPE),
    onEachFeature: (feature, layer) => {
      if (popups) layer.bindPopup(() => contributionPopup(feature.properties, urlTemplate));
    },
  });
}

/** A planning layer as its style says: vector tiles of the `planning` layer, or raster tiles. */
export function planningLayer(layer, { pane = "overlayPane" } = {}) {
  const config = readConfig();
  const style = layer.style || {};
  if (layer.kind === "raster") {
    return L.tileLayer(layer.tiles.tiles[0], {
      pane,
      opacity: style.opacity ?? 1,
      maxZoom: config.maxZoom,
      attribution: "",
    });
  }
  // Leaflet.VectorGrid 1.3 calls L.DomEvent.fakeStop, which Leaflet 1.9 removed (VectorGrid PR #288).
  if (!L.DomEvent.fakeStop) L.DomEvent.fakeStop = L.DomEvent.stop;
  const path = {
    color: style.color || "#3366cc",
    weight: style.weight ?? 2,
    opacity: style.opacity ?? 1,
    fill: true,
    fillColor: style.fill_color || style.color || "#3366cc",
    fillOpacity: style.fill_opacity ?? 0.2,
    radius: 6,
  };
  if (style.dash_array) path.dashArray = style.dash_array;
  const grid = L.vectorGrid.protobuf(layer.tiles.tiles[0], {
    pane,
    vectorTileLayerStyles: { [layer.tiles.source_layer || "planning"]: () => path },
    interactive: true,
    maxNativeZoom: 16,
    maxZoom: config.maxZoom,
  });
  grid.on("click", (event) => {
    const properties = event.layer.properties || {};
    const content = document.createElement("div");
    content.className = "map-popup";
    content.append(paragraph(layer.name, "small"));
    const label = properties.label || properties.title;
    if (label) content.append(paragraph(String(label)));
    if (properties.text) content.append(paragraph(String(properties.text)));
    L.popup().setLatLng(event.latlng).setContent(content).openOn(grid._map);
  });
  return grid;
}
