"""The signalements admin pages open for a superuser (the outbox admin is tested in tests/geo)."""

import pytest
from django.contrib.auth import get_user_model

from signalements.models import Report, Ticket
from signalements.services import ContactInput, report_create
from tests.signalements.world import World, at

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, world: World):  # type: ignore[no-untyped-def]
    lon, lat = at(-300, 0)
    report_create(
        category="nid-de-poule",
        lon=lon,
        lat=lat,
        description="Trou",
        contact=ContactInput(email="a@example.net"),
    )
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.org", "x"))
    return client


@pytest.mark.parametrize(("model", "klass"), [("report", Report), ("ticket", Ticket)])
def test_changelists_and_change_pages_open(admin_client, model, klass):
    assert admin_client.get(f"/admin/signalements/{model}/").status_code == 200
    pk = klass.objects.first().pk
    assert admin_client.get(f"/admin/signalements/{model}/{pk}/change/").status_code == 200


def test_response_templates_changelist_opens(admin_client):
    assert admin_client.get("/admin/signalements/responsetemplate/").status_code == 200
    assert admin_client.get("/admin/signalements/responsetemplate/add/").status_code == 200
