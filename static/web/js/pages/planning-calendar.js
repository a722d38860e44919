// The calendar editor: « Ajouter une phase » adds a row from the <template>; « Retirer » removes a
// new row. The form works without this script (blank rows are there, existing phases have a
// « Supprimer » box); the server ignores blank rows and checks the whole calendar at once.
import { revealJsOnly, tp } from "./planning-common.js";

const form = document.getElementById("calendar-form");
const rows = document.getElementById("phase-rows");
const template = document.getElementById("phase-row-template");
const total = document.getElementById("phases-TOTAL");
const status = document.getElementById("calendar-status");

if (form && rows && template && total) {
  revealJsOnly(form);
  document.getElementById("add-phase").addEventListener("click", () => {
    const index = Number(total.value);
    const holder = document.createElement("tbody");
    holder.innerHTML = template.innerHTML.replaceAll("__i__", String(index)).replaceAll("__n__", String(index + 1));
    const row = holder.querySelector("tr");
    revealJsOnly(row);
    rows.append(row);
    total.value = String(index + 1);
    status.textContent = tp("rowAdded", { n: index + 1 });
    row.querySelector("select").focus();
  });
  rows.addEventListener("click", (event) => {
    const button = event.target.closest(".remove-row");
    if (!button) return;
    const row = button.closest("tr");
    const next = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    status.textContent = tp("rowRemoved");
    (next ? next.querySelector("select") : document.getElementById("add-phase")).focus();
  });
}
