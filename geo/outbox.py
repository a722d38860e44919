"""The notification outbox: rows written with their cause, delivered later, each at most once per success.

Why a table and not a Celery message: the row is committed in the same transaction as the change
that caused it (a report filed, a ticket transition, a project update), so a notification can
neither be lost (broker down, worker crash) nor sent for something that was rolled back. Celery
only moves rows forward:

* :func:`outbox_enqueue` writes the row (idempotent by ``dedupe_key``) and, once the caller's
  transaction commits, publishes one delivery task. A broker outage is logged and swallowed: the
  citizen's request succeeds and the beat sweeper sends the row later.
* :func:`outbox_deliver` claims the row (the attempt counted and a lease taken, committed), sends it
  outside any transaction, and records success or the next attempt with exponential back-off. A
  duplicated or retried task finds the row sent or under lease and does nothing.
* :func:`outbox_sweep` (beat, every ``OUTBOX_SWEEP_SECONDS``) publishes a task for every due row.

A worker that dies while sending leaves the row ``sending``; once the lease runs out it is sent again,
the lost attempt counted. Nobody can know whether the dead worker's request reached the receiver, so
the resend is unavoidable: e-mails carry a stable ``Message-ID`` and webhooks an ``Idempotency-Key``
(and ``X-Concerto-Delivery``) so that the receiver processes each message exactly once.

The outbox belongs to ``geo`` because every domain (``signalements``, ``urbanisme``) sends through
it and the domains never import each other: callers say what a message is about with a free
``topic`` string (``"report:123"``, ``"project:42"``) instead of a foreign key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import random
import threading
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from geo.models import OutboxMessage, Service

logger = logging.getLogger(__name__)

State = OutboxMessage.State
Kind = OutboxMessage.Kind

_DEDUPE_KEY_MAX: int = getattr(OutboxMessage._meta.get_field("dedupe_key"), "max_length", None) or 200
_SUBJECT_MAX: int = getattr(OutboxMessage._meta.get_field("subject"), "max_length", None) or 300
_TOPIC_MAX: int = getattr(OutboxMessage._meta.get_field("topic"), "max_length", None) or 100
_LAST_ERROR_MAX = 500
# How long a request waits for a free publishing connection before giving up (the sweeper sends later).
_POOL_ACQUIRE_TIMEOUT_SECONDS = 1.0
SIGNATURE_HEADER = "X-Concerto-Signature"
DELIVERY_HEADER = "X-Concerto-Delivery"
EVENT_HEADER = "X-Concerto-Event"
ATTEMPT_HEADER = "X-Concerto-Attempt"
# The header name of the IETF draft "The Idempotency-Key HTTP Header Field": receivers that already
# deduplicate requests (payment-style APIs, most ticketing tools) do it with no code of their own.
IDEMPOTENCY_HEADER = "Idempotency-Key"
# Rows a delivery may take: pending and due, or sending with an expired lease (their worker died).
DUE_STATES = (State.PENDING, State.SENDING)
INTERRUPTED_ERROR = "interrompu pendant l'envoi (worker perdu) à chaque tentative"


class DeliveryError(Exception):
    """A delivery attempt that did not succeed (non-2xx answer, nothing sent, missing service...)."""


# --- enqueue -------------------------------------------------------------------------------------


def outbox_enqueue(
    *,
    kind: str,
    destination: str,
    dedupe_key: str,
    subject: str = "",
    body_text: str = "",
    body_html: str = "",
    payload: dict[str, Any] | None = None,
    topic: str = "",
) -> OutboxMessage:
    """Write a notification in the caller's transaction; publish its delivery once that commits.

    Idempotent: a second call with the same ``dedupe_key`` returns the existing row unchanged and
    publishes nothing. Must run inside ``transaction.atomic()`` so that the row shares the fate of
    its cause. ``topic`` names that cause (``"report:123"``) for the admin and for erasure.
    """
    if kind not in Kind.values:
        raise ValueError(f"unknown outbox kind: {kind!r}")
    if not destination:
        raise ValueError("an outbox message needs a destination")
    if len(topic) > _TOPIC_MAX:
        raise ValueError(f"outbox topic longer than {_TOPIC_MAX} characters: {topic[:40]!r}...")
    if not connection.in_atomic_block:
        raise TransactionManagementError("outbox_enqueue must be called inside transaction.atomic()")
    message, created = OutboxMessage.objects.get_or_create(
        dedupe_key=_fit_dedupe_key(dedupe_key),
        defaults={
            "kind": kind,
            "destination": destination,
            "subject": " ".join(subject.split())[:_SUBJECT_MAX],
            "body_text": body_text,
            "body_html": body_html,
            "payload": payload or {},
            "topic": topic,
            "next_attempt_at": timezone.now(),
        },
    )
    if created:
        transaction.on_commit(partial(_publish_after_commit, message.pk), robust=True)
    return message


def _fit_dedupe_key(key: str) -> str:
    """Long keys (a long e-mail address) keep a readable prefix and end with a hash of the whole key."""
    if len(key) <= _DEDUPE_KEY_MAX:
        return key
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return f"{key[: _DEDUPE_KEY_MAX - len(digest) - 1]}#{digest}"


def _publish_after_commit(message_id: int) -> None:
    """Never let a broker outage fail the request: the row is committed, the sweeper will send it."""
    try:
        _publish_deliveries([message_id])
    except Exception as exc:
        logger.warning(
            "Outbox message %s committed but its delivery task was not published (%s: %s); "
            "the sweeper will send it.",
            message_id,
            type(exc).__name__,
            exc,
        )


# --- publishing ----------------------------------------------------------------------------------

# Publishing connections that fail at once when the broker is down. Celery's own pool retries the
# connection for ``broker_connection_timeout`` seconds (about 6 s measured against a closed port),
# which a citizen's request must not wait; these give up after one attempt (~2 ms refused, at most
# the 2 s ``socket_connect_timeout`` when packets are dropped). Keyed by broker URL so that a
# reconfigured app (tests) gets its own pool.
_pools: dict[str, Any] = {}
_pools_lock = threading.Lock()


def _forget_pools() -> None:
    _pools.clear()


os.register_at_fork(after_in_child=_forget_pools)


def _publisher_pool(app: Any) -> Any:
    url = app.conf.broker_write_url
    with _pools_lock:
        pool = _pools.get(url)
        if pool is None:
            conn = app.connection_for_write(url, transport_options={"max_retries": 0})
            pool = conn.Pool(limit=app.conf.broker_pool_limit or 10)
            _pools[url] = pool
    return pool


def publish_fast(task: Any, calls: list[dict[str, Any]]) -> None:
    """Publish ``task`` once per kwargs in ``calls`` through the fail-fast pool; broker errors propagate."""
    pool = _publisher_pool(task.app)
    with pool.acquire(block=True, timeout=_POOL_ACQUIRE_TIMEOUT_SECONDS) as conn:
        for kwargs in calls:
            task.apply_async(kwargs=kwargs, connection=conn, retry=False)


def _publish_deliveries(message_ids: list[int]) -> None:
    """Publish one ``geo.outbox_deliver`` task per id; broker errors propagate."""
    from geo.tasks import outbox_deliver_task  # tasks import this module

    publish_fast(outbox_deliver_task, [{"message_id": message_id} for message_id in message_ids])


# --- sweeping ------------------------------------------------------------------------------------


def outbox_due_ids(*, limit: int = 500) -> list[int]:
    """Rows due for an attempt, oldest first (served by the partial index).

    Pending rows whose back-off has run out, and ``sending`` rows whose lease has: their worker died.
    """
    return list(
        OutboxMessage.objects.filter(state__in=DUE_STATES, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def outbox_sweep() -> int:
    """Publish a delivery task for every due row; returns how many. Broker errors propagate.

    A row whose first task is still queued may get a second one: delivery is idempotent.
    """
    ids = outbox_due_ids()
    if ids:
        _publish_deliveries(ids)
        logger.info("Outbox sweep: %s delivery task(s) published.", len(ids))
    return len(ids)


# --- delivery ------------------------------------------------------------------------------------


def outbox_deliver(*, message_id: int) -> str:
    """Send one row if it is due; record the result. Returns the row's state.

    Three short steps instead of one long transaction, so that a worker that dies while sending (a
    SIGKILL, the task's hard time limit, an out-of-memory kill) still leaves a trace:

    1. *claim*: lock the row (``SKIP LOCKED``), count the attempt, mark it ``sending`` with a lease
       (``next_attempt_at`` = now + ``OUTBOX_LEASE_SECONDS``) and commit. A concurrent or duplicated
       task finds it locked, ``sending`` under lease, or ``sent``, and leaves it alone.
    2. *send*, holding no lock and no transaction (a slow receiver no longer holds a database
       connection in a transaction, which a transaction-mode pooler would pin).
    3. *record*: ``sent``, or back to ``pending`` with back-off, or ``failed`` — only if the claim is
       still ours (``attempts`` is the fencing token: a worker that outlived its lease, whose row was
       claimed again, does not overwrite the newer claim).

    A row whose lease ran out while ``sending`` is *in doubt*: its worker died after claiming. It is
    due again (the sweeper finds it); the attempt it used has been counted, so a message that kills
    its worker every time reaches ``OUTBOX_MAX_ATTEMPTS`` and ``failed`` instead of looping forever.
    The resend carries the same delivery id (``Idempotency-Key``), which is what makes the delivery
    exactly once for a receiver that keeps the ids it has processed (docs/adr/0004-outbox.md).
    """
    claim = _claim(message_id)
    if isinstance(claim, str):
        return claim
    message = claim
    try:
        if message.kind == Kind.EMAIL:
            _send_email(message)
        elif message.kind == Kind.WEBHOOK:
            _send_webhook(message)
        else:
            raise DeliveryError(f"unknown kind {message.kind!r}")
    except Exception as exc:
        return _record_failure(message, exc, timezone.now())
    return _record_success(message)


def _claim(message_id: int) -> OutboxMessage | str:
    """Count the attempt and take the lease in a committed transaction; the row, or its state if not ours."""
    now = timezone.now()
    with transaction.atomic():
        message = (
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(pk=message_id, state__in=DUE_STATES, next_attempt_at__lte=now)
            .first()
        )
        if message is None:
            state = OutboxMessage.objects.filter(pk=message_id).values_list("state", flat=True).first()
            return state or "missing"
        if message.state == State.SENDING:
            logger.warning(
                "Outbox message %s (%s): attempt %s was interrupted while sending (worker lost); "
                "sending again with the same delivery id.",
                message.pk,
                message.kind,
                message.attempts,
            )
            if message.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
                message.last_error = INTERRUPTED_ERROR
                _abandon(message)
                message.save(update_fields=["state", "last_error"])
                return message.state
        message.attempts += 1
        message.state = State.SENDING
        message.next_attempt_at = now + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS)
        message.save(update_fields=["state", "attempts", "next_attempt_at"])
    return message


def _ours(message: OutboxMessage) -> Any:
    """The row as long as our claim holds: same attempt number, still ``sending``."""
    return OutboxMessage.objects.filter(pk=message.pk, state=State.SENDING, attempts=message.attempts)


def _record_success(message: OutboxMessage) -> str:
    updated = _ours(message).update(state=State.SENT, sent_at=timezone.now(), last_error="")
    if not updated:
        _log_lost_claim(message)
        return (
            OutboxMessage.objects.filter(pk=message.pk).values_list("state", flat=True).first() or "missing"
        )
    return State.SENT


def _record_failure(message: OutboxMessage, exc: Exception, now: datetime) -> str:
    message.last_error = _describe_error(exc, message)
    if message.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
        _abandon(message)
    else:
        message.state = State.PENDING
        message.next_attempt_at = now + backoff_delay(message.attempts)
        logger.warning(
            "Outbox message %s (%s) failed, attempt %s/%s, next at %s: %s",
            message.pk,
            message.kind,
            message.attempts,
            settings.OUTBOX_MAX_ATTEMPTS,
            message.next_attempt_at.isoformat(),
            message.last_error,
        )
    updated = _ours(message).update(
        state=message.state, last_error=message.last_error, next_attempt_at=message.next_attempt_at
    )
    if not updated:
        _log_lost_claim(message)
    return message.state


def _abandon(message: OutboxMessage) -> None:
    message.state = State.FAILED
    logger.error(
        "Outbox message %s (%s) abandoned after %s attempts: %s",
        message.pk,
        message.kind,
        message.attempts,
        message.last_error,
    )


def _log_lost_claim(message: OutboxMessage) -> None:
    logger.warning(
        "Outbox message %s: attempt %s finished after its lease (OUTBOX_LEASE_SECONDS) and the row was "
        "claimed again; its result is not recorded.",
        message.pk,
        message.attempts,
    )


def backoff_delay(attempts: int) -> timedelta:
    """Delay before the next try after ``attempts`` failures: base·2^(n-1), capped, ±10 % jitter."""
    base = settings.OUTBOX_BACKOFF_BASE_SECONDS
    cap = settings.OUTBOX_BACKOFF_MAX_SECONDS
    seconds = min(base * 2 ** max(attempts - 1, 0), cap)
    return timedelta(seconds=seconds * random.uniform(0.9, 1.1))  # noqa: S311 - jitter, not a secret


def _describe_error(exc: Exception, message: OutboxMessage) -> str:
    """A short, admin-readable cause without the destination (a URL may hold a token, an address is personal)."""
    if isinstance(exc, urllib.error.HTTPError):
        text = f"HTTP {exc.code} {exc.reason}"
    elif isinstance(exc, urllib.error.URLError):
        text = f"URLError: {exc.reason}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    if message.destination:
        text = text.replace(message.destination, "<destination>")
    return text[:_LAST_ERROR_MAX]


def email_message_id(message_id: int) -> str:
    """The stable Message-ID of an outbox e-mail: a re-sent copy can be recognised as the same."""
    return f"<outbox-{message_id}@concerto>"


def _send_email(message: OutboxMessage) -> None:
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.destination],
        headers={"Message-ID": email_message_id(message.pk)},
    )
    if message.body_html:
        email.attach_alternative(message.body_html, "text/html")
    if email.send() != 1:
        raise DeliveryError("the e-mail backend sent nothing")


# --- webhooks ------------------------------------------------------------------------------------


def webhook_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes posted and signed: compact JSON, sorted keys, UTF-8."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")


def webhook_signature(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of body keyed with secret>``, the value of ``X-Concerto-Signature``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_webhook_signature(secret: str, body: bytes, header: str | None) -> bool:
    """For receivers (and tests): does ``header`` sign ``body`` with ``secret``? Constant-time."""
    if not secret or not header:
        return False
    expected = webhook_signature(secret, body).encode("ascii")
    return hmac.compare_digest(expected, header.strip().encode("utf-8", errors="replace"))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirected webhook is a failure: following it would turn the POST into a GET elsewhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _webhook_secret(message: OutboxMessage) -> str:
    service_id = message.payload.get("service_id")
    secret = Service.objects.filter(pk=service_id).values_list("webhook_secret", flat=True).first()
    if secret is None:
        raise DeliveryError(f"service {service_id!r} not found")
    return secret


def _send_webhook(message: OutboxMessage) -> None:
    if not message.destination.lower().startswith(("https://", "http://")):
        raise DeliveryError("webhook URL must be http(s)")
    secret = _webhook_secret(message)
    body = webhook_body(message.payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Concerto-Webhook/1",
        DELIVERY_HEADER: str(message.pk),
        IDEMPOTENCY_HEADER: f"concerto-outbox-{message.pk}",
        ATTEMPT_HEADER: str(message.attempts),
        EVENT_HEADER: str(message.payload.get("event", "")),
    }
    if secret:
        headers[SIGNATURE_HEADER] = webhook_signature(secret, body)
    request = urllib.request.Request(message.destination, data=body, headers=headers, method="POST")  # noqa: S310 - scheme checked above
    with _opener.open(request, timeout=settings.WEBHOOK_TIMEOUT_SECONDS) as response:
        status = response.status
    if not 200 <= status < 300:
        raise DeliveryError(f"HTTP {status}")
