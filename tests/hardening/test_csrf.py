"""CSRF on every route: a signed-in browser session cannot be made to POST anywhere from another site.

The routes are not listed by hand: every pattern of the URL configuration is walked and posted to,
with a real session cookie and no CSRF token, so a route added later is covered without anybody
remembering to. Django's middleware refuses before the view runs (403), and DRF's session
authentication refuses API calls made with the session cookie the same way (403), whatever the
object or the method. A view may opt out only if it is in ``EXEMPT`` with its reason; a new
``csrf_exempt`` fails here until it is reviewed and written down.

Anonymous API calls (filing a report from the app) carry no ambient credential, so there is nothing
for a forged request to borrow: DRF does not check CSRF there, by design.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db

# route name (namespace:name) → why no CSRF token is needed there.
EXEMPT = {
    # API-key authentication in a header, no cookie: a forged cross-site request has no key.
    "open311:requests": "clé d'API dans la requête",
    # The link itself carries a signed token (the secret); mail clients' one-click unsubscribe
    # (RFC 8058) posts without a form, and unsubscribing is the only effect.
    "web:project-unfollow": "jeton signé dans le lien (RFC 8058)",
}

# Sample values for path converters: only the route has to resolve, the object need not exist.
_SAMPLES = {"int": "1", "slug": "exemple", "str": "exemple", "path": "exemple/chemin", "uuid": "0" * 32}
_CONVERTER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


def _routes(resolver: URLResolver, prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str]]:
    """(path, route name) for every pattern, converters filled with sample values."""
    for entry in resolver.url_patterns:
        pattern = str(entry.pattern)
        if isinstance(entry, URLResolver):
            ns = entry.namespace or ""
            yield from _routes(entry, prefix + pattern, f"{namespace}:{ns}".strip(":") if ns else namespace)
        elif isinstance(entry, URLPattern):
            yield prefix + pattern, f"{namespace}:{entry.name}".strip(":") if entry.name else ""


def _concrete(route: str) -> str:
    """A path that the route resolves: converters and named groups filled with sample values."""
    if "^" in route or "(?P" in route or route.endswith("$"):
        return "/" + _sample_regex(route)
    return "/" + _CONVERTER.sub(lambda m: _SAMPLES.get(m["converter"] or "str", "exemple"), route)


_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?P<body>(?:[^()]|\([^()]*\))*)\)")


def _sample_regex(route: str) -> str:
    """Enough of a sample for this project's regular-expression routes (Open311's, the admin's)."""

    def group(match: re.Match[str]) -> str:
        body = match["body"]
        if re.fullmatch(r"[\w|-]+", body):  # alternatives: json|xml, an admin's app labels
            return body.split("|")[0]
        return "1" if "d" in body and "\\d" in body else "exemple"

    text = _GROUP.sub(group, route)
    text = re.sub(r"\(\?:[^()]*\)\??", "", text)  # optional non-capturing parts
    text = re.sub(r"(?<!\\)\?", "", text)  # an optional character (a final slash) is kept
    return text.replace("^", "").replace("$", "").replace("\\", "")


def _all_paths() -> list[tuple[str, str]]:
    return [(_concrete(route), name) for route, name in _routes(get_resolver())]


@pytest.fixture
def signed_in() -> Client:
    """A superuser's browser: a session cookie, and CSRF checked as in production."""
    user = get_user_model().objects.create_superuser("csrf-admin", "csrf@example.org", "un-mot-de-passe-long")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def test_the_walk_finds_the_routes_of_every_part_of_the_service():
    names = {name for _path, name in _all_paths()}
    # a sample of each URL configuration, so that a broken walk cannot pass by finding nothing
    for expected in ("healthz", "admin:index", "open311:requests", "web:home", "privacy:request"):
        assert expected in names, expected
    assert len(names) > 100


def test_every_post_without_a_token_is_refused_except_the_documented_exemptions(signed_in: Client):
    accepted, reasons, posted = {}, set(), 0
    for path, name in _all_paths():
        if name in EXEMPT:
            continue
        response = signed_in.post(path, data={"x": "1"})
        posted += 1
        if response.status_code != 403:
            accepted[path] = (name, response.status_code)
        elif name != "api-docs":  # Swagger UI's HTML renderer prints a bare "403 Forbidden"
            reasons.add(_reason(response.content.decode("utf-8", "replace")))
    assert accepted == {}
    # and every refusal was the CSRF check's, not a permission or a missing object
    assert reasons == {"csrf"}, reasons
    assert posted > 200


def test_the_same_session_with_its_token_gets_through(signed_in: Client):
    # the control: the refusals above come from the missing token, not from the session
    signed_in.get("/signaler/")  # a page with a form sets the cookie
    token = signed_in.cookies["csrftoken"].value
    response = signed_in.post("/i18n/setlang/", {"language": "en", "next": "/"}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 302


def _reason(body: str) -> str:
    """Django's page names the CSRF failure; the API answers its JSON (or YAML, for the schema) shape."""
    if "CSRF" in body:
        return "csrf"
    return body[:200]


def test_the_exemptions_are_exactly_the_csrf_exempt_views():
    exempt_views = set()
    for path, name in _all_paths():
        from django.urls import resolve

        match = resolve(path)
        if getattr(match.func, "csrf_exempt", False) and not _is_drf(match.func):
            exempt_views.add(name)
    assert exempt_views == set(EXEMPT)


def _is_drf(view: object) -> bool:
    """DRF marks its views exempt and checks CSRF itself, in SessionAuthentication (tested above)."""
    return getattr(view, "cls", None) is not None and hasattr(view.cls, "authentication_classes")


def test_the_api_says_that_the_token_is_missing(signed_in: Client):
    response = signed_in.post(
        "/api/tickets/SIG-1/transition/", {"state": "resolu"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "csrf"
    assert "X-CSRFToken" in response.json()["message"]
