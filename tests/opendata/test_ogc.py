"""OGC API – Features: landing, conformance, collections, items (bbox, datetime, paging), errors."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.factories import PARIS_LAT, PARIS_LON
from tests.opendata.conftest import Town, no_personal_data
from tests.signalements.world import World, at

pytestmark = pytest.mark.django_db


def get(client: Any, url: str, *, status: int = 200, content_type: str = "application/json") -> Any:
    response = client.get(url)
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == f"{content_type}; charset=utf-8"
    return json.loads(response.content)


def links(body: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {link["rel"]: link for link in body["links"]}


def path_of(url: str) -> str:
    parsed = urlparse(url)
    assert parsed.scheme == "http" and parsed.netloc == "testserver"
    return f"{parsed.path}?{parsed.query}" if parsed.query else parsed.path


def test_landing_page_links_to_service_description_conformance_and_data(client: Any) -> None:
    body = get(client, "/ogc/")
    rels = links(body)
    assert {"self", "service-desc", "conformance", "data"} <= set(rels)
    assert rels["data"]["href"] == "http://testserver/ogc/collections"
    assert rels["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    openapi = get(
        client,
        path_of(rels["service-desc"]["href"]),
        content_type="application/vnd.oai.openapi+json;version=3.0",
    )
    assert openapi["openapi"].startswith("3.0")
    assert "/collections/{collectionId}/items" in openapi["paths"]
    assert get(client, "/ogc/?f=json") == body


def test_conformance_declares_core_geojson_and_oas30(client: Any) -> None:
    classes = get(client, "/ogc/conformance")["conformsTo"]
    for name in ("core", "geojson", "oas30"):
        assert f"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/{name}" in classes


def test_collections_list_reports_zones_and_territories_with_extents(client: Any, town: Town) -> None:
    body = get(client, "/ogc/collections")
    by_id = {c["id"]: c for c in body["collections"]}
    assert set(by_id) == {"reports", "zones", "territories", "projects", "contributions", "planning-features"}
    reports = by_id["reports"]
    west, south, east, north = reports["extent"]["spatial"]["bbox"][0]
    lons = [r.location.x for r in town.reports]
    lats = [r.location.y for r in town.reports]
    assert west == pytest.approx(min(lons)) and east == pytest.approx(max(lons))
    assert south == pytest.approx(min(lats)) and north == pytest.approx(max(lats))
    assert reports["extent"]["temporal"]["interval"] == [
        [town.reports[0].created_at.isoformat(), town.reports[-1].created_at.isoformat()]
    ]
    assert reports["crs"] == ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"]
    assert links(reports)["items"]["href"] == "http://testserver/ogc/collections/reports/items"
    territory = by_id["territories"]["extent"]["spatial"]["bbox"][0]
    assert territory[0] < PARIS_LON < territory[2] and territory[1] < PARIS_LAT < territory[3]
    assert get(client, "/ogc/collections/zones")["id"] == "zones"


def test_unknown_collection_and_feature_are_404_exceptions(client: Any, town: Town) -> None:
    for url in ("/ogc/collections/nope", "/ogc/collections/nope/items", "/ogc/collections/nope/items/1"):
        body = get(client, url, status=404)
        assert body["code"] == "NotFound" and "nope" in body["description"]
    assert get(client, "/ogc/collections/reports/items/SIG-0000-999999", status=404)["code"] == "NotFound"
    assert get(client, "/ogc/collections/zones/items/abc", status=404)["code"] == "NotFound"
    # An unpublished report does not exist for the public.
    get(client, f"/ogc/collections/reports/items/{town.hidden.reference}", status=404)


def test_items_are_geojson_with_public_fields_counts_and_links(client: Any, town: Town) -> None:
    body = get(client, "/ogc/collections/reports/items", content_type="application/geo+json")
    assert body["type"] == "FeatureCollection"
    assert body["numberMatched"] == body["numberReturned"] == len(town.reports)
    assert body["timeStamp"].endswith("Z")
    rels = links(body)
    assert {"self", "alternate", "collection"} <= set(rels) and "next" not in rels and "prev" not in rels
    assert rels["self"]["type"] == "application/geo+json"
    feature = next(f for f in body["features"] if f["id"] == town.reports[0].reference)
    lon, lat = at(-500, 100)
    assert feature["geometry"]["type"] == "Point"
    assert feature["geometry"]["coordinates"] == pytest.approx([lon, lat])
    props = feature["properties"]
    assert props["category"] == "nid-de-poule" and props["status"] == "pris_en_compte"
    assert props["service"] == "Voirie Ouest"
    assert town.hidden.reference not in json.dumps(body)
    no_personal_data(json.dumps(body, ensure_ascii=False))


def test_single_item_has_self_and_collection_links(client: Any, town: Town) -> None:
    ref = town.reports[2].reference
    body = get(client, f"/ogc/collections/reports/items/{ref}", content_type="application/geo+json")
    assert body["type"] == "Feature" and body["id"] == ref
    assert body["properties"]["category"] == "lampadaire"
    rels = links(body)
    assert rels["self"]["href"] == f"http://testserver/ogc/collections/reports/items/{ref}"
    assert rels["collection"]["href"] == "http://testserver/ogc/collections/reports"
    no_personal_data(json.dumps(body, ensure_ascii=False))


def test_zones_and_territories_items(client: Any, town: Town) -> None:
    zones = get(client, "/ogc/collections/zones/items", content_type="application/geo+json")
    by_name = {f["properties"]["name"]: f for f in zones["features"]}
    west = by_name["Secteur Ouest"]
    assert west["geometry"]["type"] == "MultiPolygon"
    assert west["properties"]["service"] == "Voirie Ouest"
    assert west["properties"]["service_id"] == town.world.west.pk
    assert west["properties"]["categories"] == ["voirie"]
    assert set(west["properties"]) == {
        "name",
        "service_id",
        "service",
        "priority",
        "all_categories",
        "categories",
        "valid_from",
        "valid_until",
    }
    one = get(client, f"/ogc/collections/zones/items/{west['id']}", content_type="application/geo+json")
    assert one["properties"]["name"] == "Secteur Ouest"
    territories = get(client, "/ogc/collections/territories/items", content_type="application/geo+json")
    assert territories["features"][0]["id"] == "test"
    assert territories["features"][0]["properties"] == {
        "name": "Test",
        "slug": "test",
        "organisation": "Ville de Test",
    }


def refs(body: dict[str, Any]) -> set[str]:
    return {f["id"] for f in body["features"]}


def test_bbox_selects_the_reports_inside(client: Any, town: Town) -> None:
    west, south = at(-1000, 0)
    east, north = at(-100, 1000)
    body = get(
        client,
        f"/ogc/collections/reports/items?bbox={west},{south},{east},{north}",
        content_type="application/geo+json",
    )
    assert refs(body) == {town.reports[0].reference}
    assert body["numberMatched"] == 1
    # The bbox is kept in the links.
    assert "bbox=" in links(body)["self"]["href"]


@pytest.mark.parametrize(
    "value",
    [
        "1,2,3",
        "a,b,c,d",
        "3,48,2,49",
        "2,49,3,48",
        "2,48,3,49,4,5",
        "2,48,200,49",
        "nan,48,3,49",
        "2,48,inf,49",
    ],
)
def test_bad_bbox_is_a_400_exception_in_french(client: Any, town: Town, value: str) -> None:
    body = get(client, f"/ogc/collections/reports/items?bbox={value}", status=400)
    assert body["code"] == "InvalidParameterValue"
    assert "bbox" in body["description"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-12-31", [1]),  # a date: the whole day (UTC)
        ("2025-12-31T23:30:00Z", [1]),  # an instant
        ("2026-01-01T01:30:00%2B01:00", [2]),  # an instant with an offset
        ("2025-12-31T00:00:00Z/2026-01-01T23:59:59Z", [1, 2]),
        ("../2026-01-01", [0, 1, 2]),  # open start; the end date is included
        ("2026-01-01/..", [2, 3, 4]),
        ("/2025-12-31T23:00:00Z", [0]),  # empty bound = open
        ("2026-03-10/2026-06-01", [3, 4]),
    ],
)
def test_datetime_filters_on_created_at(client: Any, town: Town, value: str, expected: list[int]) -> None:
    body = get(
        client, f"/ogc/collections/reports/items?datetime={value}", content_type="application/geo+json"
    )
    assert refs(body) == {town.reports[i].reference for i in expected}
    assert body["numberMatched"] == len(expected)


@pytest.mark.parametrize(
    "value",
    [
        "hier",
        "2026-13-01",
        "2026-01-01T10:00:00",
        "../..",
        "2026-02-01/2026-01-01",
        "a/b/c",
        "2026-01-01T25:00:00Z",
    ],
)
def test_bad_datetime_is_a_400_exception(client: Any, town: Town, value: str) -> None:
    body = get(client, f"/ogc/collections/reports/items?datetime={value}", status=400)
    assert body == {"code": "InvalidParameterValue", "description": body["description"]}
    assert "datetime" in body["description"]


def test_datetime_on_zones_is_their_validity(client: Any, town: Town) -> None:
    from geo.models import Zone

    Zone.objects.filter(name="Secteur Ouest").update(valid_until="2025-01-31")
    body = get(
        client, "/ogc/collections/zones/items?datetime=2026-01-01", content_type="application/geo+json"
    )
    assert {f["properties"]["name"] for f in body["features"]} == {"Secteur Est"}


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5"])
def test_bad_limit_is_a_400_exception(client: Any, town: Town, value: str) -> None:
    body = get(client, f"/ogc/collections/reports/items?limit={value}", status=400)
    assert body["code"] == "InvalidParameterValue" and "limit" in body["description"]


def test_limit_above_the_maximum_is_clamped_and_unknown_parameters_ignored(client: Any, town: Town) -> None:
    body = get(
        client, "/ogc/collections/reports/items?limit=5000&foo=bar", content_type="application/geo+json"
    )
    assert body["numberReturned"] == len(town.reports)
    assert "limit=1000" in links(body)["self"]["href"]
    assert get(client, "/ogc/collections/reports/items?f=html", status=400)["code"] == "InvalidParameterValue"


def test_paging_through_next_links_visits_every_report_once(client: Any, town: Town) -> None:
    url = "/ogc/collections/reports/items?limit=2&datetime=../2030-01-01"
    seen: list[str] = []
    pages = 0
    while url:
        body = get(client, url, content_type="application/geo+json")
        pages += 1
        assert body["numberMatched"] == len(town.reports)
        assert body["numberReturned"] == len(body["features"]) <= 2
        seen += [f["id"] for f in body["features"]]
        rels = links(body)
        if pages > 1:
            assert "prev" in rels
            assert parse_qs(urlparse(rels["prev"]["href"]).query)["datetime"] == ["../2030-01-01"]
        url = path_of(rels["next"]["href"]) if "next" in rels else ""
    assert pages == 3
    assert sorted(seen) == sorted(r.reference for r in town.reports)


@pytest.mark.parametrize("collection", ["reports", "zones", "territories"])
def test_query_count_per_page_is_constant(
    client: Any, town: Town, world: World, collection: str, django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(3):
        get(client, f"/ogc/collections/{collection}/items?limit=1", content_type="application/geo+json")
    with django_assert_max_num_queries(3):
        get(client, f"/ogc/collections/{collection}/items?limit=1000", content_type="application/geo+json")
