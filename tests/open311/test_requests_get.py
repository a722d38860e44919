"""GET requests, one request, tokens: the spec's shapes, our filters, and never personal data."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.open311.conftest import (
    Town,
    assert_valid,
    children,
    example_json,
    example_xml,
    json_of,
    no_personal_data,
    swagger_validator,
    xml_of,
)

pytestmark = pytest.mark.django_db


def ids(data: list[dict]) -> set[str]:
    return {r["service_request_id"] for r in data}


def test_requests_json_is_valid_and_has_the_keys_of_the_example(client, town: Town):
    # when a client lists the requests, without any parameter
    response = client.get("/open311/v2/requests.json")
    data = json_of(response)
    # then every request of the last 90 days is there, newest first, valid against the schema
    assert_valid(data, "requests.json")
    assert [r["service_request_id"] for r in data] == [
        town.lamp.reference,
        town.east.reference,
        town.west.reference,
    ]
    expected = set(example_json("get_requests.json")[0])
    for request in data:
        assert_valid(request, "request.json")
        assert set(request) == expected
    no_personal_data(response.content.decode())


def test_a_request_maps_our_workflow_onto_open_and_closed(client, town: Town):
    data = {r["service_request_id"]: r for r in json_of(client.get("/open311/v2/requests.json"))}
    west, east, lamp = data[town.west.reference], data[town.east.reference], data[town.lamp.reference]
    # the detailed state and the last public message are in status_notes
    assert west["status"] == "open"
    assert west["status_notes"] == "Pris en compte : Nous intervenons mardi."
    assert east["status"] == "closed"
    assert east["status_notes"] == "Résolu : Rebouché."
    assert lamp["status"] == "open"
    assert lamp["status_notes"] == "Nouveau : Une équipe passe cette semaine."
    # the category is the service, the routed service the agency, the routing explanation the notice
    assert west["service_code"] == "nid-de-poule"
    assert west["service_name"] == "Nid de poule"
    assert west["agency_responsible"] == "Voirie Ouest"
    assert east["agency_responsible"] == "Voirie Est"
    assert lamp["agency_responsible"] == "Éclairage public"
    assert "Secteur Ouest" in west["service_notice"]
    assert west["description"] == "Trou profond devant le 12"
    assert west["address"] == "12 rue de l'Ouest"
    assert east["address"] is None
    assert isinstance(west["lat"], float) and isinstance(west["long"], float)
    assert west["lat"] == pytest.approx(town.west.location.y)
    assert west["long"] == pytest.approx(town.west.location.x)


def test_dates_are_iso_8601_with_their_offset(client, town: Town):
    request = next(
        r for r in json_of(client.get("/open311/v2/requests.json")) if r["service_code"] == "nid-de-poule"
    )
    for key in ("requested_datetime", "updated_datetime", "expected_datetime"):
        assert request[key][-6] in "+-" and request[key][-3] == ":", request[key]
    town.west.ticket.refresh_from_db()
    expected = timezone.localtime(town.west.ticket.due_at).isoformat(timespec="seconds")
    west = {r["service_request_id"]: r for r in json_of(client.get("/open311/v2/requests.json"))}[
        town.west.reference
    ]
    assert west["expected_datetime"] == expected  # the ticket's due date


def test_a_closed_request_was_updated_when_it_was_closed(client, town: Town):
    town.east.ticket.refresh_from_db()
    east = json_of(client.get(f"/open311/v2/requests/{town.east.reference}.json"))[0]
    assert east["updated_datetime"] == timezone.localtime(town.east.ticket.closed_at).isoformat(
        timespec="seconds"
    )


def test_media_url_is_the_absolute_url_of_the_exif_free_web_copy(client, town: Town):
    data = {r["service_request_id"]: r for r in json_of(client.get("/open311/v2/requests.json"))}
    photo = town.west.photos.get()
    assert data[town.west.reference]["media_url"] == f"{settings.PUBLIC_BASE_URL}{photo.web.url}"
    assert photo.web.url.startswith("/media/photos/")
    assert data[town.east.reference]["media_url"] is None


def test_requests_xml_has_the_elements_of_the_example(client, town: Town):
    response = client.get("/open311/v2/requests.xml")
    root = xml_of(response)
    example = example_xml("get_requests.xml")
    assert root.tag == example.tag == "service_requests"
    assert {c.tag for c in root} == {"request"}
    assert len(root) == 3
    for request in root:
        assert children(request) == children(example[0])
    west = next(r for r in root if r.findtext("service_request_id") == town.west.reference)
    assert west.findtext("status") == "open"
    assert west.findtext("agency_responsible") == "Voirie Ouest"
    assert float(west.findtext("lat")) == pytest.approx(town.west.location.y)
    assert west.findtext("zipcode") == ""  # absent values are empty elements, as in the example
    no_personal_data(response.content.decode())


def test_filter_by_service_code(client, town: Town):
    data = json_of(client.get("/open311/v2/requests.json?service_code=lampadaire"))
    assert ids(data) == {town.lamp.reference}
    data = json_of(client.get("/open311/v2/requests.json?service_code=nid-de-poule,lampadaire"))
    assert len(data) == 3
    assert json_of(client.get("/open311/v2/requests.json?service_code=inconnu")) == []


def test_filter_by_status(client, town: Town):
    assert ids(json_of(client.get("/open311/v2/requests.json?status=closed"))) == {town.east.reference}
    assert ids(json_of(client.get("/open311/v2/requests.json?status=open"))) == {
        town.west.reference,
        town.lamp.reference,
    }
    assert len(json_of(client.get("/open311/v2/requests.json?status=open,closed"))) == 3
    response = client.get("/open311/v2/requests.json?status=fixed")
    assert response.status_code == 400
    assert "fixed" in json_of(response)[0]["description"]


def test_filter_by_dates(client, town: Town):
    now = timezone.now()
    # the old report is outside the default window of 90 days, inside an explicit one
    start = quote((now - timedelta(days=130)).isoformat(timespec="seconds"))
    end = quote((now - timedelta(days=100)).isoformat(timespec="seconds"))
    data = json_of(client.get(f"/open311/v2/requests.json?start_date={start}&end_date={end}"))
    assert ids(data) == {town.old.reference}
    # a plain date, and a Z time
    today = timezone.localdate()
    data = json_of(client.get(f"/open311/v2/requests.json?start_date={today.isoformat()}"))
    assert len(data) == 3
    future = (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert json_of(client.get(f"/open311/v2/requests.json?start_date={future}")) == []
    # an unencoded « + » of an offset arrives as a space: still understood
    raw = (now - timedelta(days=1)).isoformat(timespec="seconds")
    assert len(json_of(client.get(f"/open311/v2/requests.json?start_date={raw}"))) == 3


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("start_date=hier", "start_date"),
        ("start_date=2026-01-01&end_date=2025-01-01", "start_date"),
        ("start_date=2025-01-01&end_date=2025-06-01", "90 jours"),
        ("page=0", "page"),
        ("page_size=1001", "page_size"),
    ],
)
def test_bad_parameters_are_400(client, town: Town, query, words):
    response = client.get(f"/open311/v2/requests.json?{query}")
    assert response.status_code == 400
    body = json_of(response)
    assert body[0]["code"] == 400
    assert words in body[0]["description"]


def test_service_request_id_overrides_the_other_filters(client, town: Town):
    query = f"service_request_id={town.old.reference},{town.east.reference}&status=open"
    assert ids(json_of(client.get(f"/open311/v2/requests.json?{query}"))) == {
        town.old.reference,
        town.east.reference,
    }


def test_filter_by_jurisdiction(client, town: Town):
    assert len(json_of(client.get("/open311/v2/requests.json?jurisdiction_id=test"))) == 3
    response = client.get("/open311/v2/requests.json?jurisdiction_id=ailleurs")
    assert response.status_code == 404


def test_paging_extension(client, town: Town):
    first = client.get("/open311/v2/requests.json?page_size=2")
    assert [r["service_request_id"] for r in json_of(first)] == [town.lamp.reference, town.east.reference]
    assert 'rel="next"' in first["Link"] and "page=2" in first["Link"]
    second = client.get("/open311/v2/requests.json?page_size=2&page=2")
    assert [r["service_request_id"] for r in json_of(second)] == [town.west.reference]
    assert not second.has_header("Link")
    assert json_of(client.get("/open311/v2/requests.json?page_size=2&page=3")) == []


def test_listing_costs_a_fixed_number_of_queries(client, town: Town):
    with CaptureQueriesContext(connection) as few:
        client.get("/open311/v2/requests.json?service_request_id=" + town.west.reference)
    with CaptureQueriesContext(connection) as many:
        client.get("/open311/v2/requests.json")
    assert len(many) == len(few) == 2  # the reports (with their last public message), their photos


def test_unpublished_reports_are_not_listed(client, town: Town):
    town.lamp.published = False
    town.lamp.save(update_fields=["published"])
    assert town.lamp.reference not in ids(json_of(client.get("/open311/v2/requests.json")))
    assert client.get(f"/open311/v2/requests/{town.lamp.reference}.json").status_code == 404


# --- One request --------------------------------------------------------------------------------


def test_one_request_is_an_array_of_one(client, town: Town):
    response = client.get(f"/open311/v2/requests/{town.west.reference}.json")
    data = json_of(response)
    assert_valid(data, "requests.json")
    assert isinstance(data, list) and len(data) == 1
    assert set(data[0]) == set(example_json("get_request_638344.json")[0])
    assert data[0]["service_request_id"] == town.west.reference
    no_personal_data(response.content.decode())


def test_one_request_in_xml(client, town: Town):
    root = xml_of(client.get(f"/open311/v2/requests/{town.east.reference}.xml"))
    example = example_xml("get_request_638344.xml")
    assert root.tag == example.tag == "service_requests"
    assert len(root) == 1
    assert children(root[0]) == children(example[0])
    assert root.findtext("request/status") == "closed"


def test_an_unknown_request_is_404_in_the_envelope(client, town: Town):
    response = client.get("/open311/v2/requests/SIG-1999-000001.json")
    assert response.status_code == 404
    assert json_of(response) == [{"code": 404, "description": "Demande introuvable : « SIG-1999-000001 »."}]
    response = client.get("/open311/v2/requests/SIG-1999-000001.xml")
    assert response.status_code == 404
    assert xml_of(response).findtext("error/code") == "404"


# --- Tokens ---------------------------------------------------------------------------------------


def test_a_request_id_is_its_own_token(client, town: Town):
    response = client.get(f"/open311/v2/tokens/{town.west.reference}.json")
    data = json_of(response)
    assert data == [{"service_request_id": town.west.reference, "token": town.west.reference}]
    assert set(data[0]) == set(example_json("get_token_response.json")[0])
    assert_valid(data[0], swagger_validator("TokenResponse"))
    root = xml_of(client.get(f"/open311/v2/tokens/{town.west.reference}.xml"))
    example = example_xml("get_token_response.xml")
    assert root.tag == example.tag and children(root[0]) == children(example[0])
    assert client.get("/open311/v2/tokens/inconnu.json").status_code == 404


# --- Privacy ------------------------------------------------------------------------------------


def test_no_personal_data_nor_internal_note_in_any_get_answer(client, town: Town):
    ref = town.west.reference
    paths = [
        "requests.json",
        "requests.xml",
        f"requests/{ref}.json",
        f"requests/{ref}.xml",
        f"tokens/{ref}.json",
        "servicerequestupdates.json",
        "servicerequestupdates.xml",
        "services.json",
        "discovery.json",
    ]
    for path in paths:
        response = client.get(f"/open311/v2/{path}")
        assert response.status_code == 200, path
        no_personal_data(response.content.decode())
