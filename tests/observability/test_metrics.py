import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from config import metrics as metrics_module
from geo.models import OutboxMessage
from signalements.models import Ticket, TicketState
from signalements.services import report_create
from tests.signalements.world import at
from tests.signalements.world import world as world

ROOT = Path(__file__).resolve().parents[2]
TEST_BROKER_URL = "redis://127.0.0.1:6379/12"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} of an exposition."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def scrape(client, **headers) -> dict:  # type: ignore[no-untyped-def]
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return samples(response.content.decode())


def requests_total(values: dict, view: str, method: str, status: str) -> float:
    key = ("concerto_http_requests_total", (("method", method), ("status", status), ("view", view)))
    return values.get(key, 0.0)


@pytest.fixture
def broker(settings):  # type: ignore[no-untyped-def]
    settings.CELERY_BROKER_URL = TEST_BROKER_URL
    client = redis.Redis.from_url(TEST_BROKER_URL)
    client.flushdb()
    yield client
    client.flushdb()


@pytest.mark.django_db
def test_requests_are_counted_by_view_name_method_and_status_class(client, broker) -> None:  # type: ignore[no-untyped-def]
    # Given the counts before
    before = scrape(client)
    # When a few requests are served: two to one route with different paths, a 404, a 500, a 405
    client.get("/_echo/1/")
    client.get("/_echo/2/")
    client.get("/healthz")
    client.get("/nowhere-at-all")
    client.raise_request_exception = False
    client.get("/_boom/")
    client.post("/healthz")
    after = scrape(client)

    # Then they are counted by pattern name, never by raw path
    def delta(view: str, method: str, status: str) -> float:
        return requests_total(after, view, method, status) - requests_total(before, view, method, status)

    assert delta("echo", "GET", "2xx") == 2
    assert delta("healthz", "GET", "2xx") == 1
    assert delta("boom", "GET", "5xx") == 1
    assert delta("healthz", "POST", "4xx") == 1
    assert delta("<unresolved>", "GET", "4xx") == 1
    assert not any("_echo/1" in str(key) for key in after)
    # And the latency histogram has observations per view
    count = ("concerto_http_request_duration_seconds_count", (("method", "GET"), ("view", "echo")))
    assert after[count] - before.get(count, 0.0) == 2
    # And the tile cache counters are exposed
    assert ("tiles_cache_hits_total", ()) in after
    assert ("tiles_cache_misses_total", ()) in after


def test_tile_cache_counters_count() -> None:
    hits = metrics_module.TILES_CACHE_HITS._value.get()
    metrics_module.TILES_CACHE_HITS.inc()
    metrics_module.TILES_CACHE_MISSES.inc(2)
    text = metrics_module.generate_latest(metrics_module.REGISTRY).decode()
    assert samples(text)[("tiles_cache_hits_total", ())] == hits + 1


def file(lon_lat: tuple[float, float]) -> Ticket:
    lon, lat = lon_lat
    filed = report_create(category="nid-de-poule", lon=lon, lat=lat, description="Trou", notify=False)
    return filed.report.ticket


def outbox(key: str, state: str, attempts: int = 0, age: timedelta = timedelta()) -> OutboxMessage:
    message = OutboxMessage.objects.create(
        kind=OutboxMessage.Kind.EMAIL,
        state=state,
        dedupe_key=key,
        destination="voirie@example.org",
        attempts=attempts,
        next_attempt_at=timezone.now(),
    )
    if age:
        OutboxMessage.objects.filter(pk=message.pk).update(created_at=timezone.now() - age)
    return message


def test_gauges_reflect_tickets_outbox_and_queues(
    client, world, broker, django_assert_max_num_queries
) -> None:  # type: ignore[no-untyped-def]
    # Given three tickets, one of them resolved, and outbox rows in every state
    tickets = [file(at(-500, 0)), file(at(500, 0)), file(at(-600, 100))]
    Ticket.objects.filter(pk=tickets[0].pk).update(state=TicketState.RESOLU)
    outbox("a", OutboxMessage.State.PENDING, age=timedelta(minutes=10))
    outbox("b", OutboxMessage.State.PENDING, attempts=2)
    outbox("c", OutboxMessage.State.FAILED, attempts=8)
    outbox("d", OutboxMessage.State.SENT, attempts=1)
    # And tasks waiting in the Celery queues (one at priority 3)
    broker.rpush("notifications", "t1", "t2", "t3")
    broker.rpush("notifications\x06\x163", "t4")
    broker.rpush("media", "p1")
    # When Prometheus scrapes
    with django_assert_max_num_queries(2):
        text = metrics_module.exposition().decode()
    values = samples(text)
    # Then the gauges say so
    assert values[("concerto_tickets", (("state", "nouveau"),))] == 2
    assert values[("concerto_tickets", (("state", "resolu"),))] == 1
    assert values[("concerto_tickets", (("state", "rejete"),))] == 0
    assert values[("concerto_outbox_pending", ())] == 2
    assert values[("concerto_outbox_failed", ())] == 1
    assert values[("concerto_outbox_retrying", ())] == 1
    assert 590 <= values[("concerto_outbox_oldest_pending_age_seconds", ())] <= 700
    assert values[("concerto_celery_queue_depth", (("queue", "notifications"),))] == 4
    assert values[("concerto_celery_queue_depth", (("queue", "media"),))] == 1
    assert values[("concerto_metrics_source_up", (("source", "database"),))] == 1
    assert values[("concerto_metrics_source_up", (("source", "broker"),))] == 1


@pytest.mark.django_db
def test_a_down_broker_is_a_metric_not_an_error(client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    values = scrape(client)
    assert values[("concerto_metrics_source_up", (("source", "broker"),))] == 0
    assert values[("concerto_metrics_source_up", (("source", "database"),))] == 1


@pytest.mark.django_db
def test_the_token_protects_the_endpoint(client, settings, broker) -> None:  # type: ignore[no-untyped-def]
    settings.METRICS_TOKEN = "s3cret-metrics-token"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics").headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Basic s3cret-metrics-token").status_code == 401
    scrape(client, HTTP_AUTHORIZATION="Bearer s3cret-metrics-token")


@pytest.mark.django_db
def test_the_endpoint_is_not_cached(client, broker) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/metrics")
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


MULTIPROCESS_SCRIPT = """
import os, django
django.setup()
from config import metrics
metrics.REQUESTS.labels("api:report-list", "POST", "2xx").inc(int(os.environ["INC"]))
metrics.TILES_CACHE_HITS.inc()
"""

AGGREGATE_SCRIPT = """
from prometheus_client import CollectorRegistry, generate_latest, multiprocess
registry = CollectorRegistry()
multiprocess.MultiProcessCollector(registry)
print(generate_latest(registry).decode())
"""


def test_multiprocess_mode_sums_the_workers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Given two "workers" (processes) counting into PROMETHEUS_MULTIPROC_DIR
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
    }
    for inc in ("2", "3"):
        subprocess.run(
            [sys.executable, "-c", MULTIPROCESS_SCRIPT], env={**env, "INC": inc}, cwd=ROOT, check=True
        )
    # When the files are aggregated (what metrics() does when the variable is set)
    out = subprocess.run(
        [sys.executable, "-c", AGGREGATE_SCRIPT],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    values = samples(out)
    # Then the counts of both processes are summed
    key = (
        "concerto_http_requests_total",
        (("method", "POST"), ("status", "2xx"), ("view", "api:report-list")),
    )
    assert values[key] == 5
    assert values[("tiles_cache_hits_total", ())] == 2
