"""Discovery, services and service definitions against the GeoReport v2 examples and schemas."""

from __future__ import annotations

import pytest

from tests.open311.conftest import (
    assert_valid,
    children,
    example_json,
    example_xml,
    json_of,
    xml_of,
)

pytestmark = pytest.mark.django_db


def test_discovery_json_has_the_keys_of_the_example_and_lists_both_formats(client, world):
    # when a client discovers the endpoint
    data = json_of(client.get("/open311/v2/discovery.json"))
    # then the document has the example's keys, and one endpoint of the v2 specification
    example = example_json("discovery.json")
    assert set(data) == set(example)
    assert [set(e) for e in data["endpoints"]] == [set(example["endpoints"][0])]
    endpoint = data["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2")
    assert endpoint["url"].startswith("http")
    assert endpoint["type"] in ("production", "test")
    assert endpoint["formats"] == ["text/xml", "application/json"]
    assert "T" in data["changeset"] and data["changeset"][-6] in "+-"
    assert "Ville de Test" in data["contact"]
    assert "api_key" in data["key_service"]


def test_discovery_xml_has_the_elements_of_the_example(client, world):
    root = xml_of(client.get("/open311/v2/discovery.xml"))
    example = example_xml("discovery.xml")
    assert root.tag == example.tag == "discovery"
    assert children(root) == children(example)
    endpoint, expected = root.find("endpoints/endpoint"), example.find("endpoints/endpoint")
    assert children(endpoint) == children(expected)
    assert [f.text for f in endpoint.findall("formats/format")] == ["text/xml", "application/json"]


def test_services_json_lists_leaf_categories_with_their_group(client, world):
    # when a client lists the services
    data = json_of(client.get("/open311/v2/services.json"))
    # then the answer is valid, has the keys of the example, and one entry per leaf category
    assert_valid(data, "services.json")
    for service in data:
        assert_valid(service, "service.json")
        assert set(service) == set(example_json("get_services.json")[0])
    by_code = {s["service_code"]: s for s in data}
    assert set(by_code) == {"nid-de-poule", "lampadaire"}  # « voirie » and « eclairage » are groups
    pothole = by_code["nid-de-poule"]
    assert pothole["service_name"] == "Nid de poule"
    assert pothole["group"] == "Voirie"
    assert pothole["metadata"] is False
    assert pothole["type"] == "realtime"
    assert "Voirie › Nid de poule" in pothole["description"]
    assert pothole["keywords"] == "Voirie, Nid de poule"


def test_inactive_categories_are_not_services(client, world):
    world.lampadaire.is_active = False
    world.lampadaire.save()
    codes = {s["service_code"] for s in json_of(client.get("/open311/v2/services.json"))}
    # « Éclairage » has no active child any more: it becomes a leaf itself, as report_create sees it
    assert codes == {"nid-de-poule", "eclairage"}


def test_services_xml_has_the_elements_of_the_example(client, world):
    root = xml_of(client.get("/open311/v2/services.xml"))
    example = example_xml("get_services.xml")
    assert root.tag == "services"
    assert {c.tag for c in root} == {"service"}
    expected = {tag for service in example for tag in children(service)}
    for service in root:
        assert set(children(service)) == expected
    pothole = next(s for s in root if s.findtext("service_code") == "nid-de-poule")
    assert pothole.findtext("metadata") == "false"
    assert pothole.findtext("group") == "Voirie"


def test_service_definition_answers_an_empty_attribute_list(client, world):
    # given a service without extra questions (metadata false)
    data = json_of(client.get("/open311/v2/services/nid-de-poule.json"))
    # then its definition is valid and has no attributes
    assert_valid(data, "service-definition.json")
    assert data == {"service_code": "nid-de-poule", "attributes": []}
    assert set(data) == set(example_json("get_service_definition_DMV66.json"))


def test_service_definition_xml(client, world):
    root = xml_of(client.get("/open311/v2/services/nid-de-poule.xml"))
    example = example_xml("get_service_definition_DMV66.xml")
    assert root.tag == example.tag == "service_definition"
    assert children(root) == children(example) == ["service_code", "attributes"]
    assert root.findtext("service_code") == "nid-de-poule"
    assert list(root.find("attributes")) == []


@pytest.mark.parametrize("code", ["inconnu", "voirie"])
def test_unknown_service_or_group_is_404_in_the_envelope(client, world, code):
    response = client.get(f"/open311/v2/services/{code}.json")
    assert response.status_code == 404
    body = json_of(response)
    assert set(body[0]) == set(example_json("error_403.http.json.txt")[0])
    assert body[0]["code"] == 404
    assert code in body[0]["description"]


def test_unknown_service_in_xml_is_the_xml_envelope(client, world):
    response = client.get("/open311/v2/services/inconnu.xml")
    assert response.status_code == 404
    root = xml_of(response)
    example = example_xml("error_403.http.xml.txt")
    assert root.tag == example.tag == "errors"
    assert children(root[0]) == children(example[0]) == ["code", "description"]
    assert root.findtext("error/code") == "404"


def test_jurisdiction_is_the_territory_slug(client, world):
    assert client.get("/open311/v2/services.json?jurisdiction_id=test").status_code == 200
    response = client.get("/open311/v2/services.json?jurisdiction_id=ailleurs")
    assert response.status_code == 404
    assert "ailleurs" in json_of(response)[0]["description"]


def test_other_paths_and_methods_answer_in_the_envelope(client, world):
    response = client.get("/open311/v2/services.csv")
    assert response.status_code == 404
    assert xml_of(response).findtext("error/code") == "404"
    response = client.post("/open311/v2/services.json")
    assert response.status_code == 405
    assert json_of(response)[0]["code"] == 405
    assert "GET" in response["Allow"]
