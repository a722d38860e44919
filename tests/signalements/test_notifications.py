"""Who is told what about reports: outbox rows written by ``signalements.notifications``, on real PostGIS.

The outbox itself (enqueue, delivery, back-off, sweeping) is tested in ``tests/geo/test_outbox.py``.
"""

from __future__ import annotations

import json

import pytest
from django.db import transaction
from django.utils import timezone, translation

from geo.models import OutboxMessage
from geo.outbox import outbox_deliver, webhook_body
from geo.srid import point_from_lonlat
from signalements.models import (
    Follower,
    Report,
    ReportContact,
    Ticket,
    TicketEvent,
    TicketState,
)
from signalements.notifications import (
    notify_merged,
    notify_public_update,
    notify_report_confirmation,
    notify_ticket_created,
    notify_transfer,
)
from tests.factories import CategoryFactory, ServiceFactory

pytestmark = pytest.mark.django_db

EXPLANATION = (
    "Transmis à Voirie – secteur Centre : le point est dans la zone « 4e arrondissement », "
    "compétente pour « Nid de poule » (priorité 20)."
)
REPORTER = {"name": "Camille Martin", "email": "camille.martin@example.net", "phone": "+33612345678"}


# --- helpers and fixtures ------------------------------------------------------------------------


def make_ticket(*, reference: str = "SIG-2026-000001", service=None, category=None) -> Ticket:
    category = category or CategoryFactory(code="nid-de-poule", name="Nid de poule")
    service = service or ServiceFactory(
        name="Voirie – secteur Centre", emails=["voirie@example.org", "astreinte@example.org"]
    )
    report = Report.objects.create(
        location=point_from_lonlat(2.35, 48.85),
        category=category,
        description="Un trou profond devant le n° 12, dangereux pour les vélos.",
        address="12 rue de Rivoli, 75004 Paris",
        created_at=timezone.now(),
        reference=reference,
    )
    ReportContact.objects.create(report=report, **REPORTER)
    return Ticket.objects.create(
        report=report, service=service, routing={"explanation": EXPLANATION, "rule": "zone"}
    )


# --- notifications -------------------------------------------------------------------------------


def test_ticket_created_emails_each_service_address_with_what_it_needs(published, settings):
    # given a ticket routed to a service with two addresses and a webhook
    settings.PUBLIC_BASE_URL = "https://concerto.example.fr"
    service = ServiceFactory(
        name="Voirie – secteur Centre",
        emails=["voirie@example.org", "astreinte@example.org", " VOIRIE@example.org "],
        webhook_url="https://sig.example.fr/hooks",
        webhook_secret="s",
    )
    ticket = make_ticket(service=service)
    # when the service is notified
    with transaction.atomic():
        messages = notify_ticket_created(ticket=ticket)
    # then one e-mail per distinct address and one webhook are enqueued
    emails = [m for m in messages if m.kind == OutboxMessage.Kind.EMAIL]
    [webhook] = [m for m in messages if m.kind == OutboxMessage.Kind.WEBHOOK]
    assert [m.destination for m in emails] == ["voirie@example.org", "astreinte@example.org"]
    assert emails[0].dedupe_key == f"ticket-created:{ticket.pk}:{service.pk}:email:voirie@example.org"
    assert webhook.dedupe_key == f"ticket-created:{ticket.pk}:{service.pk}:webhook"
    assert webhook.destination == "https://sig.example.fr/hooks"
    # and every row says which report it is about (the admin filters on it, erasure finds it)
    assert {m.topic for m in messages} == {f"report:{ticket.report.pk}"}
    # and the e-mail says what, where, why, and links to the staff page
    email = emails[0]
    assert email.subject == "[Concerto] Nouveau signalement SIG-2026-000001 – Nid de poule"
    for expected in (
        "SIG-2026-000001",
        "Nid de poule",
        "12 rue de Rivoli, 75004 Paris",
        "2.350000, 48.850000",
        "Un trou profond devant le n° 12",
        EXPLANATION,
        "https://concerto.example.fr/agents/tickets/SIG-2026-000001/",
    ):
        assert expected in email.body_text
        assert expected in email.body_html
    assert "&amp;" not in email.body_text and "&#x27;" not in email.body_text
    # and the webhook payload has what a service system needs, without personal data
    payload = webhook.payload
    assert payload["event"] == "ticket.created"
    assert payload["reference"] == "SIG-2026-000001"
    assert payload["category"] == "nid-de-poule"
    assert payload["service_id"] == service.pk
    assert (payload["lon"], payload["lat"]) == (2.35, 48.85)
    assert payload["state"] == TicketState.NOUVEAU
    assert payload["routing"] == {"rule": "zone", "explanation": EXPLANATION, "ambiguous": False}
    assert payload["created_at"].endswith("+00:00")
    dumped = json.dumps(payload, ensure_ascii=False) + email.body_text + email.body_html
    for personal in REPORTER.values():
        assert personal not in dumped
    # and notifying again enqueues nothing new
    with transaction.atomic():
        again = notify_ticket_created(ticket=ticket)
    assert {m.pk for m in again} == {m.pk for m in messages}
    assert OutboxMessage.objects.count() == 3


def test_ticket_created_without_webhook_sends_only_emails(published):
    ticket = make_ticket()
    with transaction.atomic():
        messages = notify_ticket_created(ticket=ticket)
    assert {m.kind for m in messages} == {OutboxMessage.Kind.EMAIL}
    assert len(messages) == 2


def test_report_confirmation_carries_the_private_tracking_link(published, settings):
    # given a report whose reporter gave an e-mail
    settings.PUBLIC_BASE_URL = "https://concerto.example.fr"
    ticket = make_ticket()
    # when the confirmation is enqueued
    with transaction.atomic():
        message = notify_report_confirmation(report=ticket.report, tracking_token="tok_ABC-123")
    # then it goes to the reporter with the reference and the tracking link
    assert message is not None
    assert message.destination == REPORTER["email"]
    assert message.dedupe_key == f"report-confirmation:{ticket.report.pk}"
    assert message.topic == f"report:{ticket.report.pk}"
    assert "SIG-2026-000001" in message.subject
    assert "https://concerto.example.fr/suivi/tok_ABC-123/" in message.body_text
    assert 'href="https://concerto.example.fr/suivi/tok_ABC-123/"' in message.body_html


def test_report_confirmation_without_email_sends_nothing(published):
    ticket = make_ticket()
    ReportContact.objects.filter(report=ticket.report).update(email="")
    ticket.report.refresh_from_db()
    with transaction.atomic():
        assert notify_report_confirmation(report=ticket.report, tracking_token="t") is None
    ReportContact.objects.filter(report=ticket.report).delete()
    report = Report.objects.get(pk=ticket.report.pk)
    with transaction.atomic():
        assert notify_report_confirmation(report=report, tracking_token="t") is None
    assert not OutboxMessage.objects.exists()


def test_templates_render_in_english(published):
    # given an English-speaking citizen
    ticket = make_ticket()
    # when the confirmation and a service notification are rendered under English
    with translation.override("en"), transaction.atomic():
        confirmation = notify_report_confirmation(report=ticket.report, tracking_token="tok")
        [service_email, *_] = notify_ticket_created(ticket=ticket)
    # then they render (falling back to the French source until translated)
    assert confirmation is not None
    assert "SIG-2026-000001" in confirmation.subject
    assert "/suivi/tok/" in confirmation.body_text
    assert '<html lang="en">' in confirmation.body_html
    # and the service's e-mail stays in the site language
    assert '<html lang="fr">' in service_email.body_html
    assert "Référence" in service_email.body_text


def test_public_update_goes_to_active_followers_and_the_webhook(published):
    # given a ticket with two active followers, one unsubscribed, and a service webhook
    service = ServiceFactory(emails=["voirie@example.org"], webhook_url="https://sig.example.fr/h")
    ticket = make_ticket(service=service)
    report = ticket.report
    Follower.objects.create(report=report, email="camille.martin@example.net", reason="reporter")
    Follower.objects.create(report=report, email="voisin@example.net", reason="supporter")
    Follower.objects.create(
        report=report, email="parti@example.net", reason="supporter", unsubscribed_at=timezone.now()
    )
    event = TicketEvent.objects.create(
        ticket=ticket,
        kind=TicketEvent.Kind.TRANSITION,
        from_state=TicketState.NOUVEAU,
        to_state=TicketState.PROGRAMME,
        public_message="Intervention prévue mardi.",
        internal_note="Équipe B, camion 3",
    )
    # when the public update is notified
    with transaction.atomic():
        messages = notify_public_update(ticket=ticket, event=event)
    # then each active follower gets the message and the new state; the service's system gets the event
    emails = [m for m in messages if m.kind == OutboxMessage.Kind.EMAIL]
    [webhook] = [m for m in messages if m.kind == OutboxMessage.Kind.WEBHOOK]
    assert sorted(m.destination for m in emails) == ["camille.martin@example.net", "voisin@example.net"]
    assert emails[0].dedupe_key == f"public-update:{event.pk}:camille.martin@example.net"
    assert "Intervention prévue mardi." in emails[0].body_text
    assert "Programmé" in emails[0].subject
    assert "Équipe B" not in emails[0].body_text
    assert webhook.payload["event"] == "ticket.updated"
    assert webhook.payload["state"] == "programme"
    assert webhook.payload["previous_state"] == "nouveau"
    assert "camille" not in json.dumps(webhook.payload)
    assert "Équipe B" not in json.dumps(webhook.payload, ensure_ascii=False)


def test_transfer_tells_both_services_and_the_followers(published):
    # given a ticket moving from one service to another, both with webhooks, and a follower
    old = ServiceFactory(name="Voirie", emails=["voirie@example.org"], webhook_url="https://a.example/h")
    new = ServiceFactory(name="Propreté", emails=["proprete@example.org"], webhook_url="https://b.example/h")
    ticket = make_ticket(service=old)
    Follower.objects.create(report=ticket.report, email="voisin@example.net", reason="supporter")
    ticket.service = new
    ticket.state = TicketState.TRANSFERE
    ticket.save()
    event = TicketEvent.objects.create(
        ticket=ticket,
        kind=TicketEvent.Kind.TRANSITION,
        to_state=TicketState.TRANSFERE,
        from_service=old,
        to_service=new,
        public_message="Ce dépôt relève de la propreté.",
    )
    # when the transfer is notified
    with transaction.atomic():
        messages = notify_transfer(ticket=ticket, event=event, from_service=old, to_service=new)
    # then the new service gets it as a new ticket, the old one an information, each a webhook
    by_destination = {m.destination: m for m in messages}
    assert "transféré" in by_destination["proprete@example.org"].subject
    assert "Voirie" in by_destination["proprete@example.org"].body_text
    assert "Propreté" in by_destination["voirie@example.org"].body_text
    assert by_destination["https://b.example/h"].payload["service_id"] == new.pk
    assert by_destination["https://a.example/h"].payload["service_id"] == old.pk
    for url in ("https://a.example/h", "https://b.example/h"):
        payload = by_destination[url].payload
        assert payload["event"] == "ticket.transferred"
        assert (payload["from_service_id"], payload["to_service_id"]) == (old.pk, new.pk)
    # and the follower gets the public message
    assert "Ce dépôt relève de la propreté." in by_destination["voisin@example.net"].body_text
    assert len(messages) == 5


def test_merged_tells_the_duplicate_followers_what_they_now_follow(published):
    # given a duplicate report with a follower, and its original
    category = CategoryFactory(code="nid-de-poule", name="Nid de poule")
    service = ServiceFactory()
    original = make_ticket(reference="SIG-2026-000001", category=category, service=service)
    duplicate = make_ticket(reference="SIG-2026-000002", category=category, service=service)
    Follower.objects.create(report=duplicate.report, email="camille.martin@example.net", reason="reporter")
    event = TicketEvent.objects.create(
        ticket=duplicate, kind=TicketEvent.Kind.MERGE, to_state=TicketState.DOUBLON
    )
    # when the merge is notified
    with transaction.atomic():
        [message] = notify_merged(duplicate=duplicate.report, original=original.report, event=event)
    # then the follower is told both references
    assert message.destination == "camille.martin@example.net"
    assert message.topic == f"report:{original.report.pk}"
    assert "SIG-2026-000002" in message.subject and "SIG-2026-000001" in message.subject
    assert "Vous suivez désormais le signalement SIG-2026-000001" in message.body_text


# --- delivery --------------------------------------------------------------------------------------


def test_webhook_is_posted_signed_to_the_service(receiver, published):
    # given a service with a webhook and a ticket for it
    service = ServiceFactory(emails=[], webhook_url=receiver.url, webhook_secret=receiver.secret)
    ticket = make_ticket(service=service)
    with transaction.atomic():
        [webhook] = notify_ticket_created(ticket=ticket)
    # when the webhook is delivered
    assert outbox_deliver(message_id=webhook.pk) == "sent"
    # then the receiver got one signed POST with the delivery id and event in headers
    [request] = receiver.requests
    assert request["signature_ok"] is True
    assert request["path"] == "/hooks/concerto"
    headers = request["headers"]
    assert headers["content-type"] == "application/json"
    assert headers["x-concerto-delivery"] == str(webhook.pk)
    assert headers["x-concerto-event"] == "ticket.created"
    assert request["body"] == webhook_body(webhook.payload)
    data = json.loads(request["body"])
    assert data["reference"] == "SIG-2026-000001"
    assert data["service_id"] == service.pk
    assert data["routing"] == {"rule": "zone", "explanation": EXPLANATION, "ambiguous": False}
    # and a duplicated task posts nothing more
    assert outbox_deliver(message_id=webhook.pk) == "sent"
    assert len(receiver.requests) == 1
