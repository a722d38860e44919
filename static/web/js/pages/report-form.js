// Filing a report. The form works without this script (the server checks and files it); the script
// adds the map (« Me localiser », tap, drag, arrow keys), the photo's GPS position, the category
// search, the check before sending (ambiguous position, « Est-ce le même problème ? » with « +1 et
// suivre »), and sending with fetch: a failed send keeps everything typed and offers to retry, and
// the form's idempotency key makes a retry after a lost answer return the first report.
import { formErrors, say } from "../dom.js";
import { gpsFromFile } from "../exif.js";
import { postForm, request } from "../http.js";
import { formatNumber, t } from "../i18n.js";
import { createMap, iconsUrl, mapsAvailable, pinMarker } from "../maps.js";

const $ = (id) => document.getElementById(id);
const form = $("report-form");
const lat = $("lat");
const lon = $("lon");
const place = $("place");
const email = $("email");
const submit = $("submit");
const retry = $("retry");
const DRAFT_KEY = "concerto:report-draft";
const MAX_PHOTOS = 5;

function parse(value) {
  const number = parseFloat(String(value).trim().replace(",", "."));
  return Number.isFinite(number) ? number : null;
}

// --- The map ------------------------------------------------------------------------------------

let map = null;
let marker = null;

function placeMarker(latitude, longitude, zoom = null) {
  if (!map) return;
  if (!marker) {
    marker = pinMarker([latitude, longitude], {
      onMove: (moved) => setPosition(moved.lat, moved.lng, { announce: true, move: false }),
    }).addTo(map);
  } else {
    marker.setLatLng([latitude, longitude]);
  }
  if (zoom) map.setView([latitude, longitude], zoom);
  else if (!map.getBounds().contains([latitude, longitude])) map.panTo([latitude, longitude]);
}

function setPosition(latitude, longitude, { zoom = null, announce = true, move = true } = {}) {
  lat.value = latitude.toFixed(6);
  lon.value = longitude.toFixed(6);
  if (place) place.value = "";
  if (move) placeMarker(latitude, longitude, zoom);
  if (announce) say("position-status", t("pinPlaced", { lat: formatNumber(latitude, 5), lon: formatNumber(longitude, 5) }));
  positionChanged();
}

function currentPoint() {
  const latitude = parse(lat.value);
  const longitude = parse(lon.value);
  if (latitude !== null && longitude !== null) return { lat: latitude, lon: longitude };
  const option = place && place.selectedOptions[0];
  if (option && option.dataset.lat) return { lat: parseFloat(option.dataset.lat), lon: parseFloat(option.dataset.lon) };
  return null;
}

function positionChanged() {
  const confirm = $("confirm_position");
  if (confirm) confirm.checked = false;
  scheduleCheck();
  saveDraft();
}

if (mapsAvailable()) {
  for (const element of document.querySelectorAll("[data-js-only]")) element.hidden = false;
  map = createMap($("pick-map"));
  map.on("click", (event) => setPosition(event.latlng.lat, event.latlng.lng));
  const start = currentPoint();
  if (start) placeMarker(start.lat, start.lon, 17);
  // The no-map fields stay one click away; they are open when they hold something.
  const noMap = $("no-map");
  if (noMap && !lat.value && !(place && place.value) && !form.querySelector("[data-error-for=lat] p, [data-error-for=place] p")) {
    noMap.open = false;
  }
} else {
  for (const element of document.querySelectorAll(".category-search[data-js-only], #address-search")) element.hidden = false;
}

$("locate")?.addEventListener("click", () => {
  if (!navigator.geolocation) {
    say("position-status", t("locateFailed"));
    return;
  }
  say("position-status", t("locating"));
  navigator.geolocation.getCurrentPosition(
    (position) => {
      const { latitude, longitude, accuracy } = position.coords;
      setPosition(latitude, longitude, { zoom: 18, announce: false });
      say("position-status", t("located", { accuracy: formatNumber(Math.round(accuracy || 0)) }));
    },
    (error) => say("position-status", t(error.code === 1 ? "locateDenied" : "locateFailed")),
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
  );
});

for (const input of [lat, lon]) {
  input.addEventListener("change", () => {
    const point = currentPoint();
    if (point && parse(lat.value) !== null) {
      if (place) place.value = "";
      placeMarker(point.lat, point.lon, 17);
    }
    positionChanged();
  });
}
place?.addEventListener("change", () => {
  if (place.value) {
    lat.value = "";
    lon.value = "";
    const point = currentPoint();
    if (point) placeMarker(point.lat, point.lon, 15);
  }
  positionChanged();
});

// --- Address search (server-side geocoder, when configured) ------------------------------------

const addressButton = $("address-search");
addressButton?.addEventListener("click", async () => {
  const results = $("address-results");
  const query = $("address").value.trim();
  if (query.length < 3) return;
  say("address-status", t("addressSearching"));
  let answer;
  try {
    answer = await request(`${addressButton.dataset.url}?${new URLSearchParams({ q: query })}`);
  } catch {
    say("address-status", t("addressNone"));
    return;
  }
  const found = (answer.data && answer.data.results) || [];
  results.replaceChildren();
  results.hidden = found.length === 0;
  say("address-status", found.length ? "" : t("addressNone"));
  for (const item of found) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "button button-secondary";
    button.textContent = item.label;
    button.addEventListener("click", () => {
      $("address").value = item.label;
      setPosition(item.lat, item.lon, { zoom: 18, announce: false });
      say("address-status", t("addressChosen", { label: item.label }));
      results.hidden = true;
    });
    const li = document.createElement("li");
    li.append(button);
    results.append(li);
  }
  results.querySelector("button")?.focus();
});

// --- Photos: previews and the position a phone wrote in them -----------------------------------

const photos = $("photos");
let photoPosition = null;
photos.addEventListener("change", async () => {
  const previews = $("photo-previews");
  previews.replaceChildren();
  const files = [...photos.files];
  const errorBox = form.querySelector("[data-error-for=photos]");
  errorBox.replaceChildren();
  if (files.length > MAX_PHOTOS) {
    const p = document.createElement("p");
    p.textContent = t("tooManyPhotos", { max: MAX_PHOTOS });
    errorBox.append(p);
  }
  files.slice(0, MAX_PHOTOS).forEach((file, index) => {
    const li = document.createElement("li");
    const img = document.createElement("img");
    img.src = URL.createObjectURL(file);
    img.alt = `${index + 1}. ${file.name}`;
    li.append(img);
    previews.append(li);
  });
  photoPosition = null;
  for (const file of files) {
    photoPosition = await gpsFromFile(file);
    if (photoPosition) break;
  }
  const panel = $("photo-position");
  if (panel) {
    panel.hidden = !photoPosition || !map;
    if (photoPosition) {
      say("photo-position-text", t("photoHasPosition", { lat: formatNumber(photoPosition.lat, 5), lon: formatNumber(photoPosition.lon, 5) }));
    }
  }
});
$("use-photo-position")?.addEventListener("click", () => {
  if (!photoPosition) return;
  setPosition(photoPosition.lat, photoPosition.lon, { zoom: 18, announce: false });
  say("position-status", t("photoPositionUsed"));
  $("photo-position").hidden = true;
});

// --- Categories: search ---------------------------------------------------------------------------

const fold = (text) => text.normalize("NFD").replace(/\p{Diacritic}/gu, "").toLowerCase();
$("category-search")?.addEventListener("input", (event) => {
  const words = fold(event.target.value).split(/\s+/).filter(Boolean);
  let shown = 0;
  for (const group of form.querySelectorAll(".category-group")) {
    let groupShown = 0;
    for (const option of group.querySelectorAll(".category-option")) {
      const text = fold(option.dataset.search || option.textContent);
      const match = words.every((word) => text.includes(word));
      option.hidden = !match;
      if (match) groupShown += 1;
    }
    group.hidden = groupShown === 0;
    shown += groupShown;
  }
  say("category-count", words.length ? t("categoryCount", { count: shown }) : "");
});
for (const radio of form.querySelectorAll("input[name=category]")) {
  radio.addEventListener("change", () => {
    scheduleCheck();
    saveDraft();
  });
}

// --- Before sending: who receives it, ambiguity, nearby reports ------------------------------------

let checkTimer = null;
let checkSerial = 0;

function scheduleCheck() {
  clearTimeout(checkTimer);
  checkTimer = setTimeout(runCheck, 250);
}

async function runCheck() {
  const point = currentPoint();
  const category = form.querySelector("input[name=category]:checked");
  if (!point || !category) return;
  const serial = ++checkSerial;
  say("check-status", t("checking"));
  let answer;
  try {
    const params = new URLSearchParams({ lat: point.lat, lon: point.lon, category: category.value });
    answer = await request(`${form.dataset.checkUrl}?${params}`);
  } catch {
    say("check-status", ""); // a failed check never blocks sending: the server checks again
    return;
  }
  if (serial !== checkSerial) return;
  if (answer.ok && answer.data) renderCheck(answer.data);
  else say("check-status", "");
}

function stateBadge(state, label) {
  const SVG = "http://www.w3.org/2000/svg";
  const span = document.createElement("span");
  span.className = `state state-${state}`;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "icon");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const use = document.createElementNS(SVG, "use");
  use.setAttribute("href", `${iconsUrl()}#state-${state}`);
  svg.append(use);
  span.append(svg);
  const text = document.createElement("span");
  text.textContent = label;
  span.append(text);
  return span;
}

function renderDuplicate(item) {
  const node = $("duplicate-template").content.firstElementChild.cloneNode(true);
  const field = (name) => node.querySelector(`[data-field="${name}"]`);
  field("link").href = item.url;
  field("link").textContent = item.reference;
  field("category").textContent = item.category;
  field("state").replaceWith(stateBadge(item.status, item.status_label));
  field("distance").textContent = t("distance", { distance: formatNumber(item.distance_m) });
  field("supports").textContent = t("supports", { count: item.support_count });
  field("description").textContent = item.description || item.address || "";
  const button = node.querySelector("[data-action=support]");
  button.addEventListener("click", () => support(item, button, field("support-status")));
  return node;
}

async function support(item, button, status) {
  const body = new FormData();
  body.set("email", email.value.trim());
  button.disabled = true;
  let answer;
  try {
    answer = await request(item.support_url, { method: "POST", body });
  } catch {
    status.textContent = t("supportFailed");
    button.disabled = false;
    return;
  }
  if (answer.ok && answer.data) {
    status.textContent = `${answer.data.message} ${t("supports", { count: answer.data.support_count })}.`;
    const link = document.createElement("a");
    link.href = item.url;
    link.textContent = t("reportLink", { reference: item.reference });
    status.append(" ", link);
  } else {
    status.textContent = (answer.data && answer.data.message) || t("supportFailed");
    button.disabled = false;
  }
}

function renderCheck(data) {
  const ambiguity = $("ambiguity");
  const duplicates = $("duplicates");
  if (data.error) {
    ambiguity.hidden = true;
    duplicates.hidden = true;
    say("check-status", data.error.code === "hors_territoire" ? t("outside") : data.error.message);
    return;
  }
  ambiguity.hidden = !data.ambiguous;
  if (data.ambiguous) {
    const items = [`${data.service} : ${data.explanation}`, ...data.alternatives.map((a) => `${a.service} : ${a.reason}`)];
    $("ambiguity-alternatives").replaceChildren(
      ...items.map((text) => {
        const li = document.createElement("li");
        li.textContent = text;
        return li;
      }),
    );
  }
  $("duplicates-list").replaceChildren(...data.nearby.map(renderDuplicate));
  duplicates.hidden = data.nearby.length === 0;
  $("duplicates_seen").value = data.nearby.length ? "1" : "";
  say(
    "check-status",
    data.nearby.length ? t("duplicatesFound", { count: data.nearby.length }) : t("noDuplicates", { service: data.service }),
  );
}

// --- Errors ---------------------------------------------------------------------------------------

const ANCHORS = { where: "where", category: "what", form: "report-form" };

const errors = formErrors(form, {
  summary: "error-summary",
  list: "error-summary-list",
  anchor: (key) => ANCHORS[key] || key,
});

// --- Sending --------------------------------------------------------------------------------------

let sending = false;

function failed(message) {
  say("send-status", "");
  say("send-error-text", message);
  const box = $("send-error");
  box.hidden = false;
  box.focus();
  saveDraft();
}

async function send() {
  if (sending) return;
  errors.clear();
  if (!$("ambiguity").hidden && !$("confirm_position").checked) {
    errors.show({ where: [t("confirmPosition")] });
    return;
  }
  sending = true;
  $("send-error").hidden = true;
  say("send-status", t("sending"));
  const answer = await postForm(form, [submit, retry]);
  sending = false;
  if (answer === null) {
    failed(t("sendFailed"));
    return;
  }
  const data = answer.data || {};
  if ((answer.status === 201 || answer.status === 200) && data.redirect) {
    clearDraft();
    say("send-status", "");
    window.location.assign(data.redirect);
  } else if (answer.status === 409 && data.step) {
    say("send-status", "");
    renderCheck(data.check);
    $(data.step.includes("ambiguous") ? "ambiguity" : "duplicates").focus();
  } else if (answer.status === 429) {
    failed(t("tooMany"));
  } else if (answer.status >= 400 && answer.status < 500 && data.errors) {
    say("send-status", t("sendRefused"));
    errors.show(Object.keys(data.errors).length ? data.errors : { form: [data.message] });
  } else {
    failed(t("sendFailed"));
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  send();
});
retry.addEventListener("click", send);

// --- Draft: what is typed survives a reload (this tab only; files cannot be kept) -----------------

const DRAFT_FIELDS = ["address", "description", "email", "lat", "lon", "place"];

function saveDraft() {
  try {
    const draft = Object.fromEntries(DRAFT_FIELDS.map((name) => [name, form.elements[name]?.value || ""]));
    draft.category = form.querySelector("input[name=category]:checked")?.value || "";
    draft.consent = $("consent").checked;
    draft.idempotency_key = form.elements.idempotency_key.value;
    sessionStorage.setItem(DRAFT_KEY, JSON.stringify(draft));
  } catch {
    /* storage may be off: nothing to do */
  }
}

function clearDraft() {
  try {
    sessionStorage.removeItem(DRAFT_KEY);
  } catch {
    /* ignore */
  }
}

function restoreDraft() {
  let draft = null;
  try {
    draft = JSON.parse(sessionStorage.getItem(DRAFT_KEY) || "null");
  } catch {
    draft = null;
  }
  const typed = DRAFT_FIELDS.some((name) => form.elements[name]?.value);
  if (!draft || typed) return;
  for (const name of DRAFT_FIELDS) if (draft[name] && form.elements[name]) form.elements[name].value = draft[name];
  if (draft.category) {
    const radio = form.querySelector(`input[name=category][value="${CSS.escape(draft.category)}"]`);
    if (radio) radio.checked = true;
  }
  $("consent").checked = Boolean(draft.consent);
  if (draft.idempotency_key) form.elements.idempotency_key.value = draft.idempotency_key;
  const point = currentPoint();
  if (point) placeMarker(point.lat, point.lon, 17);
  say("draft-status", t("draftRestored"));
  scheduleCheck();
}

form.addEventListener("input", saveDraft);
restoreDraft();
if (currentPoint() && form.querySelector("input[name=category]:checked") && $("duplicates").hidden) scheduleCheck();
