"""The database settings behind a pooler and with a replica, and the router's decisions.

The real proofs (a real PgBouncer, a real streaming standby) are in tests/deploy/test_pgbouncer.py
and tests/deploy/test_replica.py; these check the decisions themselves, fast.
"""

import json
import logging
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from config import db_router, metrics
from config.db_router import PrimaryReplicaRouter, ReplicaProbe, probe_replica, replica_alias
from signalements import selectors
from signalements.models import Report

ROOT = Path(__file__).resolve().parent.parent

_DUMP = (
    "import django, json; django.setup(); from django.conf import settings; "
    "print(json.dumps({'dbs': settings.DATABASES, 'routers': settings.DATABASE_ROUTERS, "
    "'pooler': settings.DATABASE_POOLER}, default=str))"
)


def _settings(**env: str) -> dict:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_POOLER", "DATABASE_REPLICA_URL", "DJANGO_SETTINGS_MODULE"}
    }
    clean.update(env, DJANGO_SETTINGS_MODULE="config.settings.test")
    result = subprocess.run(
        [sys.executable, "-c", _DUMP], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_direct_connections_keep_prepares_options_and_server_side_cursors() -> None:
    conf = _settings()
    default = conf["dbs"]["default"]
    assert set(conf["dbs"]) == {"default"}
    assert default["OPTIONS"]["prepare_threshold"] == 5
    assert "jit=off" in default["OPTIONS"]["options"]
    assert not default.get("DISABLE_SERVER_SIDE_CURSORS")
    assert conf["routers"] == ["config.db_router.PrimaryReplicaRouter"]


def test_transaction_pooler_drops_every_session_state() -> None:
    conf = _settings(DATABASE_POOLER="transaction", DATABASE_REPLICA_URL="postgres://u@replica:5432/c")
    for alias in ("default", "replica"):
        db = conf["dbs"][alias]
        assert db["OPTIONS"]["prepare_threshold"] is None
        assert "options" not in db["OPTIONS"], "PgBouncer refuses the `options` startup parameter"
        assert db["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert conf["pooler"] == "transaction"


def test_replica_alias_only_with_its_url() -> None:
    conf = _settings(DATABASE_REPLICA_URL="postgres://u@replica.internal:5433/concerto")
    replica = conf["dbs"]["replica"]
    assert replica["HOST"] == "replica.internal" and replica["PORT"] == 5433
    assert replica["ENGINE"] == "django.contrib.gis.db.backends.postgis"
    assert replica["TEST"]["MIRROR"] == "default"
    # The health probe runs on a request's thread: a black-holed standby must not hold it long.
    assert replica["OPTIONS"]["connect_timeout"] == 2
    assert "connect_timeout" not in conf["dbs"]["default"]["OPTIONS"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_POOLER": "session"}, "DATABASE_POOLER"),
        ({"DATABASE_REPLICA_URL": "mysql://u@h/c"}, "DATABASE_REPLICA_URL"),
    ],
)
def test_bad_values_are_refused(env: dict[str, str], message: str) -> None:
    clean = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    clean.update(env, DJANGO_SETTINGS_MODULE="config.settings.test")
    result = subprocess.run(
        [sys.executable, "-c", _DUMP], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0 and message in result.stderr


@pytest.fixture(autouse=True)
def _fresh_verdict() -> Iterator[None]:
    db_router.reset_replica_verdict()
    yield
    db_router.reset_replica_verdict()


class FakeReplica:
    """Stands in for the probe (the only part that talks to a server); the clock is ours too, so
    the cache and the state changes run the router's real decision code."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 1000.0
        self.probe = ReplicaProbe(reachable=True, lag_seconds=0.0)
        self.calls = 0
        monkeypatch.setitem(settings.DATABASES, "replica", {"TEST": {"MIRROR": "default"}})
        monkeypatch.setattr(db_router, "probe_replica", self._probe)
        monkeypatch.setattr(db_router, "_monotonic", lambda: self.now)

    def _probe(self, alias: str = "replica") -> ReplicaProbe:
        self.calls += 1
        return self.probe


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, settings) -> FakeReplica:
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 30
    settings.DATABASE_REPLICA_CHECK_SECONDS = 5
    return FakeReplica(monkeypatch)


def test_replica_alias_follows_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "replica" not in settings.DATABASES
    assert replica_alias() == "default"
    assert selectors.reports_public_listing().db == "default"
    FakeReplica(monkeypatch)
    assert replica_alias() == "replica"
    assert selectors.reports_public_listing().db == "replica"
    # The citizen's own page and the filing path stay on the primary.
    assert selectors.reports_public().db == "default"


def test_writes_and_migrations_always_go_to_the_primary() -> None:
    router = PrimaryReplicaRouter()
    from_replica = Report()
    from_replica._state.db = "replica"
    assert router.db_for_write(Report, instance=from_replica) == "default"
    assert router.db_for_read(Report) is None  # reads: wherever the query says
    assert router.allow_migrate("default", "signalements") is True
    assert router.allow_migrate("replica", "signalements") is False
    other = Report()
    other._state.db = "default"
    assert router.allow_relation(from_replica, other) is True
    stranger = Report()
    stranger._state.db = "elsewhere"
    assert router.allow_relation(from_replica, stranger) is None


# --- The replica's health: cached verdict, state changes, fallback to the primary ------------------


def test_the_verdict_is_cached_for_the_check_interval(fake: FakeReplica) -> None:
    assert replica_alias() == "replica" and fake.calls == 1
    fake.now += 4.9
    assert [replica_alias() for _ in range(50)] == ["replica"] * 50
    assert fake.calls == 1  # one probe per interval and per process, not per request
    fake.probe = ReplicaProbe(reachable=False, error="OperationalError: connection refused")
    assert replica_alias() == "replica"  # still the cached verdict
    fake.now += 0.2
    assert replica_alias() == "default" and fake.calls == 2
    assert selectors.reports_public_listing().db == "default"


@pytest.mark.parametrize(
    ("probe", "alias"),
    [
        (ReplicaProbe(reachable=True, lag_seconds=0.0), "replica"),
        (ReplicaProbe(reachable=True, lag_seconds=30.0), "replica"),  # the limit itself is fine
        (ReplicaProbe(reachable=True, lag_seconds=30.5), "default"),
        (ReplicaProbe(reachable=True, lag_seconds=None), "default"),  # not measurable: not trusted
        (ReplicaProbe(reachable=True, lag_seconds=0.0, paused=True), "replica"),  # paused, nothing new
        (ReplicaProbe(reachable=True, lag_seconds=31.0, paused=True), "default"),
        (ReplicaProbe(reachable=False, error="OperationalError: timeout expired"), "default"),
    ],
)
def test_healthy_means_reachable_and_within_the_lag_limit(
    fake: FakeReplica, probe: ReplicaProbe, alias: str
) -> None:
    fake.probe = probe
    assert replica_alias() == alias


def test_state_changes_are_logged_once(fake: FakeReplica, settings, caplog: pytest.LogCaptureFixture) -> None:
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 1
    caplog.set_level(logging.INFO, logger="config.db_router")

    def run(probe: ReplicaProbe, checks: int = 3) -> list[str]:
        fake.probe = probe
        aliases = []
        for _ in range(checks):
            fake.now += 6
            aliases.append(replica_alias())
        return aliases

    assert run(ReplicaProbe(reachable=True, lag_seconds=0.2)) == ["replica"] * 3
    assert caplog.messages == []  # healthy from the start: nothing to say
    assert run(ReplicaProbe(reachable=True, lag_seconds=12.0, paused=True)) == ["default"] * 3
    assert run(ReplicaProbe(reachable=False, error="OperationalError: refused")) == ["default"] * 3
    assert len(caplog.messages) == 1, caplog.messages  # lagging then down: still one change of state
    assert "lag 12.0 s, replay paused" in caplog.messages[0] and "limit 1 s" in caplog.messages[0]
    assert caplog.records[0].levelno == logging.WARNING
    assert run(ReplicaProbe(reachable=True, lag_seconds=0.0)) == ["replica"] * 3
    assert len(caplog.messages) == 2 and "back in use" in caplog.messages[1]
    assert fake.calls == 12  # one probe per interval


def test_down_from_the_first_probe_is_logged(fake: FakeReplica, caplog: pytest.LogCaptureFixture) -> None:
    fake.probe = ReplicaProbe(reachable=False, error="OperationalError: refused")
    assert replica_alias() == "default" and replica_alias() == "default"
    assert len(caplog.messages) == 1 and "unreachable (OperationalError: refused)" in caplog.messages[0]


def test_while_one_thread_probes_the_others_do_not_wait(fake: FakeReplica) -> None:
    started, release = threading.Event(), threading.Event()

    def slow(alias: str = "replica") -> ReplicaProbe:
        fake.calls += 1
        started.set()
        release.wait(5)
        return ReplicaProbe(reachable=False, error="timeout")

    assert replica_alias() == "replica"
    fake.now += 6
    db_router.probe_replica = slow  # type: ignore[assignment]  # undone by monkeypatch
    prober = threading.Thread(target=replica_alias)
    prober.start()
    assert started.wait(5)
    t0 = time.perf_counter()
    assert replica_alias() == "replica"  # the previous verdict, at once
    assert time.perf_counter() - t0 < 0.1 and fake.calls == 2
    release.set()
    prober.join(5)
    assert replica_alias() == "default" and fake.calls == 2


def test_before_any_verdict_a_concurrent_reader_uses_the_primary(fake: FakeReplica) -> None:
    with db_router._verdict.lock:  # another thread is probing for the first time
        assert replica_alias() == "default"
    assert fake.calls == 0


@pytest.mark.django_db
def test_probe_on_a_server_not_in_recovery_measures_no_lag() -> None:
    """The real probe query (on the test database: a primary, as a mirrored replica is in tests)."""
    probe_replica("default")
    t0 = time.perf_counter()
    for _ in range(20):
        probe = probe_replica("default")
    per_probe_ms = (time.perf_counter() - t0) / 20 * 1000
    print(f"\nprobe on an open connection: {per_probe_ms:.2f} ms")
    assert probe == ReplicaProbe(reachable=True, lag_seconds=0.0, paused=False)
    assert probe.healthy(0)


def _scrape() -> str:
    return metrics.exposition().decode()


def _value(text: str, name: str) -> float:
    (line,) = [line for line in text.splitlines() if line.startswith(name + " ")]
    return float(line.split()[1])


@pytest.mark.django_db
def test_replica_metrics_absent_without_a_replica() -> None:
    text = _scrape()
    assert "concerto_replica_lag_seconds" not in text and "concerto_replica_in_use" not in text
    assert 'source="replica"' not in text


@pytest.mark.django_db
def test_replica_metrics_come_from_a_fresh_probe(fake: FakeReplica, settings) -> None:
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 1
    fake.probe = ReplicaProbe(reachable=True, lag_seconds=0.25)
    text = _scrape()
    assert _value(text, "concerto_replica_lag_seconds") == 0.25
    assert _value(text, "concerto_replica_in_use") == 1.0
    assert 'concerto_metrics_source_up{source="replica"} 1.0' in text
    # The scrape probes even within the check interval, and its verdict is the process's.
    fake.probe = ReplicaProbe(reachable=True, lag_seconds=7.5, paused=True)
    text = _scrape()
    assert _value(text, "concerto_replica_lag_seconds") == 7.5
    assert _value(text, "concerto_replica_in_use") == 0.0
    assert replica_alias() == "default" and fake.calls == 2
    fake.probe = ReplicaProbe(reachable=False, error="refused")
    text = _scrape()
    assert math.isnan(_value(text, "concerto_replica_lag_seconds"))
    assert _value(text, "concerto_replica_in_use") == 0.0
    assert 'concerto_metrics_source_up{source="replica"} 0.0' in text


def test_a_request_failing_on_the_replica_condemns_it_until_the_next_probe(
    fake: FakeReplica, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from types import SimpleNamespace

    from django.core.signals import request_finished, request_started

    # The receivers themselves (sending the signals would also run Django's close_old_connections).
    # (by name: another test may have reloaded the module; the dispatch_uid keeps one receiver)
    for signal, name in ((request_started, "_request_started"), (request_finished, "_request_finished")):
        receivers, _ = signal._live_receivers(None)
        assert any(r.__module__ == "config.db_router" and r.__name__ == name for r in receivers)
    replica_conn = SimpleNamespace(errors_occurred=False)
    monkeypatch.setattr(db_router, "connections", {"replica": replica_conn})

    def request(error: bool, routed: bool = True) -> None:
        db_router._request_started(sender=None)
        if routed:
            replica_alias()
        replica_conn.errors_occurred = error
        db_router._request_finished(sender=None)

    request(error=False)
    request(error=True, routed=False)  # an error on a request not given the replica: not its fault
    assert replica_alias() == "replica" and fake.calls == 1
    request(error=True)
    assert replica_alias() == "default" and fake.calls == 1  # at once, without waiting for a probe
    assert "a request's connection to it failed" in caplog.messages[0]
    fake.now += 5.1
    assert replica_alias() == "replica" and fake.calls == 2  # the next probe decides
