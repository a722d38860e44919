"""A real Celery worker on Redis delivers the outbox, including after a broker outage.

The worker is a separate process configured by its environment: the pytest test database, a
dedicated Redis database (flushed first) and the file e-mail backend writing into a temporary
directory, where each delivered e-mail is counted by its Message-ID.
"""

from __future__ import annotations

import time

import pytest
from django.db import transaction
from django.utils import timezone

from geo.models import OutboxMessage
from geo.outbox import email_message_id, outbox_sweep
from geo.srid import point_from_lonlat
from signalements.models import Report, ReportContact, Ticket
from signalements.notifications import notify_report_confirmation, notify_ticket_created
from tests.factories import CategoryFactory, ServiceFactory
from tests.worker import BROKER_URL, CLOSED_BROKER_URL, DELIVERY_TIMEOUT_S, queue_drained, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _file_report(n: int) -> Ticket:
    """A report with its reporter and its ticket, built directly (the services are tested elsewhere)."""
    category = CategoryFactory(code="nid-de-poule", name="Nid de poule")
    service = ServiceFactory(name=f"Voirie {n}", emails=[f"voirie{n}@example.org"])
    report = Report.objects.create(
        location=point_from_lonlat(2.35, 48.85),
        category=category,
        description="Un trou profond.",
        created_at=timezone.now(),
        reference=f"SIG-2026-{n:06d}",
    )
    ReportContact.objects.create(report=report, email=f"citoyen{n}@example.net")
    return Ticket.objects.create(
        report=report, service=service, routing={"explanation": "Zone de test.", "rule": "zone"}
    )


def _states(messages: list[OutboxMessage]) -> set[str]:
    return set(OutboxMessage.objects.filter(pk__in=[m.pk for m in messages]).values_list("state", flat=True))


def test_a_committed_notification_is_delivered_by_the_worker(celery_worker):
    # given a ticket and its notification, committed together
    with transaction.atomic():
        ticket = _file_report(101)
        messages = notify_ticket_created(ticket=ticket)
    [message] = messages
    # when the worker receives the delivery task published on commit
    wait_until(lambda: _states(messages) == {"sent"}, DELIVERY_TIMEOUT_S, "the delivery", celery_worker)
    # then the e-mail was written once, with the outbox Message-ID
    assert celery_worker.message_id_counts()[email_message_id(message.pk)] == 1
    message.refresh_from_db()
    assert message.sent_at is not None
    assert message.attempts == 1


def test_notifications_committed_during_a_broker_outage_are_delivered_once_by_the_sweeper(
    celery_worker,
):
    from config.celery import app

    # given the broker is unreachable from the web process
    app.conf.broker_url = CLOSED_BROKER_URL
    try:
        # when reports are filed: the transaction commits although publishing fails
        started = time.monotonic()
        messages: list[OutboxMessage] = []
        with transaction.atomic():
            for n in (201, 202):
                ticket = _file_report(n)
                messages += notify_ticket_created(ticket=ticket)
                messages.append(notify_report_confirmation(report=ticket.report, tracking_token=f"t{n}"))
        assert time.monotonic() - started < 5.0
    finally:
        app.conf.broker_url = BROKER_URL
    # then the rows are committed and pending, and nothing is delivered
    assert len(messages) == 4
    time.sleep(1.0)
    assert _states(messages) == {"pending"}
    counts = celery_worker.message_id_counts()
    assert not any(counts[email_message_id(m.pk)] for m in messages)

    # when the broker is back and the sweeper runs (twice: duplicated tasks must not send twice)
    assert outbox_sweep() == 4
    outbox_sweep()
    # then the worker delivers every message, each exactly once
    wait_until(lambda: _states(messages) == {"sent"}, DELIVERY_TIMEOUT_S, "the deliveries", celery_worker)
    wait_until(queue_drained, DELIVERY_TIMEOUT_S, "the queue to drain", celery_worker)
    counts = celery_worker.message_id_counts()
    assert {m.pk: counts[email_message_id(m.pk)] for m in messages} == {m.pk: 1 for m in messages}
    assert OutboxMessage.objects.filter(pk__in=[m.pk for m in messages], attempts=1).count() == 4
