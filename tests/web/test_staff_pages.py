"""Field services' pages through Django's test client: who may open them (enforced by the server),
the queue's filters and order, the ticket page's actions and their refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from signalements.models import Photo, Ticket, TicketEvent, TicketState
from tests.signalements.world import gps_jpeg
from tests.web.conftest import PERSONAL, file_report

pytestmark = pytest.mark.django_db


def ticket_url(ticket: Ticket, action: str | None = None) -> str:
    if action:
        return reverse("web:ticket-action", args=[ticket.report.reference, action])
    return reverse("web:ticket", args=[ticket.report.reference])


# --- access ---------------------------------------------------------------------------------------


def test_signed_out_visitors_are_sent_to_sign_in(client, world):
    ticket = file_report(world).ticket
    for url in (reverse("web:queue"), ticket_url(ticket)):
        answer = client.get(url)
        assert answer.status_code == 302
        assert answer["Location"].startswith(reverse("web:login") + "?next=")
    answer = client.post(ticket_url(ticket, "etat"), {"state": "resolu"})
    assert answer.status_code == 302
    ticket.refresh_from_db()
    assert ticket.state == TicketState.NOUVEAU


def test_citizens_with_an_account_get_403(client, world):
    ticket = file_report(world).ticket
    client.force_login(world.outsider)
    assert client.get(reverse("web:queue")).status_code == 403
    assert client.get(ticket_url(ticket)).status_code == 403
    assert client.post(ticket_url(ticket, "etat"), {"state": "resolu"}).status_code == 403
    ticket.refresh_from_db()
    assert ticket.state == TicketState.NOUVEAU


def test_another_services_ticket_is_404(client, world):
    ticket = file_report(world).ticket  # west
    client.force_login(world.agent_east)
    assert client.get(ticket_url(ticket)).status_code == 404
    assert client.post(ticket_url(ticket, "etat"), {"state": "resolu"}).status_code == 404
    assert client.post(ticket_url(ticket, "note"), {"note": "x"}).status_code == 404
    assert ticket.report.reference not in client.get(reverse("web:queue")).content.decode()


def test_sign_in_leads_to_the_queue(client, world):
    page = client.get(reverse("web:login"))
    assert page.status_code == 200 and 'autocomplete="current-password"' in page.content.decode()
    wrong = client.post(reverse("web:login"), {"username": "agent-ouest", "password": "non"})
    assert wrong.status_code == 200 and 'role="alert"' in wrong.content.decode()
    answer = client.post(reverse("web:login"), {"username": "agent-ouest", "password": "x"})
    assert answer.status_code == 302 and answer["Location"] == reverse("web:queue")


def test_sign_out_is_a_post(client, world):
    client.force_login(world.agent_west)
    assert client.get(reverse("web:logout")).status_code == 405
    assert client.post(reverse("web:logout")).status_code == 302
    assert client.get(reverse("web:queue")).status_code == 302


# --- the queue ------------------------------------------------------------------------------------


def test_the_queue_lists_my_services_tickets_most_urgent_first(client, world):
    late = file_report(world, -400, 0, description="Le plus ancien").ticket
    Ticket.objects.filter(pk=late.pk).update(due_at=timezone.now() - timedelta(days=1))
    urgent = file_report(world, -300, 0, description="Urgent").ticket
    Ticket.objects.filter(pk=urgent.pk).update(priority=Ticket.Priority.URGENTE)
    normal = file_report(world, -200, 0, description="Normal").ticket
    east = file_report(world, 500, 0).ticket
    client.force_login(world.agent_west)
    html = client.get(reverse("web:queue")).content.decode()
    refs = [t.report.reference for t in (urgent, late, normal)]
    positions = [html.index(f">{ref} ·") for ref in refs]
    assert positions == sorted(positions)
    assert east.report.reference not in html
    assert "En retard" in html  # said in words, not only by colour
    # filters: overdue, assigned to me, state, category
    overdue = client.get(reverse("web:queue"), {"overdue": "on"}).content.decode()
    assert late.report.reference in overdue and normal.report.reference not in overdue
    client.post(ticket_url(normal, "attribution"), {"assignee": world.agent_west.pk})
    mine = client.get(reverse("web:queue"), {"mine": "on"}).content.decode()
    assert normal.report.reference in mine and urgent.report.reference not in mine
    closed = client.get(reverse("web:queue"), {"state": "clos"}).content.decode()
    assert urgent.report.reference not in closed
    lights = client.get(reverse("web:queue"), {"category": "eclairage"}).content.decode()
    assert urgent.report.reference not in lights


def test_the_queue_map_data_carries_no_personal_data(client, world):
    file_report(world, contact=PERSONAL)
    client.force_login(world.agent_west)
    html = client.get(reverse("web:queue")).content.decode()
    assert 'id="queue-features"' in html
    features = html.split('id="queue-features"')[1].split("</script>")[0]
    assert "Jeanne" not in features and "jeanne" not in features


# --- the ticket page ------------------------------------------------------------------------------


def test_the_ticket_page_offers_only_the_allowed_transitions(client, world, templates):
    ticket = file_report(world, contact=PERSONAL).ticket
    client.force_login(world.agent_west)
    html = client.get(ticket_url(ticket)).content.decode()
    buttons = {part.split('"')[0] for part in html.split('name="state" value="')[1:]}
    assert buttons == {"pris_en_compte", "programme", "en_cours", "resolu", "rejete", "transfere", "doublon"}
    assert "Itinéraire" in html and "openstreetmap.org/directions" in html and "geo:" in html
    # staff of the service see the reporter's contact
    assert "jeanne.martin@example.net" in html
    # and the response templates of the category
    assert "Intervention programmée" in html and "Réparé" in html


def test_an_agent_works_a_ticket_to_resolved_with_a_photo(client, world, templates):
    ticket = file_report(world).ticket
    client.force_login(world.agent_west)
    answer = client.post(ticket_url(ticket, "etat"), {"state": "pris_en_compte"})
    assert answer.status_code == 302
    # a template's text is used when no message is typed
    client.post(
        ticket_url(ticket, "etat"), {"state": "en_cours", "template": templates[0].pk, "form": "transition"}
    )
    photo = SimpleUploadedFile("reparation.jpg", gps_jpeg(2.35, 48.85), content_type="image/jpeg")
    done = client.post(
        ticket_url(ticket, "etat"), {"state": "resolu", "public_message": "Réparé ce matin.", "photo": photo}
    )
    assert done.status_code == 302
    ticket.refresh_from_db()
    assert ticket.state == TicketState.RESOLU
    messages = list(
        ticket.events.filter(kind=TicketEvent.Kind.TRANSITION).values_list("public_message", flat=True)
    )
    assert messages == ["", "Une équipe interviendra cette semaine.", "Réparé ce matin."]
    assert Photo.objects.filter(report=ticket.report).count() == 1
    # closed: an agent is offered no transition any more (reopening is for managers)
    html = client.get(ticket_url(ticket)).content.decode()
    assert 'name="state" value="' not in html
    assert client.post(ticket_url(ticket, "etat"), {"state": "en_cours"}).status_code == 400


def test_a_refused_transition_is_shown_with_what_was_typed(client, world):
    ticket = file_report(world).ticket
    client.force_login(world.agent_west)
    # rejecting needs a reason
    answer = client.post(
        ticket_url(ticket, "etat"), {"state": "rejete", "internal_note": "À garder", "form": "transition"}
    )
    html = answer.content.decode()
    assert answer.status_code == 400
    assert "motif est obligatoire" in html and "À garder" in html
    # a transition outside the table is a 409
    assert client.post(ticket_url(ticket, "etat"), {"state": "nouveau"}).status_code == 409
    # an unknown state is a 400
    assert client.post(ticket_url(ticket, "etat"), {"state": "envole"}).status_code == 400
    ticket.refresh_from_db()
    assert ticket.state == TicketState.NOUVEAU


def test_transfer_to_another_service_with_a_reason(client, world):
    ticket = file_report(world).ticket
    client.force_login(world.agent_west)
    refused = client.post(
        ticket_url(ticket, "etat"), {"state": "transfere", "service": world.east.pk, "form": "transfer"}
    )
    assert refused.status_code == 400
    answer = client.post(
        ticket_url(ticket, "etat"),
        {
            "state": "transfere",
            "service": world.east.pk,
            "public_message": "Côté est de la rue.",
            "form": "transfer",
        },
    )
    # the agent no longer sees it: back to the queue
    assert answer.status_code == 302 and answer["Location"] == reverse("web:queue")
    ticket.refresh_from_db()
    assert ticket.service == world.east and ticket.state == TicketState.TRANSFERE


def test_mark_as_duplicate(client, world):
    original = file_report(world).report
    ticket = file_report(world, -450, 100).ticket
    client.force_login(world.agent_west)
    answer = client.post(ticket_url(ticket, "etat"), {"state": "doublon", "original": original.reference})
    assert answer.status_code == 302
    ticket.refresh_from_db()
    assert ticket.state == TicketState.DOUBLON and ticket.report.duplicate_of == original


def test_public_message_internal_note_assignment_priority(client, world, templates):
    ticket = file_report(world).ticket
    client.force_login(world.agent_west)
    assert client.post(ticket_url(ticket, "message"), {"message": "Nous passons demain."}).status_code == 302
    assert client.post(ticket_url(ticket, "message"), {"template": templates[1].pk}).status_code == 302
    assert client.post(ticket_url(ticket, "message"), {"message": ""}).status_code == 400
    assert client.post(ticket_url(ticket, "note"), {"note": "Clé chez le gardien"}).status_code == 302
    assert (
        client.post(ticket_url(ticket, "attribution"), {"assignee": world.agent_west.pk}).status_code == 302
    )
    assert (
        client.post(ticket_url(ticket, "attribution"), {"assignee": world.agent_east.pk}).status_code == 400
    )
    assert client.post(ticket_url(ticket, "priorite"), {"priority": 4}).status_code == 302
    assert client.post(ticket_url(ticket, "priorite"), {"priority": 9}).status_code == 400
    assert client.post(ticket_url(ticket, "inconnue"), {}).status_code == 404
    ticket.refresh_from_db()
    assert ticket.assigned_to == world.agent_west and ticket.priority == 4
    # the note is on the staff page, never on the public one
    assert "Clé chez le gardien" in client.get(ticket_url(ticket)).content.decode()
    public = client.get(reverse("web:report-detail", args=[ticket.report.reference])).content.decode()
    assert "Clé chez le gardien" not in public and "Nous passons demain." in public
    assert "La chaussée a été réparée." in public


def test_a_manager_sees_the_organisations_tickets_and_may_reopen(client, world):
    ticket = file_report(world).ticket
    client.force_login(world.agent_west)
    client.post(ticket_url(ticket, "etat"), {"state": "resolu"})
    client.force_login(world.manager)
    html = client.get(ticket_url(ticket)).content.decode()
    assert 'name="state" value="en_cours"' in html
    assert (
        client.post(
            ticket_url(ticket, "etat"), {"state": "en_cours", "public_message": "Rouvert."}
        ).status_code
        == 302
    )


def test_opening_a_ticket_with_a_contact_is_logged_and_refusals_are_not(client, world):
    # given a report with the reporter's contact, and one without
    from geo.models import PersonalDataAccess

    with_contact = file_report(world, contact=PERSONAL).ticket
    without = file_report(world, east_m=-520).ticket
    # when an agent of another service tries, then nothing is shown, nothing is logged
    client.force_login(world.agent_east)
    assert client.get(ticket_url(with_contact)).status_code == 404
    assert not PersonalDataAccess.objects.exists()
    # when the service's agent opens both tickets
    client.force_login(world.agent_west)
    page = client.get(ticket_url(with_contact)).content.decode()
    assert "jeanne.martin@example.net" in page
    assert client.get(ticket_url(without)).status_code == 200
    # then one row says who read which fields of which report, from which page, and holds no value
    [row] = PersonalDataAccess.objects.all()
    assert (row.user, row.topic, row.reason) == (
        world.agent_west,
        f"report:{with_contact.report.pk}",
        "web:ticket",
    )
    assert sorted(row.fields) == ["email", "name", "phone"]
    assert "jeanne" not in str(row.__dict__).lower()
