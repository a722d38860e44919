"""Where queries go when a read replica is configured (``DATABASE_REPLICA_URL``).

The replica is a streaming standby: it lags the primary by a few hundred milliseconds, seconds
under load, more while replay is paused. So it is *opted into*, never chosen globally: only the
public reads whose staleness nobody can notice ask for it, through :func:`replica_alias`
(``qs.using(replica_alias())``):

* the public listing of reports (``signalements.selectors.reports_public_listing``), the home
  page's list (``web.selectors.reports_for_home``) and the OGC API report items
  (``opendata.collections``) — a report filed a second ago may be missing for a second.

Everything else stays on the primary, on purpose: a citizen who has just filed reads their own
report's page and tracking link (read-your-write: a stale standby would answer 404), agents'
queues and workflow transitions read what they are about to change, and tiles keep their
data-version ETag and their content in the same database (a tile computed on a stale standby
under the primary's newer version would be cached as current).

:class:`PrimaryReplicaRouter` makes the explicit choice safe: writes always go to the primary,
even for an object that was read from the replica (Django would otherwise save it back to the
database it came from, a read-only standby), and nothing is migrated on the replica.

The replica is used only while it is healthy (:func:`replica_alias`): reachable, and no more than
``DATABASE_REPLICA_MAX_LAG_SECONDS`` behind. A down standby would otherwise turn every routed
listing into a 500 until an operator empties the setting, and a stalled replay would show
arbitrarily old data. The verdict comes from :func:`probe_replica`, at most once every
``DATABASE_REPLICA_CHECK_SECONDS`` per process, and falls back to the primary, which always has
the data (it just carries the load). Between two probes, a request that was given the replica
and failed on its connection condemns it at once (:func:`_request_finished`): only the requests
already in flight when the standby went fail.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import connections, transaction
from django.db.models import Model

logger = logging.getLogger(__name__)

PRIMARY = "default"
REPLICA = "replica"

DEFAULT_MAX_LAG_SECONDS = 30.0
DEFAULT_CHECK_SECONDS = 5.0
# The probe runs on a request's thread: it must never hold a page for long. Connecting is bounded
# by the replica's OPTIONS["connect_timeout"] (settings), the query by this.
PROBE_STATEMENT_TIMEOUT_MS = 1000

# On a standby: 0 when everything received has been replayed (an idle primary sends nothing, so
# an old last-replay timestamp is not lag), else the age of the last replayed transaction. NULL on
# a server that is not in recovery (pg_last_wal_receive_lsn() is NULL there).
_LAG_SQL = (
    "SELECT pg_is_in_recovery(),"
    " CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
    " ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END,"
    " CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END"
)


@dataclass(frozen=True)
class ReplicaProbe:
    """What one look at the standby saw. ``lag_seconds`` is None when it could not be measured
    (unreachable, or a standby with WAL pending and no transaction replayed yet)."""

    reachable: bool
    lag_seconds: float | None = None
    paused: bool = False
    error: str = ""

    def healthy(self, max_lag: float) -> bool:
        """Usable for public reads: reachable and known to be at most ``max_lag`` seconds behind.
        A paused replay is judged by its lag like any other: paused with nothing new to replay is
        not stale."""
        return self.reachable and self.lag_seconds is not None and self.lag_seconds <= max_lag

    def describe(self) -> str:
        if not self.reachable:
            return f"unreachable ({self.error})"
        lag = "unknown" if self.lag_seconds is None else f"{self.lag_seconds:.1f} s"
        return f"lag {lag}" + (", replay paused" if self.paused else "")


def probe_replica(alias: str = REPLICA) -> ReplicaProbe:
    """Connects (through Django's connection for ``alias``, so a persistent one is reused) and
    measures the replication lag, under a statement timeout. Never raises: a failure is a verdict.

    A server that is not in recovery has no replay lag (0): the replica URL points at a primary,
    or the test settings mirror ``default``."""
    connection = connections[alias]
    try:
        with transaction.atomic(using=alias), connection.cursor() as cursor:
            # SET LOCAL: gone at the end of this transaction, so safe behind PgBouncer too.
            cursor.execute(f"SET LOCAL statement_timeout = {PROBE_STATEMENT_TIMEOUT_MS}")
            cursor.execute(_LAG_SQL)
            in_recovery, lag, paused = cursor.fetchone()
    except Exception as exc:  # unreachable, timeout, auth...: all mean "not now"
        if not connection.in_atomic_block:
            try:
                connection.close()  # a broken connection is not reused by the next request
            except Exception:
                logger.debug("closing the replica connection after a failed probe", exc_info=True)
        return ReplicaProbe(
            reachable=False, error=f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
        )
    if not in_recovery:
        return ReplicaProbe(reachable=True, lag_seconds=0.0)
    return ReplicaProbe(
        reachable=True, lag_seconds=None if lag is None else max(float(lag), 0.0), paused=bool(paused)
    )


def max_lag_seconds() -> float:
    return float(getattr(settings, "DATABASE_REPLICA_MAX_LAG_SECONDS", DEFAULT_MAX_LAG_SECONDS))


def check_seconds() -> float:
    return float(getattr(settings, "DATABASE_REPLICA_CHECK_SECONDS", DEFAULT_CHECK_SECONDS))


class _Verdict:
    """This process's last verdict on the replica. ``checked_at`` is ``time.monotonic()`` (wall
    clock jumps must not stretch or skip checks); ``healthy`` None means never checked."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.healthy: bool | None = None
        self.checked_at = -math.inf
        self.last: ReplicaProbe | None = None


_verdict = _Verdict()
_monotonic = time.monotonic  # module-level so tests can move the clock


def reset_replica_verdict() -> None:
    """Forgets the verdict: the next :func:`replica_alias` probes again (tests, settings changes)."""
    global _verdict
    _verdict = _Verdict()


def record_probe(probe: ReplicaProbe, now: float | None = None) -> bool:
    """Stores ``probe`` as this process's verdict and logs a change of state (once, not at every
    request). Returns whether the replica is to be used."""
    verdict = _verdict
    healthy = probe.healthy(max_lag_seconds())
    previous = verdict.healthy
    verdict.healthy, verdict.last = healthy, probe
    verdict.checked_at = _monotonic() if now is None else now
    if healthy and previous is False:
        logger.warning("read replica back in use: %s", probe.describe())
    elif not healthy and previous is not False:
        limit = f" (limit {max_lag_seconds():g} s)" if probe.reachable else ""
        logger.warning("read replica not used, public reads go to the primary: %s%s", probe.describe(), limit)
    return healthy


def replica_in_use() -> bool:
    """The cached verdict, refreshed by a probe when older than ``DATABASE_REPLICA_CHECK_SECONDS``.

    One thread probes; the others keep the previous verdict meanwhile instead of queueing behind a
    connect timeout (before the first verdict, they read the primary: always correct)."""
    if REPLICA not in settings.DATABASES:
        return False
    verdict = _verdict
    if _monotonic() - verdict.checked_at < check_seconds():
        return bool(verdict.healthy)
    if not verdict.lock.acquire(blocking=False):
        return bool(verdict.healthy)
    try:
        if _monotonic() - verdict.checked_at < check_seconds():  # another thread just probed
            return bool(verdict.healthy)
        return record_probe(probe_replica())
    finally:
        verdict.lock.release()


def refresh_replica_verdict() -> tuple[ReplicaProbe, bool]:
    """Probes now, whatever the age of the verdict, and records the result (the metrics scrape:
    the lag it exports and the choice it reports come from the same look)."""
    with _verdict.lock:
        probe = probe_replica()
        return probe, record_probe(probe)


_routed = threading.local()  # this thread's current request was given the replica


def _request_started(sender: Any, **kwargs: Any) -> None:
    _routed.replica = False


def _request_finished(sender: Any, **kwargs: Any) -> None:
    """Between two probes, a request that was given the replica and hit an error on its
    connection (the standby went down, a network cut, a query cancelled by a replay conflict)
    condemns it at once for the whole process, instead of letting every request fail until the
    next probe, which decides when it comes back. Django flags a connection that raised anything
    but a data or integrity error (``errors_occurred``, reset by a successful connect, commit or
    check at the next request's start). Not an exception hook: config/availability.py turns those
    errors into a 503 before any such signal."""
    if not getattr(_routed, "replica", False):
        return
    _routed.replica = False
    if REPLICA not in settings.DATABASES or not _verdict.healthy:
        return
    try:
        failed = connections[REPLICA].errors_occurred
    except Exception:  # no such connection (settings changed at runtime): not ours to judge
        return
    if failed:
        record_probe(ReplicaProbe(reachable=False, error="a request's connection to it failed"))


request_started.connect(_request_started, dispatch_uid="config.db_router.replica")
request_finished.connect(_request_finished, dispatch_uid="config.db_router.replica")


def replica_alias() -> str:
    """The alias for reads that tolerate replication lag: the replica when one is configured and
    healthy (:func:`replica_in_use`), else the primary."""
    if replica_in_use():
        _routed.replica = True
        return REPLICA
    return PRIMARY


class PrimaryReplicaRouter:
    """Reads stay wherever the query says (the primary unless ``.using(replica_alias())``);
    writes and migrations always go to the primary."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        # None: Django's default (the instance's own database for related objects, else default).
        return None

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        return PRIMARY

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        # Both aliases are the same data; an object read from the replica may be related to one
        # read from the primary.
        dbs = {PRIMARY, REPLICA}
        if obj1._state.db in dbs and obj2._state.db in dbs:
            return True
        return None

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        return db == PRIMARY
