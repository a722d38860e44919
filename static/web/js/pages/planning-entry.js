/* global L */
// On-behalf entry: a click on the map puts the pin and fills latitude and longitude (which can be
// typed too); « À l'échelle du projet » needs no place, so the map and coordinates fold away.
import { createMap, mapsAvailable, pinMarker } from "../maps.js";
import { perimeterOutline, readJson, revealJsOnly, tp } from "./planning-common.js";

const element = document.getElementById("entry-map");
const lat = document.getElementById("entry-lat");
const lon = document.getElementById("entry-lon");
const point = document.getElementById("entry-point");
const status = document.getElementById("entry-map-status");
const data = readJson("entry-data") || {};

function toggle() {
  const whole = document.getElementById("entry-where-project").checked;
  point.hidden = whole;
}

for (const radio of document.querySelectorAll("input[name=where]")) radio.addEventListener("change", toggle);
if (point) toggle();

function number(value) {
  const parsed = parseFloat(String(value).replace(",", "."));
  return Number.isFinite(parsed) ? parsed : null;
}

if (element && mapsAvailable()) {
  revealJsOnly(point);
  const map = createMap(element);
  perimeterOutline(map, data.perimeter);
  let pin = null;
  const show = (latlng, { write = true } = {}) => {
    if (write) {
      lat.value = latlng.lat.toFixed(6);
      lon.value = latlng.lng.toFixed(6);
    }
    status.textContent = tp("pointChosen", { lat: latlng.lat.toFixed(5), lon: latlng.lng.toFixed(5) });
  };
  const place = (latlng, options) => {
    if (!pin) {
      pin = pinMarker(latlng, { onMove: (moved) => show(moved) });
      pin.on("add", () => {
        const el = pin.getElement();
        el.setAttribute("aria-label", tp("pinLabel"));
        el.setAttribute("title", tp("pinLabel"));
      });
      pin.addTo(map);
    } else {
      pin.setLatLng(latlng);
    }
    show(latlng, options);
  };
  map.on("click", (event) => place(event.latlng));
  const typed = () => {
    const y = number(lat.value);
    const x = number(lon.value);
    if (y !== null && x !== null && Math.abs(y) <= 90 && Math.abs(x) <= 180) place(L.latLng(y, x), { write: false });
  };
  lat.addEventListener("change", typed);
  lon.addEventListener("change", typed);
  typed();
}
