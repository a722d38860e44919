"""Hostile text: HTML/script payloads are stored and returned as data; SQL metacharacters in every
filter are refused (400) or matched literally (200/204), never a 500."""

from __future__ import annotations

import html
from urllib.parse import urlencode

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from signalements.models import Report
from tests.signalements.world import *  # noqa: F403
from tests.signalements.world import World, at

pytestmark = pytest.mark.django_db

XSS = [
    "<script>alert('xss')</script>",
    '"><img src=x onerror=alert(1)>',
    "<svg/onload=alert(1)>",
    "javascript:alert(document.cookie)",
    "</textarea><iframe src=//evil.example>",
    "{{7*7}} ${7*7} <% 7*7 %>",
]

SQL = [
    "'",
    '"',
    "' OR '1'='1",
    "1; DROP TABLE signalements_report; --",
    "1' AND pg_sleep(3) --",
    "%",
    "_",
    "\\",
    "%27%20OR%201=1",
    "') UNION SELECT password FROM auth_user --",
    "$$",
    "::text",
    "/*",
    "\x00",
    "a\x00b",
    "é" * 300,
    "-1",
    "9" * 40,
    "1e400",
    "nan",
    ",,,",
    "[]",
]


# --- Cross-site scripting -------------------------------------------------------------------------


@pytest.mark.parametrize("payload", XSS)
def test_markup_in_every_text_field_of_filing_comes_back_as_json_data(world: World, payload):
    api = APIClient()
    lon, lat = at(-500, 100)
    body = {
        "lon": lon,
        "lat": lat,
        "category": "nid-de-poule",
        "description": f"Trou {payload}",
        "address": f"12 rue {payload}"[:300],
        "contact": {"name": payload[:200], "email": "jeanne@example.net", "phone": "0612345678"},
    }
    filed = api.post("/api/signalements/", body, format="json")
    assert filed.status_code == 201, filed.content[:300]
    reference = filed.json()["reference"]
    for response in (filed, api.get(f"/api/signalements/{reference}/"), api.get("/api/signalements/")):
        # JSON, never sniffed as HTML, under a policy without inline scripts
        assert response["Content-Type"].startswith("application/json")
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    properties = api.get(f"/api/signalements/{reference}/").json()["properties"]
    # the text is kept as the citizen wrote it: data, neither stripped nor interpreted
    assert properties["description"] == f"Trou {payload}"


@pytest.mark.parametrize("payload", XSS)
def test_open311_xml_escapes_markup(client, world: World, payload):
    from signalements.open311 import keys

    _, key = keys.api_client_create(name="Appli")
    lon, lat = at(-500, 100)
    body = {"api_key": key, "service_code": "nid-de-poule", "lat": lat, "long": lon, "description": payload}
    filed = client.post("/open311/v2/requests.json", body)
    assert filed.status_code == 200, filed.content[:300]
    request_id = filed.json()[0]["service_request_id"]
    answer = client.get(f"/open311/v2/requests/{request_id}.xml")
    assert answer.status_code == 200
    text = answer.content.decode()
    assert payload not in text or "<" not in payload
    assert "<script>" not in text and "<svg" not in text and "<img" not in text


def test_the_admin_change_page_escapes_the_description(client, world: World):
    payload = "<script>alert('xss')</script>"
    lon, lat = at(-500, 100)
    body = {"lon": lon, "lat": lat, "category": "nid-de-poule", "description": payload}
    reference = APIClient().post("/api/signalements/", body, format="json").json()["reference"]
    report = Report.objects.get(reference=reference)
    admin = get_user_model().objects.create_superuser("chef", "chef@example.org", "x")
    client.force_login(admin)
    page = client.get(f"/admin/signalements/report/{report.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "&lt;script&gt;alert(" in text
    assert payload not in text
    listing = client.get("/admin/signalements/report/", {"q": payload})
    assert listing.status_code == 200
    assert payload not in listing.content.decode()
    assert html.escape(payload) in listing.content.decode() or "&lt;script&gt;" in listing.content.decode()


# --- SQL metacharacters in filters ----------------------------------------------------------------


def assert_no_server_error(response, allowed=(200, 204, 400, 404)) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code in allowed, (response.status_code, response.content[:300])


@pytest.mark.parametrize("payload", SQL)
@pytest.mark.parametrize(
    "name",
    ["category", "status", "service", "bbox", "created_after", "created_before", "page", "page_size"],
)
def test_public_list_filters(client, world: World, name, payload):
    assert_no_server_error(client.get("/api/signalements/", {name: payload}))


@pytest.mark.parametrize("payload", SQL)
@pytest.mark.parametrize(
    "name",
    ["state", "category", "service", "overdue", "assigned_to_me", "include_closed", "page", "page_size"],
)
def test_staff_queue_filters(client, world: World, name, payload):
    client.force_login(world.manager)
    assert_no_server_error(client.get("/api/tickets/", {name: payload}))


@pytest.mark.parametrize("payload", SQL)
@pytest.mark.parametrize("name", ["category", "status", "created_after", "created_before", "unknown"])
def test_report_tile_filters(client, world: World, name, payload):
    assert_no_server_error(client.get("/tiles/reports/14/8299/5636.mvt", {name: payload}))
    assert_no_server_error(client.get("/tiles/reports.json", {name: payload}))


@pytest.mark.parametrize("payload", SQL)
@pytest.mark.parametrize("name", ["bbox", "datetime", "limit", "offset", "f", "category"])
def test_ogc_items_filters(client, world: World, name, payload):
    assert_no_server_error(client.get("/ogc/collections/reports/items", {name: payload}))


@pytest.mark.parametrize("payload", SQL)
def test_metacharacters_in_path_parameters(client, world: World, payload):
    from urllib.parse import quote

    segment = quote(payload, safe="")
    for path in (
        f"/api/signalements/{segment}/",
        f"/ogc/collections/{segment}/items",
        f"/ogc/collections/reports/items/{segment}",
        f"/tiles/{segment}.json",
        f"/open311/v2/requests/{segment}.json",
    ):
        assert_no_server_error(client.get(path))


def test_a_huge_ogc_offset_answers_400(client, world: World):
    response = client.get("/ogc/collections/reports/items", {"offset": "9" * 40})
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("get", "/api/signalements/", {"category": "a\x00b"}),
        ("get", "/api/signalements/a%00b/", None),
        ("get", "/open311/v2/requests.json", {"service_code": "\x00"}),
        ("post", "/open311/v2/requests.json", {"api_key": "k", "description": "a\x00b"}),
        ("post", "/admin/login/", {"username": "a\x00b", "password": "x"}),
    ],
)
def test_nul_bytes_are_refused_with_400_before_any_view(client, world: World, method, path, data):
    if method == "post":
        form = urlencode(data)
        response = client.post(path, form, content_type="application/x-www-form-urlencoded")
    else:
        response = client.get(path, data) if data is not None else client.get(path)
    assert response.status_code == 400
    assert response.json()["code"] == "requete_illisible"
    assert response["Content-Security-Policy"]


@pytest.mark.parametrize("field", ["description", "address_string", "first_name", "email", "service_code"])
def test_nul_bytes_in_an_open311_multipart_form_are_no_server_error(client, world: World, field):
    from signalements.open311 import keys

    _, key = keys.api_client_create(name="Appli")
    lon, lat = at(-500, 100)
    body = {"api_key": key, "service_code": "nid-de-poule", "lat": lat, "long": lon, "description": "Trou"}
    body[field] = "a\x00b"
    response = client.post("/open311/v2/requests.json", body)
    assert response.status_code == 400, response.content[:300]


def test_a_nul_byte_in_basic_credentials_is_400_not_a_database_error(client, world: World):
    import base64

    token = base64.b64encode(b"respon\x00sable:x").decode()
    response = client.get("/api/tickets/", HTTP_AUTHORIZATION=f"Basic {token}")
    assert response.status_code == 400
    assert response.json()["code"] == "requete_illisible"
    # well-formed credentials still work
    good = base64.b64encode(b"responsable:x").decode()
    assert client.get("/api/tickets/", HTTP_AUTHORIZATION=f"Basic {good}").status_code == 200
