"""Every geo admin page opens for a superuser, geometry pages carry the Leaflet widget, lists stay cheap."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from geo.demo import demo_load
from geo.models import OutboxMessage, Territory, Zone

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


# --- the outbox ----------------------------------------------------------------------------------


@pytest.fixture
def outbox_rows(db) -> list[OutboxMessage]:  # type: ignore[no-untyped-def]
    """Three notifications: a pending e-mail about a report, a failed webhook about it, a project e-mail."""
    now = timezone.now()
    common = {"next_attempt_at": now, "subject": "Sujet", "body_text": "Corps"}
    return [
        OutboxMessage.objects.create(
            kind=OutboxMessage.Kind.EMAIL,
            destination="agent@example.org",
            dedupe_key="a",
            topic="report:7",
            **common,
        ),
        OutboxMessage.objects.create(
            kind=OutboxMessage.Kind.WEBHOOK,
            destination="https://sig.example.fr/hooks",
            dedupe_key="b",
            topic="report:7",
            state=OutboxMessage.State.FAILED,
            attempts=8,
            **common,
        ),
        OutboxMessage.objects.create(
            kind=OutboxMessage.Kind.EMAIL,
            destination="voisin@example.net",
            dedupe_key="c",
            topic="project:42",
            state=OutboxMessage.State.SENT,
            attempts=1,
            **common,
        ),
    ]


@pytest.fixture
def superuser_client(client):  # type: ignore[no-untyped-def]
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.org", "x"))
    return client


def _listed(response) -> set[str]:  # type: ignore[no-untyped-def]
    return {message.dedupe_key for message in response.context["cl"].result_list}


def test_outbox_changelist_and_change_page_open_read_only(superuser_client, outbox_rows):
    # given notifications of two domains
    # when the admin lists them, then each shows, and a change page opens without an add button
    response = superuser_client.get("/admin/geo/outboxmessage/")
    assert response.status_code == 200
    assert _listed(response) == {"a", "b", "c"}
    assert superuser_client.get(f"/admin/geo/outboxmessage/{outbox_rows[0].pk}/change/").status_code == 200
    assert superuser_client.get("/admin/geo/outboxmessage/add/").status_code == 403


def test_outbox_filters_by_state_and_kind_and_searches_topic_and_destination(superuser_client, outbox_rows):
    def listed(query: str) -> set[str]:
        return _listed(superuser_client.get(f"/admin/geo/outboxmessage/?{query}"))

    assert listed("state__exact=failed") == {"b"}
    assert listed("kind__exact=email") == {"a", "c"}
    assert listed("q=report:7") == {"a", "b"}
    assert listed("q=project") == {"c"}
    assert listed("q=voisin@example.net") == {"c"}


def test_retry_action_requeues_messages_that_were_not_sent(superuser_client, outbox_rows):
    # given a failed and a sent message
    failed, sent = outbox_rows[1], outbox_rows[2]
    # when both are re-queued from the admin
    response = superuser_client.post(
        "/admin/geo/outboxmessage/",
        {"action": "retry_now", "_selected_action": [failed.pk, sent.pk]},
        follow=True,
    )
    # then the failed one is pending again from scratch, and the sent one is left alone
    assert response.status_code == 200
    failed.refresh_from_db()
    sent.refresh_from_db()
    assert (failed.state, failed.attempts) == (OutboxMessage.State.PENDING, 0)
    assert (sent.state, sent.attempts) == (OutboxMessage.State.SENT, 1)
