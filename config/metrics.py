"""Prometheus metrics: request counts and latencies, and the state of the work queues.

Two kinds of metrics:

* counted in the process: requests (by view name, method and status class) and their latency,
  through :class:`MetricsMiddleware`; tile cache hits and misses (``tiles/cache.py`` increments
  :data:`TILES_CACHE_HITS` / :data:`TILES_CACHE_MISSES`);
* computed at scrape time by :class:`StateCollector`: tickets by state (one ``GROUP BY``), outbox
  rows pending / failed / retrying and the age of the oldest pending one (one aggregate),
  the Celery queue depths (``LLEN`` of the Redis lists), and with a read replica its lag and
  whether it is in use (one probe, config/db_router.py). These are the same whichever process
  answers the scrape, so they are never summed across workers.

Labels are bounded: the view name (``api:report-list``), never the raw path, so ``/tiles/…/z/x/y``
does not create one series per tile.

Several gunicorn workers each count their own requests. With ``PROMETHEUS_MULTIPROC_DIR`` set
(an empty directory, wiped at each start, see docs/SCALING.md), the counters live in files there
and :func:`metrics` aggregates them with ``prometheus_client.multiprocess``.
"""

from __future__ import annotations

import hmac
import logging
import math
import os
import time
from collections.abc import Callable, Iterator

from django.conf import settings
from django.db.models import Count, Min, Q
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from config import db_router
from tiles import cache as tiles_cache

logger = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CELERY_QUEUES = ("notifications", "media", "imports_tiles")
# kombu's Redis transport keeps priorities 3, 6 and 9 of a queue in sibling lists.
_KOMBU_PRIORITY_SEP = "\x06\x16"
_KOMBU_PRIORITY_STEPS = (3, 6, 9)

# In-process metrics live in this registry (not prometheus_client's global one), so that the
# scrape output is exactly what this module declares.
REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "concerto_http_requests",
    "HTTP requests served, by view name, method and status class.",
    ["view", "method", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "concerto_http_request_duration_seconds",
    "Time spent in Django (middleware included) per request, by view name and method.",
    ["view", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
TILES_CACHE_HITS = Counter(
    "tiles_cache_hits", "Vector/raster tiles served from the Redis tile cache.", registry=REGISTRY
)
TILES_CACHE_MISSES = Counter(
    "tiles_cache_misses",
    "Tiles looked up in the Redis tile cache and computed because absent.",
    registry=REGISTRY,
)

_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
UNRESOLVED = "<unresolved>"


def view_label(request: HttpRequest) -> str:
    """The URL pattern's name (``api:report-list``), else its route, else ``<unresolved>`` (404s
    outside every pattern, requests refused by a middleware before URL resolution)."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return UNRESOLVED
    return match.view_name or match.route or UNRESOLVED


class MetricsMiddleware:
    """Counts and times each request. Put it right after ``RequestIdMiddleware`` (early), so the
    time of the other middleware is included."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        view = view_label(request)
        method = request.method if request.method in _METHODS else "OTHER"
        status = f"{response.status_code // 100}xx"
        REQUESTS.labels(view, method, status).inc()
        LATENCY.labels(view, method).observe(elapsed)
        return response


class StateCollector(Collector):
    """Gauges read from PostgreSQL and Redis when Prometheus scrapes (every 15-60 s): three cheap
    queries, never on the request path. A source that fails reports ``concerto_metrics_source_up 0``
    instead of failing the whole scrape."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "concerto_metrics_source_up", "Whether a metrics source answered this scrape.", labels=["source"]
        )
        for source, collect in (("database", self._database), ("broker", self._broker)):
            try:
                families = list(collect())
            except Exception as exc:  # a down source is a metric, not a 500
                logger.warning("metrics source %s failed: %s", source, exc)
                up.add_metric([source], 0)
                continue
            up.add_metric([source], 1)
            yield from families
        if db_router.REPLICA in settings.DATABASES:  # only with DATABASE_REPLICA_URL: else absent
            reachable, families = self._replica()
            up.add_metric(["replica"], 1 if reachable else 0)
            yield from families
        yield up

    def _replica(self) -> tuple[bool, list[GaugeMetricFamily]]:
        """The standby's lag (NaN when unreachable or unknown) and whether this process reads it,
        from one fresh probe that also refreshes this process's verdict (config/db_router.py)."""
        probe, in_use = db_router.refresh_replica_verdict()
        lag = GaugeMetricFamily(
            "concerto_replica_lag_seconds",
            "Replication lag of the read replica (0 when all received WAL is replayed; NaN: unknown).",
            value=math.nan if probe.lag_seconds is None else probe.lag_seconds,
        )
        used = GaugeMetricFamily(
            "concerto_replica_in_use",
            "1 when public listings read the replica, 0 when they fell back to the primary "
            "(replica down or lag above DATABASE_REPLICA_MAX_LAG_SECONDS).",
            value=1 if in_use else 0,
        )
        return probe.reachable, [lag, used]

    def _database(self) -> Iterator[GaugeMetricFamily]:
        from geo.models import OutboxMessage
        from signalements.models import Ticket, TicketState

        counts = dict.fromkeys(TicketState.values, 0)
        for row in Ticket.objects.order_by().values("state").annotate(n=Count("id")):
            counts[row["state"]] = row["n"]
        tickets = GaugeMetricFamily("concerto_tickets", "Tickets by workflow state.", labels=["state"])
        for state, n in counts.items():
            tickets.add_metric([state], n)
        yield tickets

        pending = Q(state=OutboxMessage.State.PENDING)
        outbox = OutboxMessage.objects.aggregate(
            pending=Count("id", filter=pending),
            failed=Count("id", filter=Q(state=OutboxMessage.State.FAILED)),
            retrying=Count("id", filter=pending & Q(attempts__gt=0)),
            sending=Count("id", filter=Q(state=OutboxMessage.State.SENDING)),
            oldest=Min("created_at", filter=pending),
        )
        yield GaugeMetricFamily(
            "concerto_outbox_pending", "Notifications waiting to be delivered.", value=outbox["pending"]
        )
        yield GaugeMetricFamily(
            "concerto_outbox_failed",
            "Notifications abandoned after OUTBOX_MAX_ATTEMPTS (delivery failures).",
            value=outbox["failed"],
        )
        yield GaugeMetricFamily(
            "concerto_outbox_sending",
            "Notifications claimed by a worker: being sent, or in doubt if their worker died (lease).",
            value=outbox["sending"],
        )
        yield GaugeMetricFamily(
            "concerto_outbox_retrying",
            "Pending notifications whose delivery already failed at least once.",
            value=outbox["retrying"],
        )
        oldest = outbox["oldest"]
        age = (timezone.now() - oldest).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily(
            "concerto_outbox_oldest_pending_age_seconds",
            "Age of the oldest pending notification (0 when none).",
            value=max(age, 0.0),
        )

    def _broker(self) -> Iterator[GaugeMetricFamily]:
        import redis

        client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=1, socket_connect_timeout=1)
        try:
            pipe = client.pipeline(transaction=False)
            for queue in CELERY_QUEUES:
                pipe.llen(queue)
                for step in _KOMBU_PRIORITY_STEPS:
                    pipe.llen(f"{queue}{_KOMBU_PRIORITY_SEP}{step}")
            lengths = pipe.execute()
        finally:
            client.close()
        depth = GaugeMetricFamily(
            "concerto_celery_queue_depth", "Tasks waiting in a Celery queue (Redis).", labels=["queue"]
        )
        per_queue = 1 + len(_KOMBU_PRIORITY_STEPS)
        for i, queue in enumerate(CELERY_QUEUES):
            depth.add_metric([queue], sum(lengths[i * per_queue : (i + 1) * per_queue]))
        yield depth


def exposition() -> bytes:
    """The text exposition of every metric: counters from this process (or, in multiprocess
    mode, from every worker's files) followed by the scrape-time gauges."""
    state = CollectorRegistry(auto_describe=False)
    state.register(StateCollector())
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted)
        return generate_latest(counted) + generate_latest(state)
    return generate_latest(REGISTRY) + generate_latest(state)


def _authorised(request: HttpRequest) -> bool:
    token = getattr(settings, "METRICS_TOKEN", None)
    if not token:
        return True
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """``GET /metrics``. With ``METRICS_TOKEN`` set, only ``Authorization: Bearer <token>``."""
    if not _authorised(request):
        response = HttpResponse("unauthorised\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


def mark_dead_worker(pid: int) -> None:
    """For gunicorn's ``child_exit`` hook in multiprocess mode: drops the dead worker's live gauges."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def _observe_tile_cache(hit: bool) -> None:
    (TILES_CACHE_HITS if hit else TILES_CACHE_MISSES).inc()


# config wires the apps: the tiles cache reports its lookups without importing config.
if _observe_tile_cache not in tiles_cache.lookup_observers:
    tiles_cache.lookup_observers.append(_observe_tile_cache)
