"""The outbox on real PostGIS: enqueue, delivery, back-off, webhooks, sweeping, broker outage.

Messages are written directly here; ``tests/signalements/test_notifications.py`` covers the rows
written for reports.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from geo.models import OutboxMessage
from geo.outbox import (
    backoff_delay,
    email_message_id,
    outbox_deliver,
    outbox_due_ids,
    outbox_enqueue,
    outbox_sweep,
    verify_webhook_signature,
    webhook_body,
    webhook_signature,
)
from tests.factories import ServiceFactory
from tests.geo.outbox_support import enqueue_email, make_due

pytestmark = pytest.mark.django_db


# --- enqueue -------------------------------------------------------------------------------------


def test_enqueue_is_idempotent_by_dedupe_key(django_capture_on_commit_callbacks):
    # given a message already enqueued under a key
    with django_capture_on_commit_callbacks() as callbacks:
        first = enqueue_email("ticket-created:1:1:email:agent@example.org")
        # when the same key is enqueued again, with other content
        with transaction.atomic():
            second = outbox_enqueue(
                kind=OutboxMessage.Kind.EMAIL,
                destination="autre@example.org",
                dedupe_key="ticket-created:1:1:email:agent@example.org",
                subject="Autre",
            )
    # then the first row is returned unchanged, and only one delivery is scheduled
    assert second.pk == first.pk
    assert second.destination == "agent@example.org"
    assert OutboxMessage.objects.count() == 1
    assert len(callbacks) == 1
    assert first.state == OutboxMessage.State.PENDING
    assert first.attempts == 0


def test_enqueue_keeps_long_dedupe_keys_unique_within_the_column():
    # given two keys longer than the column that differ only at the end
    prefix = "ticket-created:1:1:email:" + "x" * 300
    # when both are enqueued
    first = enqueue_email(prefix + "@a.example.org")
    second = enqueue_email(prefix + "@b.example.org")
    # then they are two rows whose keys fit the column
    assert first.pk != second.pk
    assert len(first.dedupe_key) <= 200
    assert enqueue_email(prefix + "@a.example.org").pk == first.pk


def test_enqueue_flattens_the_subject_to_one_line():
    # given a subject with line breaks (a rendered template)
    with transaction.atomic():
        message = outbox_enqueue(
            kind="email", destination="a@example.org", dedupe_key="k", subject="\n  Ligne 1\nLigne 2 \n"
        )
    # then it is stored on one line (a header cannot contain a newline)
    assert message.subject == "Ligne 1 Ligne 2"


def test_enqueue_records_the_topic():
    # given a caller that says what the message is about
    with transaction.atomic():
        message = outbox_enqueue(
            kind="email", destination="a@example.org", dedupe_key="k", topic="project:42"
        )
    # then the row carries it, for the admin and for erasure
    assert OutboxMessage.objects.get(pk=message.pk).topic == "project:42"
    assert OutboxMessage.objects.filter(topic="project:42").count() == 1
    assert enqueue_email("no-topic").topic == ""


def test_enqueue_refuses_a_topic_longer_than_the_column():
    with pytest.raises(ValueError, match="topic"), transaction.atomic():
        outbox_enqueue(kind="email", destination="a@example.org", dedupe_key="k", topic="x" * 101)


def test_enqueue_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match="unknown outbox kind"), transaction.atomic():
        outbox_enqueue(kind="sms", destination="+33600000000", dedupe_key="k")


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_leaves_no_row_and_publishes_nothing(published):
    # given a transaction that enqueues a message and then fails
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox_enqueue(kind="email", destination="a@example.org", dedupe_key="rolled-back")
        raise RuntimeError("the cause failed")
    # then no row exists and no delivery task was published
    assert not OutboxMessage.objects.exists()
    assert published == []


@pytest.mark.django_db(transaction=True)
def test_a_committed_transaction_publishes_one_delivery(published):
    # given a transaction that enqueues a message (twice, by the same key)
    with transaction.atomic():
        message = outbox_enqueue(kind="email", destination="a@example.org", dedupe_key="committed")
        outbox_enqueue(kind="email", destination="a@example.org", dedupe_key="committed")
        # then nothing is published before the commit
        assert published == []
    # and exactly one delivery is published after it
    assert published == [message.pk]


@pytest.mark.django_db(transaction=True)
def test_enqueue_outside_a_transaction_is_refused(published):
    # given autocommit, when enqueuing, then it is refused: the row must share its cause's transaction
    with pytest.raises(transaction.TransactionManagementError):
        outbox_enqueue(kind="email", destination="a@example.org", dedupe_key="autocommit")
    assert not OutboxMessage.objects.exists()


# --- delivery ------------------------------------------------------------------------------------


def test_delivery_sends_one_email_and_a_second_call_sends_nothing(locmem_email):
    # given a pending e-mail
    message = enqueue_email()
    # when it is delivered twice (a duplicated task)
    first = outbox_deliver(message_id=message.pk)
    second = outbox_deliver(message_id=message.pk)
    # then one e-mail was sent, with text, HTML, a stable Message-ID and the configured sender
    assert first == second == "sent"
    assert len(locmem_email) == 1
    sent = locmem_email[0]
    assert sent.to == ["agent@example.org"]
    assert sent.subject == "Sujet"
    assert sent.body == "Corps"
    assert sent.alternatives[0][0] == "<p>Corps</p>"
    assert sent.from_email == "Concerto <ne-pas-repondre@concerto.test>"
    assert sent.message()["Message-ID"] == email_message_id(message.pk) == f"<outbox-{message.pk}@concerto>"
    message.refresh_from_db()
    assert message.state == OutboxMessage.State.SENT
    assert message.sent_at is not None
    assert message.attempts == 1


def test_delivery_leaves_a_message_that_is_not_due(locmem_email):
    # given a pending e-mail scheduled in the future
    message = enqueue_email()
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now() + timedelta(minutes=5))
    # when a (stale) task delivers it, then nothing is sent
    assert outbox_deliver(message_id=message.pk) == "pending"
    assert locmem_email == []


def test_delivery_of_a_missing_row_does_nothing(locmem_email):
    assert outbox_deliver(message_id=987654321) == "missing"
    assert locmem_email == []


def test_failure_schedules_exponential_backoff_then_gives_up(failing_email, caplog):
    # given an e-mail whose SMTP server refuses connections
    message = enqueue_email(destination="camille@example.net")
    # when it is delivered a first time
    before = timezone.now()
    assert outbox_deliver(message_id=message.pk) == "pending"
    # then the attempt is counted, the error recorded without the address, and the retry is base ± 10 %
    message.refresh_from_db()
    assert message.attempts == 1
    assert message.last_error == "ConnectionRefusedError: SMTP server refused the connection"
    assert "camille@example.net" not in message.last_error
    delay = (message.next_attempt_at - before).total_seconds()
    assert 27 - 1 <= delay <= 33 + 1

    # when it is due again and fails a second time, the delay doubles
    make_due(message)
    before = timezone.now()
    assert outbox_deliver(message_id=message.pk) == "pending"
    message.refresh_from_db()
    assert message.attempts == 2
    assert 54 - 1 <= (message.next_attempt_at - before).total_seconds() <= 66 + 1

    # when it reaches the maximum number of attempts, it is abandoned and logged as an error
    make_due(message)
    assert outbox_deliver(message_id=message.pk) == "failed"
    message.refresh_from_db()
    assert message.attempts == 3
    assert message.state == OutboxMessage.State.FAILED
    assert any(r.levelname == "ERROR" and "abandoned" in r.getMessage() for r in caplog.records)
    # and a late task changes nothing
    make_due(message)
    assert outbox_deliver(message_id=message.pk) == "failed"


def test_backoff_is_capped(settings):
    settings.OUTBOX_BACKOFF_BASE_SECONDS = 30.0
    settings.OUTBOX_BACKOFF_MAX_SECONDS = 600.0
    assert 27 <= backoff_delay(1).total_seconds() <= 33
    assert 540 <= backoff_delay(20).total_seconds() <= 660


# --- webhooks ------------------------------------------------------------------------------------


def test_webhook_signature_round_trip():
    body = webhook_body({"event": "ticket.created", "reference": "SIG-2026-000001", "é": 1})
    header = webhook_signature("secret", body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify_webhook_signature("secret", body, header)
    assert not verify_webhook_signature("autre", body, header)
    assert not verify_webhook_signature("secret", body + b" ", header)
    assert not verify_webhook_signature("secret", body, None)
    assert not verify_webhook_signature("secret", body, "sha256=é")
    # compact, sorted, UTF-8
    assert body == '{"event":"ticket.created","reference":"SIG-2026-000001","é":1}'.encode()


def enqueue_webhook(service, *, key: str = "hook:1", payload: dict | None = None) -> OutboxMessage:
    with transaction.atomic():
        return outbox_enqueue(
            kind=OutboxMessage.Kind.WEBHOOK,
            destination=service.webhook_url,
            dedupe_key=key,
            payload={"event": "test.event", "service_id": service.pk, **(payload or {})},
            topic="project:42",
        )


def test_webhook_is_posted_signed_with_the_service_secret(receiver, published):
    # given a service with a webhook and a message for it
    service = ServiceFactory(emails=[], webhook_url=receiver.url, webhook_secret=receiver.secret)
    webhook = enqueue_webhook(service, payload={"reference": "PRJ-42", "é": "à"})
    # when the webhook is delivered
    assert outbox_deliver(message_id=webhook.pk) == "sent"
    # then the receiver got one POST signed over the exact body, with the delivery id and event
    [request] = receiver.requests
    assert request["signature_ok"] is True
    assert request["path"] == "/hooks/concerto"
    headers = request["headers"]
    assert headers["content-type"] == "application/json"
    assert headers["x-concerto-delivery"] == str(webhook.pk)
    assert headers["x-concerto-event"] == "test.event"
    assert headers["idempotency-key"] == f"concerto-outbox-{webhook.pk}"
    assert headers["x-concerto-attempt"] == "1"
    assert request["body"] == webhook_body(webhook.payload)
    # and a duplicated task posts nothing more
    assert outbox_deliver(message_id=webhook.pk) == "sent"
    assert len(receiver.requests) == 1


def test_a_webhook_for_a_missing_service_is_a_failure(published):
    # given a webhook whose service was deleted after it was enqueued
    service = ServiceFactory(emails=[], webhook_url="http://127.0.0.1:1/hook", webhook_secret="x")
    service_id = service.pk
    webhook = enqueue_webhook(service)
    service.delete()
    # when it is delivered, then nothing is posted and the cause is recorded
    assert outbox_deliver(message_id=webhook.pk) == "pending"
    webhook.refresh_from_db()
    assert webhook.last_error == f"DeliveryError: service {service_id!r} not found"


def test_a_non_2xx_answer_is_a_failure(receiver, published):
    # given a receiver that answers 500, behind a URL carrying a token
    receiver.status = 500
    service = ServiceFactory(
        emails=[], webhook_url=receiver.url + "?token=abc123", webhook_secret=receiver.secret
    )
    webhook = enqueue_webhook(service)
    # when it is delivered
    assert outbox_deliver(message_id=webhook.pk) == "pending"
    # then the failure is recorded, without the URL or its token, and a retry is scheduled
    webhook.refresh_from_db()
    assert len(receiver.requests) == 1
    assert webhook.attempts == 1
    assert webhook.last_error == "HTTP 500 Internal Server Error"
    assert "abc123" not in webhook.last_error
    assert webhook.next_attempt_at > timezone.now()


def test_a_refused_connection_is_a_failure(published):
    # given a webhook URL where nothing listens
    service = ServiceFactory(emails=[], webhook_url="http://127.0.0.1:1/hook", webhook_secret="x")
    webhook = enqueue_webhook(service)
    # when delivered, then the error is recorded and the row stays pending
    assert outbox_deliver(message_id=webhook.pk) == "pending"
    webhook.refresh_from_db()
    assert webhook.last_error.startswith("URLError:")
    assert "127.0.0.1:1" not in webhook.last_error


# --- sweeping and the broker ---------------------------------------------------------------------


def test_sweep_publishes_each_due_pending_message(published, locmem_email):
    # given a due message, a future one, and a sent one
    due = enqueue_email("due")
    later = enqueue_email("later")
    OutboxMessage.objects.filter(pk=later.pk).update(next_attempt_at=timezone.now() + timedelta(hours=1))
    sent = enqueue_email("sent")
    outbox_deliver(message_id=sent.pk)
    # when the sweeper runs
    count = outbox_sweep()
    # then only the due pending message is published
    assert outbox_due_ids() == [due.pk]
    assert count == 1
    assert published == [due.pk]


def test_publishing_with_the_broker_down_does_not_fail_the_request(
    closed_broker, django_capture_on_commit_callbacks, caplog
):
    # given the broker is unreachable
    # when a transaction enqueues a message and commits (on-commit callbacks run)
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        message = enqueue_email("broker-down")
    elapsed = time.monotonic() - started
    # then nothing raised, it was quick, the row is pending for the sweeper, and a warning was logged
    assert len(callbacks) == 1
    assert elapsed < 3.0
    message.refresh_from_db()
    assert message.state == OutboxMessage.State.PENDING
    assert any("the sweeper will send it" in r.getMessage() for r in caplog.records)


def test_the_sweeper_raises_when_the_broker_is_down(closed_broker):
    # given a due message and no broker
    enqueue_email("sweep-broker-down")
    # when the sweeper runs (inside the worker), then the broker error propagates, quickly
    started = time.monotonic()
    with pytest.raises(OperationalError, match=r"127\.0\.0\.1:1\b"):
        outbox_sweep()
    assert time.monotonic() - started < 3.0


def test_tasks_have_explicit_names_and_no_celery_retry():
    from geo.tasks import outbox_deliver_task, outbox_sweep_task

    assert outbox_deliver_task.name == "geo.outbox_deliver"
    assert outbox_sweep_task.name == "geo.outbox_sweep"
    # the row keeps the schedule: a failed task is not retried by Celery
    assert not getattr(outbox_deliver_task, "autoretry_for", ())
    assert not getattr(outbox_sweep_task, "autoretry_for", ())


def test_tasks_are_routed_to_notifications_and_swept_by_beat(settings):
    assert settings.CELERY_TASK_ROUTES["geo.outbox_deliver"] == {"queue": "notifications"}
    assert settings.CELERY_TASK_ROUTES["geo.outbox_sweep"] == {"queue": "notifications"}
    assert settings.CELERY_BEAT_SCHEDULE["outbox-sweep"]["task"] == "geo.outbox_sweep"
    from config.celery import app

    app.loader.import_default_modules()
    assert {"geo.outbox_deliver", "geo.outbox_sweep"} <= set(app.tasks)


def test_the_deliver_task_calls_the_service(locmem_email):
    from geo.tasks import outbox_deliver_task

    message = enqueue_email()
    assert outbox_deliver_task(message.pk) == "sent"
    assert len(locmem_email) == 1
