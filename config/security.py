"""Security headers on every answer: a strict Content-Security-Policy and its companions.

The policy forbids inline scripts and styles everywhere (no ``'unsafe-inline'``), allows images
from the site, ``data:`` URIs, the basemap's host (``settings.BASEMAP_URL``) and the media origin
when media live in an object store (``MEDIA_STORAGE=s3``), and nothing
may frame the site.

Two path prefixes are relaxed, and only for ``script-src``/``style-src``: Django's admin and the
Swagger UI page (``/api/docs/``). Both are third-party templates with inline ``<script>`` and
``<style>`` blocks (drf-spectacular's ``swagger_ui.html``, the admin's and django-leaflet's map
widgets) that cannot carry a nonce without forking them. Both are behind the same origin, hold no
citizen-provided HTML, and the admin is for signed-in staff only. docs/SECURITY.md records this.

The other headers (Referrer-Policy, X-Content-Type-Options, Cross-Origin-Opener-Policy) are also
set by Django's ``SecurityMiddleware`` from settings; they are set here too (without overriding)
so that they hold whatever the settings say, and Permissions-Policy, which Django does not set.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _

# Pages allowed inline scripts and styles (see the module's docstring).
RELAXED_PREFIXES = ("/admin/", "/api/docs/")

PERMISSIONS_POLICY = "geolocation=(self), camera=(self), microphone=()"


def basemap_origin() -> str | None:
    """``https://tile.openstreetmap.fr`` from ``https://tile.openstreetmap.fr/osmfr/{z}/{x}/{y}.png``."""
    parts = urlsplit(getattr(settings, "BASEMAP_URL", "") or "")
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return None
    # Tile URL templates may use {s} sub-domains: allow them with a wildcard label.
    netloc = parts.netloc.replace("{s}.", "*.")
    return f"{parts.scheme}://{netloc}"


@functools.cache
def media_origin() -> str | None:
    """Where served images come from when it is not this site: the S3 bucket or its CDN.

    Asked of the storage itself (``url()`` of a name), so that every way of configuring it (custom
    domain, endpoint, addressing style) gives the origin the pages will really use. No network:
    public S3 URLs are unsigned strings. Cached; cleared when tests change the storages.
    """
    from django.core.files.storage import storages

    parts = urlsplit(storages["default"].url("csp"))
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


@receiver(setting_changed)
def _forget_media_origin(*, setting: str, **kwargs: Any) -> None:
    if setting in {"STORAGES", "MEDIA_URL"}:
        media_origin.cache_clear()


def content_security_policy(path: str) -> str:
    img = ["'self'", "data:"]
    if origin := basemap_origin():
        img.append(origin)
    if (origin := media_origin()) and origin not in img:
        img.append(origin)
    relaxed = path.startswith(RELAXED_PREFIXES)
    inline = ["'unsafe-inline'"] if relaxed else []
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *inline],
        "style-src": ["'self'", *inline],
        "img-src": img,
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


class SecurityHeadersMiddleware:
    """Adds the headers to answers that do not already carry them (a view may set its own)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = content_security_policy(request.path_info)
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        # Forced: drf-spectacular's Swagger UI view sends ``unsafe-none`` for OAuth2 pop-ups, which
        # this API does not use (session and Basic authentication only).
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        return response


class RejectNulBytesMiddleware:
    """400 for a NUL byte in the path, the query string, Basic credentials or a form body.

    PostgreSQL text cannot hold NUL: any such value that reaches a query (``?category=%00``,
    ``/api/signalements/%00/``, an Open311 form field) raised a database error, a 500 for any
    anonymous caller; so did a NUL in the user name of ``Authorization: Basic`` (found by
    tests/hardening/test_schema_fuzz.py). Refusing it here covers every app at once. Bodies of DRF
    views are left to DRF, whose character fields refuse NUL with a per-field message (and whose
    filing view checks the size of an upload before reading it).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path or _has_nul(request.GET) or _basic_credentials_have_nul(request):
            return _nul_refusal()
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        if request.method != "POST" or _is_drf_view(view_func):
            return None
        if request.content_type not in {"application/x-www-form-urlencoded", "multipart/form-data"}:
            return None
        from config.ratelimit import small_form

        return _nul_refusal() if _has_nul(small_form(request)) else None


def _is_drf_view(view_func: Any) -> bool:
    from rest_framework.views import APIView

    cls = getattr(view_func, "cls", None) or getattr(view_func, "view_class", None)
    return isinstance(cls, type) and issubclass(cls, APIView)


def _basic_credentials_have_nul(request: HttpRequest) -> bool:
    scheme, _sep, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "basic" or not token:
        return False
    try:
        decoded = base64.b64decode(token.strip(), validate=False)
    except (ValueError, binascii.Error):
        return False  # DRF answers 401 to unreadable credentials
    return b"\x00" in decoded


def _has_nul(query: Any) -> bool:
    if not hasattr(query, "lists"):
        return False
    return any("\x00" in key or any("\x00" in v for v in values) for key, values in query.lists())


def _nul_refusal() -> HttpResponse:
    from config.api_errors import body

    message = _("La requête contient un caractère nul (U+0000), refusé.")
    return JsonResponse(body("requete_illisible", message), status=400)
