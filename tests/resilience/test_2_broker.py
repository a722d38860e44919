"""Scenario 2: the broker (a private redis-server) is stopped while citizens file reports.

Filing must keep succeeding (the outbox row commits, publishing fails fast and is swallowed), and
once the broker is back the sweeper (what beat runs every OUTBOX_SWEEP_SECONDS) gets every
notification delivered, each e-mail exactly once (counted by its stable Message-ID).
"""

from __future__ import annotations

import re
import time
from collections import Counter

import pytest

from geo.models import OutboxMessage
from geo.outbox import email_message_id, outbox_sweep
from signalements.models import Report

from .harness import file_reports, get, record, start_worker, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

CLIENTS = 10
SECONDS = 20.0
OUTAGE_AT_S, OUTAGE_S = 5.0, 8.0


def _message_id_counts(mail_dir) -> Counter[str]:  # type: ignore[no-untyped-def]
    counts: Counter[str] = Counter()
    for path in mail_dir.glob("*"):
        counts.update(re.findall(r"^Message-ID: (<[^>]+>)", path.read_text(errors="replace"), re.M))
    return counts


def test_filing_survives_a_broker_outage_and_every_notification_is_delivered_once(
    web, spot, private_redis, server_env, celery_app, tmp_path
):
    worker = start_worker(server_env, tmp_path, "broker-outage")
    outage: dict[str, object] = {}
    try:

        def broker_outage() -> None:
            time.sleep(OUTAGE_AT_S)
            private_redis.stop()
            time.sleep(1.0)
            outage["healthz"] = get(web, "/healthz")[0]
            time.sleep(OUTAGE_S - 1.0)
            private_redis.start()

        # when the broker is stopped in the middle of the filing and started again
        load = file_reports(
            web, clients=CLIENTS, seconds=SECONDS, lonlat=spot, category="nid-de-poule", during=broker_outage
        )
        during = [s for t, s in load.timeline if OUTAGE_AT_S + 0.5 < t < OUTAGE_AT_S + OUTAGE_S - 0.5]
        # then filing never failed, during the outage too
        assert load.figures()["5xx"] == 0 and load.figures()["connection_errors"] == 0, load.figures()
        assert during and set(during) == {201}
        # and every acknowledged report is stored
        stored = Report.objects.filter(reference__in=load.acknowledged).count()
        assert stored == len(load.acknowledged)
        # when the sweeper runs once the broker is back (beat would, every minute)
        pending_after_outage = OutboxMessage.objects.filter(state=OutboxMessage.State.PENDING).count()
        started = time.monotonic()
        swept = outbox_sweep()
        messages = OutboxMessage.objects.filter(
            topic__in=[f"report:{pk}" for pk in Report.objects.values_list("pk", flat=True)]
        )
        total = OutboxMessage.objects.count()

        last_sweep = [time.monotonic()]

        def all_sent() -> bool:
            if not OutboxMessage.objects.exclude(state=OutboxMessage.State.SENT).exists():
                return True
            if time.monotonic() - last_sweep[0] > 5:  # like beat: a sweep publishes at most 500 rows
                outbox_sweep()
                last_sweep[0] = time.monotonic()
            return False

        try:
            wait_for(all_sent, 120, "every outbox message to be sent")
        except AssertionError:
            print(worker.log())
            raise
        drained_s = time.monotonic() - started
        # then every notification was delivered exactly once
        counts = _message_id_counts(worker.mail_dir)
        ids = list(OutboxMessage.objects.values_list("pk", flat=True))
        per_message = Counter(counts[email_message_id(pk)] for pk in ids)
        record(
            "2_broker_outage",
            {
                "clients": CLIENTS,
                "outage_s": OUTAGE_S,
                "healthz_during_outage": outage.get("healthz"),
                "requests_during_outage": len(during),
                "outbox_messages": total,
                "for_reports": messages.count(),
                "pending_after_outage": pending_after_outage,
                "published_by_sweep": swept,
                "delivered_in_s_after_sweep": round(drained_s, 1),
                "deliveries_per_message": {str(k): v for k, v in per_message.items()},
                **load.figures(),
            },
        )
        assert outage["healthz"] == 503
        assert per_message == Counter({1: len(ids)})
    finally:
        worker.stop()
