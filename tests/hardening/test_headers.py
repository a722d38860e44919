"""Security headers (config/security.py) on the API, Open311, OGC, tiles, the admin and the docs page."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from config.security import content_security_policy

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent.parent

STRICT_PATHS = [
    "/healthz",
    "/api/signalements/",
    "/api/schema/",
    "/api/tickets/",  # 403 for an anonymous visitor: error answers carry the headers too
    "/open311/v2/discovery.json",
    "/ogc/",
    "/ogc/collections",
    "/tiles/",
    "/nulle-part/",  # 404
]
RELAXED_PATHS = ["/api/docs/", "/admin/login/"]


def directives(header: str) -> dict[str, list[str]]:
    out = {}
    for part in header.split(";"):
        name, *values = part.split()
        out[name] = values
    return out


def assert_common(response) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Permissions-Policy"] == "geolocation=(self), camera=(self), microphone=()"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    csp = directives(response["Content-Security-Policy"])
    assert csp["default-src"] == ["'self'"]
    assert csp["img-src"] == ["'self'", "data:", "https://tile.openstreetmap.fr"]
    assert csp["connect-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"]
    assert csp["form-action"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    return csp


@pytest.mark.parametrize("path", STRICT_PATHS)
def test_every_answer_carries_a_strict_policy(client, path):
    response = client.get(path)
    assert response.status_code < 500
    csp = assert_common(response)
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]


@pytest.mark.parametrize("path", RELAXED_PATHS)
def test_admin_and_swagger_ui_only_get_inline_scripts_and_styles(client, path):
    response = client.get(path)
    assert response.status_code == 200
    csp = assert_common(response)
    assert csp["script-src"] == ["'self'", "'unsafe-inline'"]
    assert csp["style-src"] == ["'self'", "'unsafe-inline'"]


def test_signed_in_admin_pages_are_relaxed_too(client):
    admin = get_user_model().objects.create_superuser("chef", "chef@example.org", "x")
    client.force_login(admin)
    response = client.get("/admin/")
    assert response.status_code == 200
    assert "'unsafe-inline'" in directives(response["Content-Security-Policy"])["script-src"]


def test_a_path_that_only_starts_like_admin_is_strict():
    assert "'unsafe-inline'" not in content_security_policy("/administration/")
    assert "'unsafe-inline'" not in content_security_policy("/api/docsx/")
    assert "'unsafe-inline'" not in content_security_policy("/api/schema/")


def test_the_basemap_host_comes_from_the_setting(client, settings):
    settings.BASEMAP_URL = "https://{s}.tiles.example.net/plan/{z}/{x}/{y}.png"
    csp = directives(client.get("/healthz")["Content-Security-Policy"])
    assert csp["img-src"] == ["'self'", "data:", "https://*.tiles.example.net"]
    settings.BASEMAP_URL = "not a url"
    csp = directives(client.get("/healthz")["Content-Security-Policy"])
    assert csp["img-src"] == ["'self'", "data:"]


def test_the_session_cookie_is_http_only_and_same_site(client):
    admin = get_user_model().objects.create_superuser("chef", "chef@example.org", "x")
    response = client.post("/admin/login/?next=/admin/", {"username": "chef", "password": "x"})
    assert response.status_code == 302
    cookie = response.cookies["sessionid"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert admin.pk


def test_production_turns_on_https_only_settings():
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE"}}
    env.update(SECRET_KEY="s" * 50, DJANGO_SETTINGS_MODULE="config.settings.production")
    names = [
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "SESSION_COOKIE_SAMESITE",
        "SECURE_CONTENT_TYPE_NOSNIFF",
        "SECURE_PROXY_SSL_HEADER",
        "RATE_LIMITS_ENABLED",
        "RATE_LIMIT_PROXY_COUNT",
    ]
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n) for n in {names!r}}}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values == {
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "RATE_LIMITS_ENABLED": True,
        "RATE_LIMIT_PROXY_COUNT": 1,
    }


def test_production_redirects_to_https_and_sends_hsts(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert client.get("/api/signalements/").status_code == 301
    response = client.get("/api/signalements/", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_images_from_the_object_store_are_allowed_when_media_live_there(settings):
    # given media on S3 behind a CDN (no network: public S3 URLs are plain strings)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "concerto-media",
                "custom_domain": "medias.example.net",
                "querystring_auth": False,
                "access_key": "x",
                "secret_key": "y",
            },
        },
    }
    # then the pages may load images from there, and from nowhere else new
    csp = directives(content_security_policy("/signalements/"))
    assert csp["img-src"][-1] == "https://medias.example.net"
    # and with files on disk, served by this site, nothing is added
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }
    assert "https://medias.example.net" not in content_security_policy("/signalements/")
