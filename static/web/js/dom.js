// Small DOM helpers shared by the pages' scripts (citizens' and planners' alike).

/** The value of a <script type="application/json" id=...> block the server wrote, or null. */
export function readJson(id) {
  const element = document.getElementById(id);
  return element ? JSON.parse(element.textContent) : null;
}

/** Controls that only work with scripts are hidden in the HTML; show them once a script runs. */
export function showJsOnly(root = document) {
  for (const element of root.querySelectorAll("[data-js-only]")) element.hidden = false;
}

/** Write into a live region (or any element) if the page has it. */
export function say(id, text) {
  const element = document.getElementById(id);
  if (element) element.textContent = text;
}

/**
 * A form's error display: each field's messages beside it (`data-error-for`, or the form's own box),
 * and all of them in the summary above the form, linked to their field (`anchor(key)` gives the id),
 * the summary focused so that a screen reader reads it first.
 */
export function formErrors(form, { summary, list, anchor }) {
  const summaryElement = document.getElementById(summary);
  const listElement = document.getElementById(list);
  return {
    clear() {
      for (const box of form.querySelectorAll("[data-error-for]")) box.replaceChildren();
      for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
      summaryElement.hidden = true;
      listElement.replaceChildren();
    },
    show(errors) {
      for (const [key, messages] of Object.entries(errors)) {
        const box =
          form.querySelector(`[data-error-for="${CSS.escape(key)}"]`) || form.querySelector('[data-error-for="form"]');
        for (const message of messages) {
          const p = document.createElement("p");
          p.textContent = message;
          box.append(p);
          const a = document.createElement("a");
          a.href = `#${anchor(key)}`;
          a.textContent = message;
          const li = document.createElement("li");
          li.append(a);
          listElement.append(li);
        }
        const input = document.getElementById(key);
        if (input && input.matches("input, select, textarea")) input.setAttribute("aria-invalid", "true");
      }
      summaryElement.hidden = false;
      summaryElement.focus();
    },
  };
}
