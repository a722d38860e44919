"""The outbox and the notifications, on real PostGIS: enqueue, delivery, back-off, webhooks, broker outage."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.utils import timezone, translation
from kombu.exceptions import OperationalError

from geo.srid import point_from_lonlat
from signalements import outbox
from signalements.models import (
    Follower,
    OutboxMessage,
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
from signalements.outbox import (
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
from tests.factories import CategoryFactory, ServiceFactory

pytestmark = pytest.mark.django_db

CLOSED_BROKER_URL = "redis://127.0.0.1:1/0"
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


def enqueue_email(key: str = "test:1", destination: str = "agent@example.org") -> OutboxMessage:
    with transaction.atomic():
        return outbox_enqueue(
            kind=OutboxMessage.Kind.EMAIL,
            destination=destination,
            dedupe_key=key,
            subject="Sujet",
            body_text="Corps",
            body_html="<p>Corps</p>",
        )


@pytest.fixture
def published(monkeypatch):
    """Records the ids whose delivery task would be published, instead of talking to the broker."""
    ids: list[int] = []
    monkeypatch.setattr(outbox, "_publish_deliveries", lambda message_ids: ids.extend(message_ids))
    return ids


@pytest.fixture
def locmem_email(settings, mailoutbox):
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    settings.DEFAULT_FROM_EMAIL = "Concerto <ne-pas-repondre@concerto.test>"
    return mailoutbox


class FailingBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionRefusedError("SMTP server refused the connection")


@pytest.fixture
def failing_email(settings):
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.FailingBackend"}}
    settings.OUTBOX_MAX_ATTEMPTS = 3
    settings.OUTBOX_BACKOFF_BASE_SECONDS = 30.0
    settings.OUTBOX_BACKOFF_MAX_SECONDS = 3600.0


def make_due(message: OutboxMessage) -> None:
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())


class WebhookReceiver:
    """A real HTTP server on loopback that checks signatures and records what it receives."""

    secret = "s3cret-de-test"

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status = 204
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                signature_ok = verify_webhook_signature(
                    receiver.secret, body, self.headers.get("X-Concerto-Signature")
                )
                receiver.requests.append(
                    {
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                        "signature_ok": signature_ok,
                    }
                )
                self.send_response(receiver.status if signature_ok else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/concerto"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    with WebhookReceiver() as server:
        yield server


@pytest.fixture
def closed_broker(settings):
    """The test process's broker points at a closed port; restored afterwards."""
    from config.celery import app

    previous = app.conf.broker_url
    settings.CELERY_BROKER_URL = CLOSED_BROKER_URL
    app.conf.broker_url = CLOSED_BROKER_URL
    yield
    app.conf.broker_url = previous


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


def test_a_non_2xx_answer_is_a_failure(receiver, published):
    # given a receiver that answers 500, behind a URL carrying a token
    receiver.status = 500
    service = ServiceFactory(
        emails=[], webhook_url=receiver.url + "?token=abc123", webhook_secret=receiver.secret
    )
    with transaction.atomic():
        [webhook] = notify_ticket_created(ticket=make_ticket(service=service))
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
    with transaction.atomic():
        [webhook] = notify_ticket_created(ticket=make_ticket(service=service))
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


def test_tasks_have_explicit_names():
    from signalements.tasks import outbox_deliver_task, outbox_sweep_task, photo_process_task

    assert outbox_deliver_task.name == "signalements.outbox_deliver"
    assert outbox_sweep_task.name == "signalements.outbox_sweep"
    assert photo_process_task.name == "signalements.photo_process"
    assert photo_process_task.max_retries == 5
    assert OSError in photo_process_task.autoretry_for


def test_the_deliver_task_calls_the_service(locmem_email):
    from signalements.tasks import outbox_deliver_task

    message = enqueue_email()
    assert outbox_deliver_task(message.pk) == "sent"
    assert len(locmem_email) == 1


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
    assert "SIG-2026-000002" in message.subject and "SIG-2026-000001" in message.subject
    assert "Vous suivez désormais le signalement SIG-2026-000001" in message.body_text
