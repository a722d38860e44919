// Strings of the scripts, translated by the server ({% js_i18n %} writes them as JSON in the page).
// A message about a count comes as [singular, plural]; Intl.PluralRules picks the form of the page's
// language (« 0 soutien » in French, « 0 supports » in English).
/** The page's language (`<html lang>`), French by default. */
export function lang() {
  return document.documentElement.lang || "fr";
}

/** A translation function reading the JSON block `elementId` (read once, on first use). */
export function translator(elementId) {
  let strings = null;
  return (key, params = {}) => {
    if (strings === null) {
      const element = document.getElementById(elementId);
      strings = element ? JSON.parse(element.textContent) : {};
    }
    let text = strings[key] ?? key;
    if (Array.isArray(text)) {
      const count = Number(params.count ?? 0);
      text = new Intl.PluralRules(lang()).select(count) === "one" ? text[0] : text[1];
    }
    return text.replace(/%\((\w+)\)s/g, (_match, name) => (name in params ? String(params[name]) : ""));
  };
}

/** The citizens' pages' strings ({% js_i18n %}). */
export const t = translator("i18n");

export function formatNumber(value, digits = 0) {
  return new Intl.NumberFormat(lang(), { maximumFractionDigits: digits }).format(value);
}
