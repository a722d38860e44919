// fetch with the CSRF token and JSON answers. A network failure is a NetworkError (the caller keeps
// what was typed and offers to retry); an HTTP error is an answer with ok === false.

export class NetworkError extends Error {}

export function csrfToken() {
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  if (input) return input.value;
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export async function request(url, { method = "GET", body = undefined, headers = {} } = {}) {
  const sent = { Accept: "application/json", ...headers };
  if (method !== "GET") sent["X-CSRFToken"] = csrfToken();
  let response;
  try {
    response = await fetch(url, { method, body, headers: sent, credentials: "same-origin" });
  } catch (error) {
    throw new NetworkError(error.message);
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  return { status: response.status, ok: response.ok, data };
}

/**
 * POST a form with fetch, its submit controls disabled meanwhile (no double send). The answer, or
 * null when the network failed: the caller keeps what was typed and says so.
 */
export async function postForm(form, controls) {
  for (const control of controls) control.disabled = true;
  try {
    return await request(form.action, { method: "POST", body: new FormData(form) });
  } catch (error) {
    if (!(error instanceof NetworkError)) throw error;
    return null;
  } finally {
    for (const control of controls) control.disabled = false;
  }
}
