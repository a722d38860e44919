"""A real Celery worker on Redis delivers the outbox, including after a broker outage.

The worker is a separate process configured by its environment: the pytest test database, a
dedicated Redis database (flushed first) and the file e-mail backend writing into a temporary
directory, where each delivered e-mail is counted by its Message-ID.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from geo.models import OutboxMessage
from geo.outbox import email_message_id, outbox_sweep
from geo.srid import point_from_lonlat
from signalements.models import Report, ReportContact, Ticket
from signalements.notifications import notify_report_confirmation, notify_ticket_created
from tests.factories import CategoryFactory, ServiceFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

BROKER_URL = os.environ.get("CONCERTO_TEST_BROKER_URL", "redis://127.0.0.1:6379/15")
CLOSED_BROKER_URL = "redis://127.0.0.1:1/0"
WORKER_NAME = f"outbox-test-{os.getpid()}@localhost"
DELIVERY_TIMEOUT_S = 20.0
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
CELERY = Path(sys.executable).with_name("celery")
# The queues of settings.CELERY_TASK_ROUTES (notifications: outbox; media: photos).
QUEUES = ("notifications", "media")


@dataclass
class Worker:
    process: subprocess.Popen
    mail_dir: Path
    log_path: Path

    def message_id_counts(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for path in self.mail_dir.glob("*"):
            counts.update(re.findall(r"^Message-ID: (<[^>]+>)", path.read_text(errors="replace"), re.M))
        return counts

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def _database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgis://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _wait_until(
    condition: Callable[[], bool], timeout: float, what: str, worker: Worker | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    detail = f"\n--- worker log ---\n{worker.log()}" if worker else ""
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}{detail}")


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, tmp_path_factory) -> Iterator[Worker]:
    """A real worker process on the test database and a dedicated Redis database."""
    from config.celery import app

    redis.Redis.from_url(BROKER_URL).flushdb()
    base = tmp_path_factory.mktemp("celery-worker")
    mail_dir = base / "mail"
    mail_dir.mkdir()
    log_path = base / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": _database_url(),
        "CONN_MAX_AGE": "0",
        "CELERY_BROKER_URL": BROKER_URL,
        "REDIS_URL": BROKER_URL,
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mail_dir),
        "PYTHONPATH": str(settings.BASE_DIR),
    }
    previous_broker = app.conf.broker_url
    app.conf.broker_url = BROKER_URL
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                str(CELERY),
                "-A",
                "config",
                "worker",
                "--pool=solo",
                "--concurrency=1",
                "-Q",
                ",".join(QUEUES),
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                WORKER_NAME,
                "-l",
                "INFO",
            ],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    worker = Worker(process=process, mail_dir=mail_dir, log_path=log_path)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"the Celery worker exited with {process.returncode}\n{worker.log()}")
            with app.connection_for_write(BROKER_URL) as conn:
                if app.control.ping(destination=[WORKER_NAME], timeout=1.0, connection=conn):
                    break
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the Celery worker did not answer within {START_TIMEOUT_S:.0f} s\n{worker.log()}"
                )
        yield worker
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)
        app.conf.broker_url = previous_broker


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


def _queue_drained() -> bool:
    client = redis.Redis.from_url(BROKER_URL)
    return all(client.llen(queue) == 0 for queue in QUEUES) and client.hlen("unacked") == 0


def test_a_committed_notification_is_delivered_by_the_worker(celery_worker):
    # given a ticket and its notification, committed together
    with transaction.atomic():
        ticket = _file_report(101)
        messages = notify_ticket_created(ticket=ticket)
    [message] = messages
    # when the worker receives the delivery task published on commit
    _wait_until(lambda: _states(messages) == {"sent"}, DELIVERY_TIMEOUT_S, "the delivery", celery_worker)
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
    _wait_until(lambda: _states(messages) == {"sent"}, DELIVERY_TIMEOUT_S, "the deliveries", celery_worker)
    _wait_until(_queue_drained, DELIVERY_TIMEOUT_S, "the queue to drain", celery_worker)
    counts = celery_worker.message_id_counts()
    assert {m.pk: counts[email_message_id(m.pk)] for m in messages} == {m.pk: 1 for m in messages}
    assert OutboxMessage.objects.filter(pk__in=[m.pk for m in messages], attempts=1).count() == 4
