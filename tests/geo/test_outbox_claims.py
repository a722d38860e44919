"""The outbox's claim and lease: a worker that dies while sending, a message that kills every worker.

A worker's death is reproduced in-process by a mail backend that raises an exception deriving from
``BaseException`` (as a SIGKILL or Celery's hard time limit, it escapes every ``except Exception``):
what matters is what the database holds afterwards, which is real PostGIS here. The real SIGKILL
of a real worker is scenario 3 of ``tests/resilience``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.sites import site
from django.core.mail.backends.base import BaseEmailBackend
from django.test import RequestFactory
from django.utils import timezone

from geo import outbox
from geo.admin import OutboxAdmin
from geo.models import OutboxMessage
from geo.outbox import INTERRUPTED_ERROR, email_message_id, outbox_deliver, outbox_due_ids
from tests.geo.outbox_support import enqueue_email, make_due

pytestmark = pytest.mark.django_db

State = OutboxMessage.State


class WorkerDied(BaseException):
    """Stands for the process dying in the middle of the SMTP conversation."""


class DyingBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise WorkerDied


@pytest.fixture
def dying_email(settings):
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.DyingBackend"}}
    settings.OUTBOX_MAX_ATTEMPTS = 3
    settings.OUTBOX_LEASE_SECONDS = 120


def _die_while_sending(message: OutboxMessage) -> None:
    with pytest.raises(WorkerDied):
        outbox_deliver(message_id=message.pk)


def test_a_worker_dying_while_sending_leaves_a_counted_attempt_under_lease(dying_email):
    # given a pending e-mail
    message = enqueue_email()
    before = timezone.now()
    # when the worker dies in the middle of sending it
    _die_while_sending(message)
    # then the claim survived the death: the attempt is counted and the row is leased, not pending
    message.refresh_from_db()
    assert message.state == State.SENDING
    assert message.attempts == 1
    lease = (message.next_attempt_at - before).total_seconds()
    assert 119 <= lease <= 121
    # and nobody sends it while the lease runs: not a duplicated task, not the sweeper
    assert outbox_deliver(message_id=message.pk) == State.SENDING
    assert message.pk not in outbox_due_ids()


def test_an_expired_lease_is_sent_again_with_the_same_message_id(dying_email, settings, mailoutbox):
    # given an e-mail whose worker died while sending it
    message = enqueue_email()
    _die_while_sending(message)
    # when the lease has run out and a living worker (a working mail server) takes it
    make_due(message)
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    assert message.pk in outbox_due_ids()
    assert outbox_deliver(message_id=message.pk) == State.SENT
    # then it is sent once, with the Message-ID of the lost attempt, as the second attempt
    [sent] = mailoutbox
    assert sent.message()["Message-ID"] == email_message_id(message.pk)
    message.refresh_from_db()
    assert (message.state, message.attempts) == (State.SENT, 2)
    assert message.sent_at is not None


def test_a_message_that_kills_every_worker_is_abandoned_after_the_maximum(dying_email, caplog):
    # given an e-mail whose sending kills the worker every time (OUTBOX_MAX_ATTEMPTS = 3)
    message = enqueue_email()
    for attempt in range(1, 4):
        _die_while_sending(message)
        message.refresh_from_db()
        assert (message.state, message.attempts) == (State.SENDING, attempt)
        make_due(message)
    # when its third lease runs out, then the next delivery abandons it without trying a fourth time
    assert outbox_deliver(message_id=message.pk) == State.FAILED
    message.refresh_from_db()
    assert (message.state, message.attempts) == (State.FAILED, 3)
    assert message.last_error == INTERRUPTED_ERROR
    assert message.pk not in outbox_due_ids()
    assert "abandoned after 3 attempts" in caplog.text


def test_a_worker_that_outlived_its_lease_does_not_overwrite_the_newer_claim(settings, mailoutbox):
    # given a message claimed by a slow worker A, whose lease ran out, then claimed by worker B
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    message = enqueue_email()
    claim_a = outbox._claim(message.pk)
    assert isinstance(claim_a, OutboxMessage)
    make_due(message)
    claim_b = outbox._claim(message.pk)
    assert isinstance(claim_b, OutboxMessage)
    assert (claim_a.attempts, claim_b.attempts) == (1, 2)
    # when A finally fails and records it, then B's claim stands (A's result is dropped, and logged)
    outbox._record_failure(claim_a, ConnectionError("late"), timezone.now())
    message.refresh_from_db()
    assert (message.state, message.attempts, message.last_error) == (State.SENDING, 2, "")
    # and when B succeeds, the row is sent; A's late success changes nothing afterwards
    assert outbox._record_success(claim_b) == State.SENT
    assert outbox._record_success(claim_a) == State.SENT
    message.refresh_from_db()
    assert (message.state, message.attempts) == (State.SENT, 2)


def test_the_admin_does_not_requeue_a_message_being_sent(dying_email, admin_user):
    # given one message in flight (under lease) and one in doubt (lease expired)
    in_flight = enqueue_email("test:in-flight")
    in_doubt = enqueue_email("test:in-doubt")
    _die_while_sending(in_flight)
    _die_while_sending(in_doubt)
    OutboxMessage.objects.filter(pk=in_doubt.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    # when an administrator asks to resend both
    request = RequestFactory().post("/admin/geo/outboxmessage/")
    request.user = admin_user
    request._messages = _Messages()
    OutboxAdmin(OutboxMessage, site).retry_now(request, OutboxMessage.objects.all())
    # then only the one in doubt is re-queued; the worker sending the other one keeps it
    in_flight.refresh_from_db()
    in_doubt.refresh_from_db()
    assert (in_flight.state, in_flight.attempts) == (State.SENDING, 1)
    assert (in_doubt.state, in_doubt.attempts) == (State.PENDING, 0)


class _Messages(list):
    """The messages storage the admin action writes its confirmation to."""

    def add(self, level, message, extra_tags=""):
        self.append(str(message))


def test_the_delivery_task_is_killed_before_its_lease_runs_out(settings):
    # A living delivery must never be resent while it runs: the hard time limit comes first.
    from config.celery import app
    from geo.tasks import outbox_deliver_task

    app.loader.import_default_modules()
    assert app.tasks[outbox_deliver_task.name].time_limit == settings.OUTBOX_DELIVERY_TIME_LIMIT_SECONDS
    assert settings.OUTBOX_DELIVERY_TIME_LIMIT_SECONDS < settings.OUTBOX_LEASE_SECONDS
