// The ticket page: where it is, and response templates that fill the message they belong to.
import { mapsAvailable, showPoint } from "../maps.js";

const element = document.getElementById("ticket-map");
if (element && mapsAvailable()) showPoint(element);

for (const select of document.querySelectorAll("select[data-fill]")) {
  select.addEventListener("change", () => {
    const target = document.getElementById(select.dataset.fill);
    const option = select.selectedOptions[0];
    if (target && option && option.dataset.text) {
      target.value = option.dataset.text;
      target.focus();
    }
  });
}
