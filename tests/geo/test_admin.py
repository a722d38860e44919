"""Every geo admin page opens for a superuser, geometry pages carry the Leaflet widget, lists stay cheap."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from geo.demo import demo_load
from geo.models import Territory, Zone

pytestmark = pytest.mark.django_db

MODELS = [
    "organisation",
    "service",
    "category",
    "territory",
    "zone",
    "networklayer",
    "networkfeature",
    "membership",
    "defaultservice",
]


@pytest.fixture
def admin_client(client):  # type: ignore[no-untyped-def]
    demo_load()
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.org", "x"))
    return client


@pytest.mark.parametrize("model", MODELS)
def test_changelists_open(admin_client, model):
    response = admin_client.get(f"/admin/geo/{model}/")
    assert response.status_code == 200


@pytest.mark.parametrize(("model", "klass"), [("zone", Zone), ("territory", Territory)])
def test_geometry_pages_show_a_leaflet_map(admin_client, model, klass):
    pk = klass.objects.first().pk
    for url in (f"/admin/geo/{model}/{pk}/change/", f"/admin/geo/{model}/add/"):
        html = admin_client.get(url).content.decode()
        assert "leaflet" in html.lower()
        assert "unpkg.com" not in html and "cdn.jsdelivr" not in html


def test_zone_list_shows_geodesic_hectares_in_one_query(admin_client):
    with CaptureQueriesContext(connection) as queries:
        html = admin_client.get("/admin/geo/zone/").content.decode()
    # the 17e arrondissement covers 567 ha; the area comes with the list query, not one per row
    assert "566,9 ha" in html or "567,0 ha" in html or "566,8 ha" in html
    zone_queries = [q for q in queries.captured_queries if "geo_zone" in q["sql"] and "ST_Area" in q["sql"]]
    assert len(zone_queries) == 1
