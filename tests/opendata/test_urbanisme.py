"""Open data of the urbanisme app: OGC API collections and exports of projects, contributions and
planning layers; only what is public, anonymised, with constant query counts."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlparse

import pytest
from django.contrib.gis.geos import LineString, Point

from opendata import exports
from tests.factories import PARIS_LAT, PARIS_LON, offset
from tests.opendata.urbanisme_world import FREE_TEXT, SECRETS, BilanWorld, build_bilan_world
from tests.urbanisme.world import build_concertation
from urbanisme import services
from urbanisme.models import Layer, LayerFeature, LayerKind, ProjectStatus

pytestmark = pytest.mark.django_db


@dataclass
class Urbanisme:
    world: BilanWorld
    current: Any  # a published project whose concertation is open today
    draft: Any  # a project taken back to draft, with a contribution
    features: list[LayerFeature]  # of the published layer
    hidden_feature: LayerFeature  # of an unpublished layer


def _feature(layer: Layer, geom: Any, **fields: Any) -> LayerFeature:
    return LayerFeature.objects.create(layer=layer, geom=geom, **fields)


@pytest.fixture
def urb() -> Urbanisme:
    world = build_bilan_world()
    current = build_concertation(slug="en-cours").project
    draft_c = build_concertation(slug="brouillon")
    services.contribution_create(
        project=draft_c.project, kind="idee", title="Projet pas public", text="…", geometry=draft_c.point()
    )
    services.project_set_status(project=draft_c.project, actor=draft_c.planner, status=ProjectStatus.DRAFT)
    project = world.project
    plan = Layer.objects.create(project=project, kind=LayerKind.VECTOR, name="Plan guide", slug="plan-guide")
    lon, lat = offset(PARIS_LON, PARIS_LAT, 100, 100)
    lon2, lat2 = offset(PARIS_LON, PARIS_LAT, 300, 100)
    features = [
        _feature(
            plan,
            Point(lon, lat, srid=4326),
            title="Îlot A",
            text="Logements et commerces.",
            properties={"hauteur": 12, "usage": "mixte"},
            created_by=world.c.planner,
        ),
        _feature(plan, LineString((lon, lat), (lon2, lat2), srid=4326), title="Nouvelle allée"),
    ]
    notes = Layer.objects.create(
        project=project, kind=LayerKind.ANNOTATION, name="Brouillon", slug="brouillon", is_published=False
    )
    hidden = _feature(notes, Point(lon2, lat2, srid=4326), title="Note interne")
    return Urbanisme(world, current, draft_c.project, features, hidden)


def get(client: Any, url: str, status: int = 200) -> Any:
    response = client.get(url)
    assert response.status_code == status, response.content[:300]
    return json.loads(response.content)


def path_of(url: str) -> str:
    parsed = urlparse(url)
    return f"{parsed.path}?{parsed.query}" if parsed.query else parsed.path


def no_secrets(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, secret


# --- OGC API ---------------------------------------------------------------------------------------


def test_collections_list_the_urbanisme_collections_with_extents(client: Any, urb: Urbanisme) -> None:
    by_id = {c["id"]: c for c in get(client, "/ogc/collections")["collections"]}
    assert {"projects", "contributions", "planning-features"} <= set(by_id)
    west, south, east, north = by_id["contributions"]["extent"]["spatial"]["bbox"][0]
    # From the register's line (20 m east) to the meeting entry in the margin (450 m east).
    assert west == pytest.approx(offset(PARIS_LON, PARIS_LAT, 20)[0], abs=1e-7)
    assert east == pytest.approx(offset(PARIS_LON, PARIS_LAT, 450)[0], abs=1e-7)
    assert PARIS_LAT < south < north
    start, end = by_id["contributions"]["extent"]["temporal"]["interval"][0]
    assert start.startswith("2026-03-10") and end.startswith("2026-04-10")
    assert by_id["projects"]["license"] == "etalab-2.0"


def test_projects_are_the_public_ones_with_their_current_phase(client: Any, urb: Urbanisme) -> None:
    body = get(client, "/ogc/collections/projects/items")
    assert {f["id"] for f in body["features"]} == {"bilan-marche", "en-cours"}
    assert body["numberMatched"] == 2
    current = get(client, "/ogc/collections/projects/items/en-cours")
    assert current["geometry"]["type"] == "MultiPolygon"
    props = current["properties"]
    assert props["current_phase"] == "concertation_prealable" and props["organisation"] == "Ville de Test"
    assert props["status"] == "publie" and props["title"] == "Réaménagement de la place du Marché"
    finished = get(client, "/ogc/collections/projects/items/bilan-marche")["properties"]
    assert finished["current_phase"] == ""  # the calendar ended in May
    assert get(client, "/ogc/collections/projects/items/brouillon", status=404)["code"] == "NotFound"


def test_contributions_are_published_ones_without_author_nor_pseudonym(client: Any, urb: Urbanisme) -> None:
    body = get(client, "/ogc/collections/contributions/items?limit=100")
    world = urb.world
    assert body["numberMatched"] == 10  # hidden, pending and the draft project's are not served
    by_id = {f["id"]: f for f in body["features"]}
    c1 = by_id[str(world.id("c1"))]["properties"]
    assert c1["title"] == "Plus de bancs sous les platanes" and c1["answered"] is True
    assert c1["kind"] == "idee" and c1["theme"] == "Mobilité" and c1["supports"] == 3
    assert c1["created_date"] == "2026-03-10" and c1["project"] == "bilan-marche"
    assert "pseudonym" not in c1 and "author" not in c1
    # As on the public page, the text is served live (a hidden contribution disappears at once).
    assert FREE_TEXT in c1["text"]
    assert by_id[str(world.id("c7"))]["properties"]["channel_detail"] is None
    assert by_id[str(world.id("c3"))]["geometry"]["type"] == "Polygon"
    text = json.dumps(body, ensure_ascii=False)
    no_secrets(text)
    hidden = world.id("c8")
    assert get(client, f"/ogc/collections/contributions/items/{hidden}", status=404)["code"] == "NotFound"


def test_contributions_filter_by_datetime_and_bbox_and_page(client: Any, urb: Urbanisme) -> None:
    world = urb.world
    # c3 was filed on Sunday 29 March, 22:30 UTC.
    body = get(
        client, "/ogc/collections/contributions/items?datetime=2026-03-29T00:00:00Z/2026-03-29T23:59:59Z"
    )
    assert [f["id"] for f in body["features"]] == [str(world.id("c3"))]
    west, south = offset(PARIS_LON, PARIS_LAT, 210, 10)
    east, north = offset(PARIS_LON, PARIS_LAT, 390, 290)
    east_side = get(client, f"/ogc/collections/contributions/items?bbox={west},{south},{east},{north}")
    assert {f["id"] for f in east_side["features"]} == {str(world.id(n)) for n in ("c2", "c3", "c7")}
    url = "/ogc/collections/contributions/items?limit=3"
    seen: list[str] = []
    pages = 0
    while url:
        page = get(client, url)
        pages += 1
        seen += [f["id"] for f in page["features"]]
        links = {link["rel"]: link for link in page["links"]}
        url = path_of(links["next"]["href"]) if "next" in links else ""
    assert pages == 4 and len(seen) == len(set(seen)) == 10


def test_planning_features_of_published_layers_only(client: Any, urb: Urbanisme) -> None:
    body = get(client, "/ogc/collections/planning-features/items")
    assert {f["id"] for f in body["features"]} == {str(f.pk) for f in urb.features}
    first = get(client, f"/ogc/collections/planning-features/items/{urb.features[0].pk}")
    assert first["properties"] == {
        "project": "bilan-marche",
        "layer": "plan-guide",
        "layer_name": "Plan guide",
        "layer_kind": "vector",
        "title": "Îlot A",
        "text": "Logements et commerces.",
        "attributes": {"hauteur": 12, "usage": "mixte"},
        "geometry_type": "Point",
    }
    get(client, f"/ogc/collections/planning-features/items/{urb.hidden_feature.pk}", status=404)
    no_secrets(json.dumps(body, ensure_ascii=False))


@pytest.mark.parametrize("collection", ["projects", "contributions", "planning-features"])
def test_query_count_per_page_is_constant(
    client: Any, urb: Urbanisme, collection: str, django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(3):
        get(client, f"/ogc/collections/{collection}/items?limit=1")
    with django_assert_max_num_queries(3):
        get(client, f"/ogc/collections/{collection}/items?limit=1000")


# --- Exports ---------------------------------------------------------------------------------------


def read_csv(client: Any, name: str) -> tuple[list[dict[str, str]], dict[str, Any], str]:
    schema = get(client, f"/opendata/{name}.schema.json")
    response = client.get(f"/opendata/{name}.csv")
    text = b"".join(response.streaming_content).decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert list(rows[0]) == [f["name"] for f in schema["fields"]] if rows else True
    return rows, schema, text


def test_contributions_export_is_anonymised(client: Any, urb: Urbanisme) -> None:
    rows, schema, text = read_csv(client, "contributions")
    assert schema["primaryKey"] == "id"
    names = [f["name"] for f in schema["fields"]]
    assert {"title", "text", "pseudonym", "author", "entered_by"}.isdisjoint(names)
    assert names[-2:] == ["lon", "lat"]
    assert len(rows) == 10
    by_id = {int(r["id"]): r for r in rows}
    c3 = by_id[urb.world.id("c3")]
    assert c3["created_date"] == "2026-03-30" and c3["answered"] == "false" and c3["kind"] == "inquietude"
    assert date.fromisoformat(by_id[urb.world.id("c1")]["first_answer_date"])
    assert by_id[urb.world.id("c4")]["channel_detail"] == "Réunion publique du 12 mars"
    assert by_id[urb.world.id("c7")]["channel_detail"] == ""
    geojson = b"".join(client.get("/opendata/contributions.geojson").streaming_content).decode()
    body = json.loads(geojson)
    assert len(body["features"]) == 10 and body["license"]["url"].startswith("https://www.etalab.gouv.fr/")
    for output in (text, geojson):
        no_secrets(output)
        assert FREE_TEXT not in output and "Plus de bancs" not in output and "Projet pas public" not in output


def test_projects_and_planning_exports(client: Any, urb: Urbanisme) -> None:
    rows, _schema, text = read_csv(client, "projets")
    assert sorted(r["slug"] for r in rows) == ["bilan-marche", "en-cours"]
    current = next(r for r in rows if r["slug"] == "en-cours")
    assert current["current_phase"] == "concertation_prealable" and current["lon"] and current["lat"]
    projects = json.loads(b"".join(client.get("/opendata/projets.geojson").streaming_content))
    assert {f["geometry"]["type"] for f in projects["features"]} == {"MultiPolygon"}
    rows, _schema, text = read_csv(client, "couches-projets")
    assert len(rows) == 2 and "Note interne" not in text
    island = next(r for r in rows if r["title"] == "Îlot A")
    assert json.loads(island["attributes"]) == {"hauteur": 12, "usage": "mixte"}
    layers = json.loads(b"".join(client.get("/opendata/couches-projets.geojson").streaming_content))
    assert {f["geometry"]["type"] for f in layers["features"]} == {"Point", "LineString"}
    assert {f["properties"]["attributes"].get("usage") for f in layers["features"]} == {"mixte", None}
    no_secrets(text)


def test_the_nightly_export_writes_the_urbanisme_files(urb: Urbanisme, settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path
    written = set(exports.exports_write())
    for name in ("projets", "contributions", "couches-projets"):
        assert {f"{name}.csv", f"{name}.geojson", f"{name}.schema.json"} <= written
    no_secrets((tmp_path / "opendata" / "contributions.geojson").read_text())
