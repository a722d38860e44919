"""The staff access log (geo.access_log): every staff read of a contact or an author leaves one row,
and the row holds no personal data."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.forms.models import model_to_dict
from rest_framework.test import APIClient

from geo.access_log import personal_data_accessed
from geo.models import OutboxMessage, PersonalDataAccess
from tests.privacy.helpers import JEANNE, JEANNE_NAME, JEANNE_PHONE, contribute, file_report

pytestmark = pytest.mark.django_db


def as_user(user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_authenticate(user)
    return client


def assert_no_personal_data() -> None:
    rows = json.dumps([model_to_dict(r) for r in PersonalDataAccess.objects.all()], default=str)
    for value in (JEANNE, JEANNE_NAME, JEANNE_PHONE):
        assert value not in rows


def test_one_call_writes_one_row_per_topic_with_field_names_only(world) -> None:
    # when an agent is shown the contacts of two reports (a list) in one call
    written = personal_data_accessed(
        user=world.agent_west,
        topic=["report:1", "report:2", "report:1", ""],
        fields=["name", "email"],
        reason="test:list",
        request_id="abc123def456",
    )
    # then one row per distinct topic, with who, what fields, why and the request id
    assert written == 2
    rows = list(PersonalDataAccess.objects.order_by("topic"))
    assert [r.topic for r in rows] == ["report:1", "report:2"]
    assert {(r.user_id, r.username, tuple(r.fields), r.reason, r.request_id) for r in rows} == {
        (world.agent_west.pk, "agent-ouest", ("name", "email"), "test:list", "abc123def456")
    }


def test_the_ticket_detail_logs_the_contact_shown_to_the_agent(world, published) -> None:
    report = file_report(world)
    # when the agent of the ticket's service opens it
    response = as_user(world.agent_west).get(f"/api/tickets/{report.reference}/")
    # then the contact is shown and one access is logged, with the request id of the answer
    assert response.status_code == 200
    assert response.json()["contact"]["email"] == JEANNE
    row = PersonalDataAccess.objects.get()
    assert (row.user_id, row.topic, row.fields, row.reason) == (
        world.agent_west.pk,
        f"report:{report.pk}",
        ["name", "email", "phone"],
        "api:ticket-detail",
    )
    assert row.request_id == response["X-Request-ID"]
    assert_no_personal_data()


def test_no_row_when_no_contact_is_shown(world, published) -> None:
    report = file_report(world)
    # an agent of another service gets 404; acting on a ticket does not show the contact
    assert as_user(world.agent_east).get(f"/api/tickets/{report.reference}/").status_code == 404
    assert APIClient().get(f"/api/tickets/{report.reference}/").status_code in (401, 403)
    agent = as_user(world.agent_west)
    agent.post(f"/api/tickets/{report.reference}/notes/", {"note": "vu"}, format="json")
    assert PersonalDataAccess.objects.count() == 0


def test_the_moderation_queue_logs_each_author_shown(concertation) -> None:
    with_author = contribute(concertation)
    without_author = contribute(concertation, email="", name="")
    # when a moderator opens the queue
    response = as_user(concertation.moderator).get(
        f"/api/urbanisme/projets/{concertation.project.slug}/moderation/"
    )
    assert response.status_code == 200
    # then one row for the contribution whose author was shown, none for the anonymous one
    topics = list(PersonalDataAccess.objects.values_list("topic", flat=True))
    assert topics == [f"contribution:{with_author.pk}"]
    assert f"contribution:{without_author.pk}" not in topics
    assert_no_personal_data()


def test_admin_pages_with_personal_data_are_logged(client, world, published) -> None:
    admin = get_user_model().objects.create_superuser("dpo-test", password="x")
    client.force_login(admin)
    report = file_report(world)
    message = OutboxMessage.objects.filter(topic=f"report:{report.pk}", destination=JEANNE).first()
    # when the administrator opens the report, the outbox list and a message to the citizen
    assert client.get(f"/admin/signalements/report/{report.pk}/change/").status_code == 200
    assert client.get("/admin/geo/outboxmessage/").status_code == 200
    assert client.get(f"/admin/geo/outboxmessage/{message.pk}/change/").status_code == 200
    # and a page without personal data
    assert client.get("/admin/geo/category/").status_code == 200
    # then each page showing personal data is logged once, under the record's topic
    rows = list(PersonalDataAccess.objects.order_by("pk").values_list("topic", "reason"))
    assert rows == [
        (f"report:{report.pk}", "admin:signalements_report_change"),
        ("outbox:list", "admin:geo_outboxmessage_changelist"),
        (f"report:{report.pk}", "admin:geo_outboxmessage_change"),
    ]
    assert_no_personal_data()


def test_the_log_is_read_only_in_the_admin_and_filters_by_user(client, world) -> None:
    admin = get_user_model().objects.create_superuser("dpo-test", password="x")
    personal_data_accessed(user=world.agent_west, topic="report:1", fields=["email"], reason="test")
    personal_data_accessed(user=world.manager, topic="report:2", fields=["email"], reason="test")
    client.force_login(admin)
    page = client.get("/admin/geo/personaldataaccess/", {"user__id__exact": world.manager.pk})
    assert page.status_code == 200
    html = page.content.decode()
    assert "report:2" in html and "report:1" not in html
    assert client.get("/admin/geo/personaldataaccess/add/").status_code == 403
    row = PersonalDataAccess.objects.first()
    change = client.post(f"/admin/geo/personaldataaccess/{row.pk}/change/", {"topic": "x"})
    assert change.status_code in (403, 200)
    row.refresh_from_db()
    assert row.topic != "x"
    assert client.get(f"/admin/geo/personaldataaccess/{row.pk}/delete/").status_code == 403
