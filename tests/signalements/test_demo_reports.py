"""Demo reports go through the API's code path, reach every state, and load only once."""

import pytest

from geo.demo import demo_load
from geo.models import OutboxMessage
from signalements.demo import reports_demo_load
from signalements.models import Report, Ticket, TicketState

pytestmark = pytest.mark.django_db


def test_demo_reports_are_filed_once_in_various_states_without_notifications():
    demo_load()
    first = reports_demo_load(limit=120)
    assert first["created"] == 120
    again = reports_demo_load(limit=120)
    assert (again["created"], again["unchanged"]) == (0, 120)
    assert Report.objects.count() == 120
    states = set(Ticket.objects.values_list("state", flat=True))
    assert {TicketState.NOUVEAU, TicketState.RESOLU, TicketState.PRIS_EN_COMPTE} <= states
    assert first["merged"] == Report.objects.filter(duplicate_of__isnull=False).count()
    assert OutboxMessage.objects.count() == 0
    report = Report.objects.order_by("created_at").first()
    assert report.reference.startswith("SIG-2023-")
    assert report.created_at.year == 2023
    assert report.ticket.routing["explanation"].startswith("Transmis à ")
    resolved = Ticket.objects.filter(state=TicketState.RESOLU).first()
    assert resolved.closed_at.year == 2023
