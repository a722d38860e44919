"""servicerequestupdates (mySociety's extension): public messages and changes of state, nothing else."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
from django.utils import timezone

from signalements.models import TicketEvent
from signalements.services import ticket_internal_note, ticket_transition
from tests.open311.conftest import Town, children, json_of, no_personal_data, xml_of

pytestmark = pytest.mark.django_db

KEYS = ["update_id", "service_request_id", "status", "updated_datetime", "description", "media_url"]


def test_updates_list_public_messages_and_state_changes_oldest_first(client, town: Town):
    # given a silent transition and an internal note besides the town's history
    ticket_transition(ticket=town.west.ticket, actor=town.world.agent_west, to_state="en_cours")
    ticket_internal_note(ticket=town.lamp.ticket, actor=town.world.manager, note="Code portail 9999")
    # when a client reads the updates
    response = client.get("/open311/v2/servicerequestupdates.json")
    data = json_of(response)
    # then the public ones are there, in order, in mySociety's shape (plus our detailed state)
    assert [
        (u["service_request_id"], u["status"], u["external_status_code"], u["description"]) for u in data
    ] == [
        (town.west.reference, "open", "pris_en_compte", "Nous intervenons mardi."),
        (town.east.reference, "closed", "resolu", "Rebouché."),
        (town.lamp.reference, "open", "nouveau", "Une équipe passe cette semaine."),
        (town.west.reference, "open", "en_cours", ""),
    ]
    for update in data:
        assert list(update)[: len(KEYS)] == KEYS
        assert isinstance(update["update_id"], str)
        assert update["updated_datetime"][-6] in "+-"
        assert update["media_url"] is None
    public_kinds = set(
        TicketEvent.objects.filter(pk__in=[int(u["update_id"]) for u in data]).values_list("kind", flat=True)
    )
    assert public_kinds == {TicketEvent.Kind.TRANSITION, TicketEvent.Kind.PUBLIC_UPDATE}
    no_personal_data(response.content.decode())
    assert "9999" not in response.content.decode()


def test_updates_in_xml(client, town: Town):
    root = xml_of(client.get("/open311/v2/servicerequestupdates.xml"))
    assert root.tag == "service_request_updates"
    assert {c.tag for c in root} == {"request_update"}
    assert children(root[0])[: len(KEYS)] == KEYS
    assert root[1].findtext("status") == "closed"
    assert root[0].findtext("media_url") == ""


def test_updates_by_dates_and_jurisdiction(client, town: Town):
    later = quote((timezone.now() + timedelta(minutes=5)).isoformat(timespec="seconds"))
    assert json_of(client.get(f"/open311/v2/servicerequestupdates.json?start_date={later}")) == []
    earlier = quote((timezone.now() - timedelta(minutes=5)).isoformat(timespec="seconds"))
    assert len(json_of(client.get(f"/open311/v2/servicerequestupdates.json?start_date={earlier}"))) == 3
    assert len(json_of(client.get("/open311/v2/servicerequestupdates.json?jurisdiction_id=test"))) == 3
    assert client.get("/open311/v2/servicerequestupdates.json?jurisdiction_id=ailleurs").status_code == 404
    assert client.get("/open311/v2/servicerequestupdates.json?end_date=demain").status_code == 400


def test_updates_of_unpublished_reports_are_hidden(client, town: Town):
    town.east.published = False
    town.east.save(update_fields=["published"])
    refs = {u["service_request_id"] for u in json_of(client.get("/open311/v2/servicerequestupdates.json"))}
    assert town.east.reference not in refs
