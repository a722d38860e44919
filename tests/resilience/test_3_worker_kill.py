"""Scenario 3: a Celery worker is SIGKILLed while a webhook delivery is in flight.

A local webhook receiver holds the first request for a few seconds; the worker is killed during
that wait (its transaction, holding the row lock, dies with its connection), a new worker is
started and the sweeper publishes the still-pending row again. The design (docs/adr/0004) gives
*at least once* at the wire and exactly once after the receiver drops replays by
``X-Concerto-Delivery``: that is what is measured and asserted here.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from geo.models import OutboxMessage
from geo.outbox import DELIVERY_HEADER, SIGNATURE_HEADER, outbox_sweep, verify_webhook_signature

from .harness import file_reports, record, start_worker, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "resilience-secret"
HOLD_FIRST_S = 4.0


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.receptions: Counter[str] = Counter()  # every request, by delivery id
        self.accepted: list[str] = []  # after dropping replays
        self.bad_signatures = 0
        self.held = threading.Event()
        self.lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        delivery = self.headers.get(DELIVERY_HEADER, "")
        with self.server.lock:
            self.server.receptions[delivery] += 1
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
    first = start_worker(server_env, tmp_path / "w1", "kill-me")
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
        # and a new worker starts, and the sweeper publishes what is still pending
        second = start_worker(server_env, tmp_path / "w2", "after-kill")
        wait_for(lambda: outbox_sweep() >= 0 and _sent(hook), 60, "the webhook to be sent again")
        time.sleep(HOLD_FIRST_S + 1)  # let the held request finish
        hook.refresh_from_db()
        figures = {
            "state_after_kill": state_after_kill,
            "attempts_after_kill": attempts_after_kill,
            "final_state": hook.state,
            "final_attempts": hook.attempts,
            "receptions_at_wire": receiver.receptions[str(hook.pk)],
            "accepted_after_dedupe": receiver.accepted.count(str(hook.pk)),
            "bad_signatures": receiver.bad_signatures,
        }
        record("3_worker_kill", figures)
        # then the row was left pending by the kill, and is sent by the retry
        assert state_after_kill == OutboxMessage.State.PENDING
        assert hook.state == OutboxMessage.State.SENT
        # at least once at the wire (the killed attempt had reached the receiver), once after dedupe
        assert receiver.receptions[str(hook.pk)] == 2
        assert receiver.accepted == [str(hook.pk)]
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
