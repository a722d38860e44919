// A contribution's page: where it stands (a map beside the text that says it in words), and « +1 »
// sent with fetch (the form posts without scripts).
import { NetworkError, request } from "../http.js";
import { t } from "../i18n.js";
import { createMap, mapsAvailable } from "../maps.js";
import { contributionsLayer, fitTo, perimeterLayer, readJson, say } from "./project-map.js";

const element = document.getElementById("contribution-map");
const data = readJson("contribution-data");
if (element && data && mapsAvailable()) {
  const map = createMap(element);
  perimeterLayer(data.perimeter).addTo(map);
  const shape = contributionsLayer({ type: "FeatureCollection", features: [data.contribution] }, "", { popups: false }).addTo(map);
  fitTo(map, shape, 17);
}

const form = document.getElementById("support-form");
form?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  let answer;
  try {
    answer = await request(form.action, { method: "POST", body: new FormData(form) });
  } catch (error) {
    if (!(error instanceof NetworkError)) throw error;
    say("support-status", t("supportFailed"));
    button.disabled = false;
    return;
  }
  if (answer.ok && answer.data) {
    say("support-count", t("supportCount", { count: answer.data.supports_count }));
    say("support-status", answer.data.message);
  } else {
    say("support-status", (answer.data && answer.data.message) || t("supportFailed"));
    button.disabled = false;
  }
});
