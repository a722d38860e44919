"""Scenario 3: a Celery worker is SIGKILLed while a webhook delivery is in flight.

A local webhook receiver holds the first request for a few seconds; the worker is killed during
that wait. Its claim on the row was committed before sending: the row stays ``sending`` with the
attempt counted until its lease runs out; a new worker is started and the sweeper publishes the row
again, which is resent with the same ``Idempotency-Key``. Whether the dead worker's request reached
the receiver cannot be known by the sender, so the wire sees it twice; the receiver, which keeps the
keys it has processed (as every receiver must, docs/adr/0004), processes it exactly once. That is
what is measured and asserted here.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from geo.models import OutboxMessage
from geo.outbox import (
    ATTEMPT_HEADER,
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    outbox_sweep,
    verify_webhook_signature,
)

from .harness import file_reports, record, start_worker, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "resilience-secret"
HOLD_FIRST_S = 4.0
# Short enough for the test; the time limit stays below the lease, as settings require.
LEASE_S = 8


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.receptions: Counter[str] = Counter()  # every request, by idempotency key
        self.attempts: list[str] = []  # X-Concerto-Attempt of each request, in order
        self.accepted: list[str] = []  # processed, after dropping replays by idempotency key
        self.bad_signatures = 0
        self.held = threading.Event()
        self.lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        delivery = self.headers.get(IDEMPOTENCY_HEADER, "")
        with self.server.lock:
            self.server.receptions[delivery] += 1
            self.server.attempts.append(self.headers.get(ATTEMPT_HEADER, ""))
            first = self.server.receptions[delivery] == 1
            if not verify_webhook_signature(SECRET, body, self.headers.get(SIGNATURE_HEADER)):
                self.server.bad_signatures += 1
        if first:
            self.server.held.set()
            time.sleep(HOLD_FIRST_S)  # the worker is killed meanwhile
        with self.server.lock:
            if delivery not in self.server.accepted:
                self.server.accepted.append(delivery)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_delivery_interrupted_by_a_worker_kill_is_retried_and_accepted_once(
    web, spot, world, server_env, celery_app, tmp_path
):
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    world.west.webhook_url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    world.west.webhook_secret = SECRET
    world.west.save(update_fields=["webhook_url", "webhook_secret"])
    worker_env = {
        **server_env,
        "OUTBOX_LEASE_SECONDS": str(LEASE_S),
        "OUTBOX_DELIVERY_TIME_LIMIT_SECONDS": str(LEASE_S - 2),
    }
    first = start_worker(worker_env, tmp_path / "w1", "kill-me")
    second = None
    try:
        # given one report filed, whose webhook the worker is delivering
        load = file_reports(web, clients=1, seconds=0.01, lonlat=spot, category="nid-de-poule")
        assert len(load.acknowledged) == 1, load.figures()
        [hook] = OutboxMessage.objects.filter(kind=OutboxMessage.Kind.WEBHOOK)
        assert receiver.held.wait(30), first.log()
        # when the worker is killed in the middle of that delivery
        first.kill()
        hook.refresh_from_db()
        state_after_kill, attempts_after_kill = hook.state, hook.attempts
        # and a new worker starts, and the sweeper publishes what is due (the row, once its lease ran out)
        second = start_worker(worker_env, tmp_path / "w2", "after-kill")
        wait_for(lambda: outbox_sweep() >= 0 and _sent(hook), 60, "the webhook to be sent again")
        time.sleep(HOLD_FIRST_S + 1)  # let the held request finish
        hook.refresh_from_db()
        key = f"concerto-outbox-{hook.pk}"
        figures = {
            "state_after_kill": state_after_kill,
            "attempts_after_kill": attempts_after_kill,
            "final_state": hook.state,
            "final_attempts": hook.attempts,
            "receptions_at_wire": receiver.receptions[key],
            "attempt_headers": receiver.attempts,
            "processed_by_receiver": receiver.accepted.count(key),
            "bad_signatures": receiver.bad_signatures,
        }
        record("3_worker_kill", figures)
        # then the kill left the row claimed with its attempt counted, and the retry sent it
        assert (state_after_kill, attempts_after_kill) == (OutboxMessage.State.SENDING, 1)
        assert (hook.state, hook.attempts) == (OutboxMessage.State.SENT, 2)
        # twice at the wire (the killed attempt had reached the receiver), processed exactly once
        assert receiver.receptions[key] == 2
        assert receiver.attempts == ["1", "2"]
        assert receiver.accepted == [key]
        assert receiver.bad_signatures == 0
        # and every other notification (the e-mails) is sent too
        wait_for(lambda: not OutboxMessage.objects.exclude(state="sent").exists(), 60, "the e-mails")
    finally:
        first.stop()
        if second is not None:
            second.stop()
        receiver.shutdown()
        receiver.server_close()


def _sent(message: OutboxMessage) -> bool:
    message.refresh_from_db()
    if message.state != OutboxMessage.State.SENT:
        time.sleep(0.5)
        return False
    return True
