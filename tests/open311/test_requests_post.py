"""POST requests: the API key, the spec's parameters, filing through report_create, the error envelope."""

from __future__ import annotations

import pytest

from geo.models import Territory
from signalements.models import ApiClient, Channel, Report, ReportContact, TicketEvent
from tests.factories import TerritoryFactory, square
from tests.open311.conftest import (
    ApiKey,
    assert_valid,
    children,
    example_json,
    example_xml,
    json_of,
    swagger_validator,
    xml_of,
)
from tests.signalements.world import World, at

pytestmark = pytest.mark.django_db

# The swagger definition types account_id as a string, but the spec's example answers null (we have
# no accounts): the answer is checked against the definition with that one property relaxed.
POST_ANSWER = swagger_validator("RequestResponse", account_id={"type": ["string", "null"]})


def form(key: str | None, **overrides: object) -> dict[str, object]:
    lon, lat = at(-500, 100)
    body: dict[str, object] = {
        "jurisdiction_id": "test",
        "service_code": "nid-de-poule",
        "lat": lat,
        "long": lon,
        "address_string": "12 rue de l'Ouest",
        "email": "jeanne.martin@example.net",
        "first_name": "Jeanne",
        "last_name": "Martin",
        "phone": "06 12 34 56 78",
        "device_id": "tt222111",
        "account_id": "123456",
        "description": "Un trou profond dans la chaussée",
        "media_url": "http://farm3.static.flickr.com/2002/2212426634_5ed477a060.jpg",
        "attribute[WHISPAWN]": "123456",
        **overrides,
    }
    if key is not None:
        body["api_key"] = key
    return {k: v for k, v in body.items() if v is not None}


def post(client, fmt: str = "json", query: str = "", **body):  # type: ignore[no-untyped-def]
    return client.post(f"/open311/v2/requests.{fmt}{query}", body)


def test_a_valid_post_files_a_report_through_the_filing_service(client, api_key: ApiKey):
    # when an application posts a request with its key, as the spec's example does
    response = post(client, **form(api_key.key))
    # then the answer is 200 with a list of one: the id, the routing explanation, no account
    assert response.status_code == 200, response.content
    data = json_of(response)
    assert isinstance(data, list) and len(data) == 1
    assert set(data[0]) == set(example_json("post_request_response.json")[0])
    assert_valid(data[0], POST_ANSWER)
    answer = data[0]
    assert answer["account_id"] is None
    assert "Secteur Ouest" in answer["service_notice"]
    # and the report was filed by the Open311 channel, routed, with its reporter apart
    report = Report.objects.get(reference=answer["service_request_id"])
    assert report.channel == Channel.OPEN311
    assert report.address == "12 rue de l'Ouest"
    assert report.description == "Un trou profond dans la chaussée"
    assert report.ticket.service.name == "Voirie Ouest"
    contact = ReportContact.objects.get(report=report)
    assert (contact.name, contact.email, contact.phone) == (
        "Jeanne Martin",
        "jeanne.martin@example.net",
        "0612345678",
    )
    assert contact.consent_to_contact is False
    assert TicketEvent.objects.filter(ticket=report.ticket, kind=TicketEvent.Kind.CREATED).count() == 1
    api_key.client.refresh_from_db()
    assert api_key.client.last_used_at is not None


def test_the_answer_in_xml_has_the_elements_of_the_example(client, api_key: ApiKey):
    response = post(client, "xml", **form(api_key.key))
    assert response.status_code == 200
    root = xml_of(response)
    example = example_xml("post_request_response.xml")
    assert root.tag == example.tag == "service_requests"
    assert len(root) == 1
    assert children(root[0]) == children(example[0])
    assert root.findtext("request/service_request_id").startswith("SIG-")
    assert root.findtext("request/account_id") == ""


def test_the_key_may_be_in_the_query_string(client, api_key: ApiKey):
    response = post(client, query=f"?api_key={api_key.key}", **form(None))
    assert response.status_code == 200


def test_without_a_key_it_is_403_in_the_envelope_of_the_example(client, world: World):
    before = Report.objects.count()
    response = post(client, **form(None))
    assert response.status_code == 403
    body = json_of(response)
    assert [set(e) for e in body] == [set(e) for e in example_json("error_403.http.json.txt")]
    assert body[0]["code"] == 403
    assert "api_key" in body[0]["description"]
    response = post(client, "xml", **form(None))
    assert response.status_code == 403
    root = xml_of(response)
    example = example_xml("error_403.http.xml.txt")
    assert root.tag == example.tag and children(root[0]) == children(example[0])
    assert root.findtext("error/code") == "403"
    assert Report.objects.count() == before


def test_an_unknown_or_inactive_key_is_403(client, api_key: ApiKey):
    assert post(client, **form("pas-une-cle")).status_code == 403
    ApiClient.objects.filter(pk=api_key.client.pk).update(is_active=False)
    response = post(client, **form(api_key.key))
    assert response.status_code == 403
    assert json_of(response)[0]["description"] == "Clé d'API (api_key) invalide ou désactivée."
    assert not Report.objects.exists()


def test_only_the_hash_of_the_key_is_stored(api_key: ApiKey):
    stored = ApiClient.objects.values_list("key_hash", "key_prefix").get(pk=api_key.client.pk)
    assert api_key.key not in stored
    assert len(stored[0]) == 64 and api_key.key.startswith(stored[1])


@pytest.mark.parametrize("code", ["inconnu", "voirie"])
def test_an_unknown_service_is_404(client, api_key: ApiKey, code):
    response = post(client, **form(api_key.key, service_code=code))
    assert response.status_code == 404
    body = json_of(response)
    assert body[0]["code"] == 404
    assert code in body[0]["description"]


def test_outside_the_territory_is_400_with_a_clear_description(client, api_key: ApiKey):
    # given a point 10 km away from the town, with and without a jurisdiction
    lon, lat = at(10_000, 0)
    for extra in ({}, {"jurisdiction_id": None}):
        response = post(client, **form(api_key.key, lat=lat, long=lon, **extra))
        assert response.status_code == 400
        body = json_of(response)
        assert body[0]["code"] == 400
        assert "hors du territoire couvert" in body[0]["description"]
    assert not Report.objects.exists()


def test_a_point_outside_the_given_jurisdiction_is_400(client, api_key: ApiKey, world: World):
    # given a second territory next door, covering the point but not named
    TerritoryFactory(
        name="Voisine", slug="voisine", organisation=world.organisation, geom=square(3000, -2000, 6000, 2000)
    )
    lon, lat = at(4000, 0)
    response = post(client, **form(api_key.key, lat=lat, long=lon, jurisdiction_id="test"))
    assert response.status_code == 400
    assert "hors du territoire couvert « Test »" in json_of(response)[0]["description"]


def test_an_unknown_jurisdiction_is_404(client, api_key: ApiKey):
    response = post(client, **form(api_key.key, jurisdiction_id="ailleurs"))
    assert response.status_code == 404
    assert "ailleurs" in json_of(response)[0]["description"]


def test_a_client_restricted_to_other_territories_is_403(client, world: World):
    from signalements.open311 import keys

    other = TerritoryFactory(
        name="Voisine", slug="voisine", organisation=world.organisation, geom=square(3000, -2000, 6000, 2000)
    )
    _client, key = keys.api_client_create(name="Appli voisine", jurisdictions=[other])
    assert post(client, **form(key)).status_code == 403
    assert post(client, **form(key, jurisdiction_id=None)).status_code == 403
    assert not Report.objects.exists()
    assert Territory.objects.count() == 2


@pytest.mark.parametrize(
    "overrides",
    [
        {"lat": None, "long": None},
        {"long": None},
        {"lat": None, "long": None, "address_id": "545483"},
    ],
)
def test_without_coordinates_it_is_400_since_we_have_no_geocoder(client, api_key: ApiKey, overrides):
    response = post(client, **form(api_key.key, **overrides))
    assert response.status_code == 400
    description = json_of(response)[0]["description"]
    assert "lat et long" in description and "ne géocode pas" in description


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"service_code": None}, "service_code est obligatoire"),
        ({"description": None}, "description est obligatoire"),
        ({"lat": "nord"}, "lat : un nombre décimal est attendu"),
        ({"lat": "95"}, "Latitude hors limites"),
        ({"email": "pas-une-adresse"}, "email : Adresse e-mail invalide."),
    ],
)
def test_bad_input_is_400_with_a_description(client, api_key: ApiKey, overrides, words):
    response = post(client, **form(api_key.key, **overrides))
    assert response.status_code == 400
    assert words in json_of(response)[0]["description"]
    assert not Report.objects.exists()


def test_an_idempotency_key_files_once_and_is_a_token(client, api_key: ApiKey):
    # when a phone retries the same post with the same Idempotency-Key
    first = client.post("/open311/v2/requests.json", form(api_key.key), HTTP_IDEMPOTENCY_KEY="abc-123")
    again = client.post("/open311/v2/requests.json", form(api_key.key), HTTP_IDEMPOTENCY_KEY="abc-123")
    # then one report only, and the same answer
    assert json_of(first) == json_of(again)
    assert Report.objects.count() == 1
    reference = json_of(first)[0]["service_request_id"]
    # and the key is a token for this client (its api_key in the query string)
    response = client.get(f"/open311/v2/tokens/abc-123.json?api_key={api_key.key}")
    assert json_of(response) == [{"service_request_id": reference, "token": "abc-123"}]
    assert client.get("/open311/v2/tokens/abc-123.json").status_code == 404
    # another client's same key is another report
    from signalements.open311 import keys

    _other, other_key = keys.api_client_create(name="Autre appli")
    client.post("/open311/v2/requests.json", form(other_key), HTTP_IDEMPOTENCY_KEY="abc-123")
    assert Report.objects.count() == 2


def test_personal_data_of_a_post_never_comes_back_in_get(client, api_key: ApiKey):
    reference = json_of(post(client, **form(api_key.key)))[0]["service_request_id"]
    response = client.get(f"/open311/v2/requests/{reference}.json")
    text = response.content.decode()
    assert reference in text
    for fragment in ("Jeanne", "Martin", "jeanne.martin", "12 34 56 78", "0612345678", "tt222111", "flickr"):
        assert fragment not in text


def test_posting_needs_no_csrf_token_since_the_key_authenticates(api_key: ApiKey):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/open311/v2/requests.json", form(api_key.key)).status_code == 200


@pytest.fixture
def english_catalogue() -> None:
    """The .mo is generated and git-ignored: compile it when missing or stale (as tests/test_i18n.py does)."""
    from django.core.management import call_command
    from django.utils.translation.reloader import translation_file_changed

    from tests.test_i18n import MO_PATH, PO_PATH

    if not MO_PATH.exists() or MO_PATH.stat().st_mtime < PO_PATH.stat().st_mtime:
        call_command("compilemessages", locale=["en"], ignore_patterns=[".venv", "node_modules"], verbosity=0)
        translation_file_changed(sender=None, file_path=MO_PATH)


def test_descriptions_follow_the_request_language(client, api_key: ApiKey, english_catalogue):
    response = client.post("/open311/v2/requests.json", form(None), HTTP_ACCEPT_LANGUAGE="en")
    assert json_of(response) == [{"code": 403, "description": "Missing API key: add the api_key parameter."}]
