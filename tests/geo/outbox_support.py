"""Helpers and fixtures for tests that go through the outbox (``geo.outbox``), whatever the domain.

Made available as fixtures by ``tests/geo/conftest.py`` and ``tests/signalements/conftest.py``.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.utils import timezone

from geo import outbox
from geo.models import OutboxMessage
from geo.outbox import outbox_enqueue, verify_webhook_signature

CLOSED_BROKER_URL = "redis://127.0.0.1:1/0"


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
