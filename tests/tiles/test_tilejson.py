"""TileJSON 3.0.0 documents and the list of layers."""

from __future__ import annotations

import pytest

from tests.signalements.world import at
from tiles import layers

pytestmark = pytest.mark.django_db


def test_reports_tilejson(world, client):
    response = client.get("/tiles/reports.json")
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("public, max-age=")
    doc = response.json()
    assert doc["tilejson"] == "3.0.0"
    assert doc["tiles"] == ["http://testserver/tiles/reports/{z}/{x}/{y}.mvt"]
    assert (doc["minzoom"], doc["maxzoom"]) == (layers.REPORTS.minzoom, layers.REPORTS.maxzoom)
    # bounds: the served territory (4 km around the Hôtel de Ville), west, south, east, north
    west, south, east, north = doc["bounds"]
    lon, lat = at(0, 0)
    assert west < lon < east and south < lat < north
    assert east - west < 0.06 and north - south < 0.04
    [vector_layer] = doc["vector_layers"]
    assert vector_layer["id"] == "reports"
    fields = vector_layer["fields"]
    assert set(fields) == {f.name for f in layers.REPORTS.fields} | {"count"}
    assert fields["reference"].startswith("String")
    assert fields["support_count"].startswith("Number")
    assert fields["count"].startswith("Number")


def test_filters_carry_into_the_tiles_url_and_are_validated(world, client):
    doc = client.get("/tiles/reports.json?status=nouveau,resolu&utm=x").json()
    assert doc["tiles"] == ["http://testserver/tiles/reports/{z}/{x}/{y}.mvt?status=nouveau,resolu"]
    bad = client.get("/tiles/reports.json?status=perdu")
    assert bad.status_code == 400 and bad.json()["code"] == "etat_inconnu"


def test_zones_tilejson_fields_and_bounds_of_zones(world, client):
    doc = client.get("/tiles/zones.json").json()
    fields = doc["vector_layers"][0]["fields"]
    assert fields["service"].startswith("String") and fields["service_id"].startswith("Number")
    assert fields["all_categories"].startswith("Boolean")
    assert doc["bounds"][0] < at(0, 0)[0] < doc["bounds"][2]


def test_tilejson_without_data_has_world_bounds(db, client):
    assert client.get("/tiles/territories.json").json()["bounds"] == [
        -180.0,
        -85.0511287798066,
        180.0,
        85.0511287798066,
    ]


def test_index_lists_layers(db, client):
    doc = client.get("/tiles/").json()
    names = {layer["name"] for layer in doc["vector"]}
    assert {"reports", "zones", "territories", "network"} <= names
    reports = next(layer for layer in doc["vector"] if layer["name"] == "reports")
    assert reports["tilejson"] == "http://testserver/tiles/reports.json"
    assert set(reports["filters"]) == {"category", "status", "created_after", "created_before"}
