/* global L */
// Filing a contribution. The form works without this script (the server reads « à l'échelle du
// projet », a place of the list or typed coordinates). The script adds the map: a point (a pin that
// taps and arrow keys move), a line or a zone drawn with leaflet-geoman, each vertex still movable
// afterwards; the choices without a map are shown on it too. Sending goes through fetch: a failed
// send keeps everything typed and says so; the server's errors appear next to their fields.
import { postForm } from "../http.js";
import { formatNumber, t } from "../i18n.js";
import { createMap, mapsAvailable, pinMarker } from "../maps.js";
import { formErrors } from "../dom.js";
import { fitTo, perimeterLayer, readJson, say, showJsOnly } from "./project-map.js";

const $ = (id) => document.getElementById(id);
const form = $("contribution-form");
const data = readJson("project-data");
const geometryInput = $("geometry");
const GEOMAN = { Line: "line", Polygon: "polygon" };
const MIN_VERTICES = { line: 2, polygon: 3 };

function radio(value) {
  return form.querySelector(`input[name=where][value="${value}"]`);
}

function parse(value) {
  const number = parseFloat(String(value).trim().replace(",", ".").replace(/\s/g, ""));
  return Number.isFinite(number) ? number : null;
}

// --- The map ------------------------------------------------------------------------------------

let map = null;
let mode = null; // "point", "line" or "polygon" while drawing
let shape = null; // the drawn layer (a pin, a polyline or a polygon)
let working = null; // geoman's layer while a line or a zone is drawn
let preview = null; // where a choice without the map puts the contribution

function setPressed(active) {
  for (const button of form.querySelectorAll("[data-draw]")) {
    button.setAttribute("aria-pressed", String(button.dataset.draw === active));
  }
}

function showActions() {
  const drawing = mode === "line" || mode === "polygon";
  $("draw-finish").hidden = !drawing;
  $("draw-undo").hidden = !drawing;
  $("draw-clear").hidden = !shape && !drawing;
}

function vertexCount() {
  if (!working) return 0;
  const latlngs = working.getLatLngs();
  return (Array.isArray(latlngs[0]) ? latlngs[0] : latlngs).length;
}

function store(layer) {
  const geometry = layer.toGeoJSON().geometry;
  geometryInput.value = JSON.stringify(geometry);
  const where = radio("carte");
  if (where) where.checked = true;
  clearPreview();
  return geometry;
}

function describe(geometry) {
  if (geometry.type === "Point") {
    const [lon, lat] = geometry.coordinates;
    return t("pointPlaced", { lat: formatNumber(lat, 5), lon: formatNumber(lon, 5) });
  }
  if (geometry.type === "LineString") return t("lineDrawn", { count: geometry.coordinates.length });
  return t("zoneDrawn", { count: Math.max(geometry.coordinates[0].length - 1, 0) });
}

function removeShape() {
  if (shape && map) map.removeLayer(shape);
  shape = null;
  geometryInput.value = "";
  const where = radio("carte");
  if (where && where.checked) where.checked = false;
}

function stopDrawing() {
  if (map && map.pm.globalDrawModeEnabled()) map.pm.disableDraw();
  working = null;
  mode = null;
  setPressed(null);
  showActions();
}

function placePoint(latlng) {
  if (shape && shape instanceof L.Marker) {
    shape.setLatLng(latlng);
  } else {
    removeShape();
    shape = pinMarker(latlng, {
      label: t("contributionPin"),
      onMove: () => say("draw-status", describe(store(shape))),
    }).addTo(map);
  }
  say("draw-status", describe(store(shape)));
  showActions();
}

function start(kind) {
  stopDrawing();
  mode = kind;
  setPressed(kind);
  if (kind === "point") {
    // The pin appears at once (keyboard users move it with the arrows); a tap moves it.
    placePoint(shape instanceof L.Marker ? shape.getLatLng() : map.getCenter());
    say("draw-status", `${describe(store(shape))} ${t("drawPointHelp")}`);
    shape.getElement()?.focus();
  } else {
    removeShape();
    map.pm.enableDraw(kind === "line" ? "Line" : "Polygon", { snappable: false, finishOn: null, continueDrawing: false });
    say("draw-status", t(kind === "line" ? "drawLineHelp" : "drawZoneHelp"));
  }
  showActions();
}

function finish() {
  if (!mode || mode === "point") return;
  const needed = MIN_VERTICES[mode];
  if (vertexCount() < needed) {
    say("draw-status", t("drawMore", { count: needed }));
    return;
  }
  map.pm.Draw[mode === "line" ? "Line" : "Polygon"]._finishShape();
}

function showPreview(lat, lon) {
  if (!map) return;
  clearPreview();
  preview = L.circleMarker([lat, lon], { radius: 9, color: "#1b1b1b", weight: 3, fillColor: "#ffffff", fillOpacity: 1, interactive: false }).addTo(map);
  if (!map.getBounds().contains([lat, lon])) map.panTo([lat, lon]);
}

function clearPreview() {
  if (preview && map) map.removeLayer(preview);
  preview = null;
}

function previewChoice() {
  const chosen = form.querySelector("input[name=where]:checked")?.value;
  if (chosen === "projet") {
    const [lon, lat] = data.projectPoint.coordinates;
    showPreview(lat, lon);
  } else if (chosen === "lieu") {
    const option = $("place")?.selectedOptions[0];
    if (option && option.dataset.lat) showPreview(parseFloat(option.dataset.lat), parseFloat(option.dataset.lon));
    else clearPreview();
  } else if (chosen === "coordonnees") {
    const lat = parse($("lat").value);
    const lon = parse($("lon").value);
    if (lat !== null && lon !== null && Math.abs(lat) <= 90 && Math.abs(lon) <= 180) showPreview(lat, lon);
    else clearPreview();
  } else {
    clearPreview();
  }
}

if (form && data && mapsAvailable() && L.PM) {
  showJsOnly(form);
  map = createMap($("contribute-map"));
  map.pm.setLang(document.documentElement.lang === "en" ? "en" : "fr");
  // geoman's vertex handles answer to the pointer only: out of the tab order and hidden from
  // assistive technologies (the pin, the places and the coordinates are the keyboard's ways).
  const quiet = (element) => {
    if (!(element instanceof HTMLElement) || !element.classList.contains("marker-icon")) return;
    element.setAttribute("tabindex", "-1");
    element.setAttribute("aria-hidden", "true");
    element.removeAttribute("role");
  };
  new MutationObserver((changes) => {
    for (const change of changes) for (const node of change.addedNodes) quiet(node);
  }).observe(map.getPane("markerPane"), { childList: true });
  fitTo(map, perimeterLayer(data.perimeter).addTo(map));

  for (const button of form.querySelectorAll("[data-draw]")) {
    button.addEventListener("click", () => start(button.dataset.draw));
  }
  map.on("click", (event) => {
    if (mode === "point") placePoint(event.latlng);
  });
  map.on("pm:drawstart", (event) => {
    working = event.workingLayer;
    working.on("pm:vertexadded", () => say("draw-status", t("vertexAdded", { count: vertexCount() })));
  });
  map.on("pm:create", (event) => {
    const kind = GEOMAN[event.shape];
    if (!kind) return;
    shape = event.layer;
    working = null;
    mode = null;
    setPressed(null);
    shape.pm.enable({ allowSelfIntersection: true });
    shape.on("pm:edit", () => say("draw-status", describe(store(shape))));
    say("draw-status", `${describe(store(shape))} ${t("drawEditHelp")}`);
    showActions();
  });
  $("draw-finish").addEventListener("click", finish);
  $("draw-undo").addEventListener("click", () => {
    if (!mode || mode === "point" || vertexCount() === 0) return;
    map.pm.Draw[mode === "line" ? "Line" : "Polygon"]._removeLastVertex();
    say("draw-status", t("vertexRemoved", { count: vertexCount() }));
  });
  $("draw-clear").addEventListener("click", () => {
    stopDrawing();
    removeShape();
    say("draw-status", t("drawCleared"));
    showActions();
  });

  // A drawing sent back by the server (a refused send) is shown again.
  if (geometryInput.value) {
    try {
      const restored = L.geoJSON(JSON.parse(geometryInput.value));
      const layer = restored.getLayers()[0];
      if (layer instanceof L.Marker) placePoint(layer.getLatLng());
      else if (layer) {
        shape = layer.addTo(map);
        shape.pm.enable({ allowSelfIntersection: true });
        shape.on("pm:edit", () => say("draw-status", describe(store(shape))));
      }
      showActions();
    } catch {
      geometryInput.value = "";
    }
  }
  for (const input of form.querySelectorAll("input[name=where]")) input.addEventListener("change", previewChoice);
  previewChoice();
}

// The fields without a map choose their own option: typing coordinates means « des coordonnées ».
$("place")?.addEventListener("change", () => {
  if ($("place").value) radio("lieu").checked = true;
  previewChoice();
});
for (const id of ["lat", "lon"]) {
  $(id)?.addEventListener("input", () => {
    if ($(id).value.trim()) radio("coordonnees").checked = true;
    previewChoice();
  });
}

// --- Errors ---------------------------------------------------------------------------------------

const errors = formErrors(form, {
  summary: "contribution-error-summary",
  list: "contribution-error-summary-list",
  anchor: (key) => ($(key) ? key : "contribution-form"),
});

// --- Sending --------------------------------------------------------------------------------------

let sending = false;

function failed(message) {
  say("send-status", "");
  say("send-error-text", message);
  const box = $("send-error");
  box.hidden = false;
  box.focus();
}

async function send() {
  if (sending) return;
  if (mode === "line" || mode === "polygon") {
    if (vertexCount() >= MIN_VERTICES[mode]) finish();
    else stopDrawing();
  }
  errors.clear();
  sending = true;
  $("send-error").hidden = true;
  say("send-status", t("sending"));
  const answer = await postForm(form, form.querySelectorAll("button[type=submit]"));
  sending = false;
  if (answer === null) {
    failed(t("sendFailed"));
    return;
  }
  const body = answer.data || {};
  if (answer.status === 201 && body.redirect) {
    say("send-status", body.message || "");
    window.location.assign(body.redirect);
  } else if (answer.status === 429) {
    failed(t("tooMany"));
  } else if (answer.status >= 400 && answer.status < 500 && (body.errors || body.message)) {
    say("send-status", t("contributionRefused"));
    errors.show(body.errors && Object.keys(body.errors).length ? body.errors : { form: [body.message] });
  } else {
    failed(t("sendFailed"));
  }
}

form?.addEventListener("submit", (event) => {
  event.preventDefault();
  send();
});
