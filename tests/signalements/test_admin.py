"""The signalements admin pages open for a superuser, and the outbox can be re-queued."""

import pytest
from django.contrib.auth import get_user_model

from signalements.models import OutboxMessage, Report, Ticket
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


@pytest.mark.parametrize(
    ("model", "klass"), [("report", Report), ("ticket", Ticket), ("outboxmessage", OutboxMessage)]
)
def test_changelists_and_change_pages_open(admin_client, model, klass):
    assert admin_client.get(f"/admin/signalements/{model}/").status_code == 200
    pk = klass.objects.first().pk
    assert admin_client.get(f"/admin/signalements/{model}/{pk}/change/").status_code == 200


def test_response_templates_changelist_opens(admin_client):
    assert admin_client.get("/admin/signalements/responsetemplate/").status_code == 200
    assert admin_client.get("/admin/signalements/responsetemplate/add/").status_code == 200


def test_retry_action_requeues_failed_messages(admin_client):
    OutboxMessage.objects.update(state=OutboxMessage.State.FAILED, attempts=8)
    ids = list(OutboxMessage.objects.values_list("pk", flat=True))
    response = admin_client.post(
        "/admin/signalements/outboxmessage/", {"action": "retry_now", "_selected_action": ids}, follow=True
    )
    assert response.status_code == 200
    assert set(OutboxMessage.objects.values_list("state", "attempts")) == {(OutboxMessage.State.PENDING, 0)}
