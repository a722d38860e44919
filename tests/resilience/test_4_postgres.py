"""Scenario 4 (run last): the PostgreSQL cluster is stopped and started while citizens file reports.

WARNING: this restarts the machine's cluster (``pg_ctlcluster 15 main``), which disconnects every
other client of it. It runs once, and the cluster is started again in a ``finally`` whatever
happens.

Asserted: /healthz answers 503 during the outage, no acknowledged report is lost, and the service
recovers by itself (no process restarted), and the filing API answers 503 (with Retry-After, set by
``config.availability``) during the outage, never 500.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections import Counter

import pytest
from django.db import connection

from signalements.models import Report

from .harness import file_reports, get, record, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

CLUSTER = os.environ.get("RESILIENCE_PG_CLUSTER", "15 main").split()
CLIENTS = 10
SECONDS = 30.0
STOP_AT_S, DOWN_S = 5.0, 6.0


def pg_ctl(action: str) -> None:
    extra = ["-m", "fast"] if action == "stop" else []
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", *CLUSTER, action, *extra],
        check=True,
        timeout=60,
        capture_output=True,
    )


def pg_running() -> bool:
    done = subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", *CLUSTER, "status"], capture_output=True
    )
    return done.returncode == 0


def ensure_pg_running() -> None:
    if not pg_running():
        pg_ctl("start")


def test_a_postgresql_restart_loses_no_acknowledged_report_and_the_service_recovers(web, spot):
    outage: dict[str, object] = {"healthz": [], "api": []}
    try:

        def restart() -> None:
            time.sleep(STOP_AT_S)
            pg_ctl("stop")
            outage["stopped_at"] = time.monotonic()
            deadline = time.monotonic() + DOWN_S
            while time.monotonic() < deadline:
                status, headers, _ = get(web, "/healthz", timeout=5)
                outage["healthz"].append((status, headers.get("Retry-After")))  # type: ignore[union-attr]
                time.sleep(0.5)
            pg_ctl("start")
            outage["started_at"] = time.monotonic()
            wait_for(lambda: get(web, "/healthz")[0] == 200, 60, "/healthz to answer 200 again")
            outage["recovered_s"] = round(time.monotonic() - outage["started_at"], 1)  # type: ignore[operator]

        load = file_reports(
            web, clients=CLIENTS, seconds=SECONDS, lonlat=spot, category="nid-de-poule", during=restart
        )
    finally:
        ensure_pg_running()
        connection.close()  # this process's connection died with the server

    offset = outage["stopped_at"] - (time.monotonic() - load.seconds)  # type: ignore[operator]
    during = Counter(s for t, s in load.timeline if offset + 0.5 < t < offset + DOWN_S - 0.5)
    after = [s for t, s in load.timeline if t > offset + DOWN_S + outage["recovered_s"] + 1]  # type: ignore[operator]
    healthz = Counter(s for s, _ in outage["healthz"])  # type: ignore[union-attr]
    acknowledged = set(load.acknowledged)
    stored = set(Report.objects.filter(reference__in=acknowledged).values_list("reference", flat=True))
    figures = {
        "clients": CLIENTS,
        "down_s": DOWN_S,
        "healthz_during_outage": {str(k): v for k, v in healthz.items()},
        "api_during_outage": {str(k): v for k, v in sorted(during.items())},
        "recovered_s_after_start": outage["recovered_s"],
        "answers_after_recovery": {str(k): v for k, v in Counter(after).items()},
        "acknowledged_lost": len(acknowledged - stored),
        **load.figures(),
    }
    record("4_postgres_restart", figures)
    # then the probe said so during the outage
    assert set(healthz) == {503}, figures
    # and the API said « try again » (503 with Retry-After, config/availability.py), never 500
    assert during and set(during) <= {503}, figures
    # and no acknowledged report was lost
    assert acknowledged and stored == acknowledged
    # and the service recovered by itself: every answer after recovery is 201
    assert after and set(after) == {201}, figures
