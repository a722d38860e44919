"""Intake throughput: reports filed per second through the HTTP API, beside a bare INSERT.

Both sides run in the same run, on this machine, with the same rows and the same number of
concurrent clients:

* API: ``POST /api/signalements/`` (JSON) to gunicorn serving the production settings, which
  validates, routes (one PostGIS query), writes report + contact + ticket + event + outbox rows in
  one transaction and publishes the notification to Redis after commit;
* baseline: one ``INSERT INTO signalements_report`` per row, one transaction per row (the same
  durability), through psycopg on persistent connections.

Prints throughput, p50 and p99 latency for both, and the ratios. Uses its own database
(``concerto_bench``) and Redis database 14; never the demo's. Bounded: ``BENCH_REPORTS`` requests
(2,000 by default) over ``BENCH_CLIENTS`` threads (8), on loopback only.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgis://postgres@127.0.0.1:5432/concerto_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
os.environ.update(
    DJANGO_SETTINGS_MODULE="config.settings.local", DATABASE_URL=DATABASE_URL, REDIS_URL=REDIS_URL
)

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.contrib.gis.geos import MultiPolygon, Polygon  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from geo.models import Category, Organisation, Service, Territory, Zone  # noqa: E402
from geo.srid import STORAGE_SRID  # noqa: E402

N_REPORTS = int(os.environ.get("BENCH_REPORTS", "2000"))
N_CLIENTS = int(os.environ.get("BENCH_CLIENTS", "8"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "3"))
SEED = 20261122
WEST, SOUTH, EAST, NORTH = 2.22, 48.81, 2.47, 48.91
GRID = 20


def rect(x0: float, y0: float, x1: float, y1: float) -> MultiPolygon:
    return MultiPolygon(Polygon(((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))), srid=STORAGE_SRID)


@transaction.atomic
def build_territory() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE geo_outboxmessage, signalements_ticketevent, signalements_ticket, "
            "signalements_follower, signalements_support, signalements_photo, signalements_reportcontact, "
            "signalements_report, geo_zone, geo_zone_categories, geo_defaultservice, geo_territory, "
            "geo_networkfeature, geo_networklayer, geo_networklayer_categories, geo_membership, geo_service, "
            "geo_category, geo_organisation RESTART IDENTITY CASCADE"
        )
    org = Organisation.objects.create(name="Bench", kind=Organisation.Kind.COMMUNE)
    Territory.objects.create(
        name="Bench", slug="bench", organisation=org, geom=rect(WEST, SOUTH, EAST, NORTH)
    )
    parent = Category.objects.create(code="voirie", name="Voirie")
    leaf = Category.objects.create(code="nid-de-poule", name="Nid de poule", parent=parent)
    services = Service.objects.bulk_create(
        [Service(organisation=org, name=f"Voirie {i}", emails=[f"voirie{i}@example.org"]) for i in range(8)]
    )
    dx, dy = (EAST - WEST) / GRID, (NORTH - SOUTH) / GRID
    zones = Zone.objects.bulk_create(
        [
            Zone(
                name=f"Secteur {i}-{j}",
                service=services[(i + j) % 8],
                priority=10,
                geom=rect(WEST + i * dx, SOUTH + j * dy, WEST + (i + 1) * dx, SOUTH + (j + 1) * dy),
            )
            for i in range(GRID)
            for j in range(GRID)
        ]
    )
    Zone.categories.through.objects.bulk_create(
        [Zone.categories.through(zone_id=z.pk, category_id=parent.pk) for z in zones]
    )
    return leaf.pk


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "config.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(WORKERS),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status in (200, 503):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


def rows(rng: random.Random) -> list[dict]:
    return [
        {
            "lon": round(rng.uniform(WEST + 0.001, EAST - 0.001), 6),
            "lat": round(rng.uniform(SOUTH + 0.001, NORTH - 0.001), 6),
            "category": "nid-de-poule",
            "description": f"Trou dans la chaussée n° {i}, environ {rng.randint(10, 80)} cm.",
        }
        for i in range(N_REPORTS)
    ]


def run_clients(work: list[dict], one) -> tuple[list[float], float]:  # type: ignore[no-untyped-def]
    """Spread ``work`` over N_CLIENTS threads, each calling ``one(state, item)``; latencies in ms."""
    latencies: list[float] = []
    lock = threading.Lock()
    chunks = [work[i::N_CLIENTS] for i in range(N_CLIENTS)]

    def client(chunk: list[dict]) -> None:
        state: dict = {}
        local = []
        for item in chunk:
            t0 = time.perf_counter()
            one(state, item)
            local.append((time.perf_counter() - t0) * 1000)
        if "close" in state:
            state["close"]()
        with lock:
            latencies.extend(local)

    threads = [threading.Thread(target=client, args=(c,)) for c in chunks]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - started


def api_one(port: int):  # type: ignore[no-untyped-def]
    def one(state: dict, item: dict) -> None:
        conn = state.get("conn")
        if conn is None:
            conn = state["conn"] = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            state["close"] = conn.close
        conn.request("POST", "/api/signalements/", json.dumps(item), {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        if response.status != 201:
            raise RuntimeError(f"HTTP {response.status}")

    return one


def insert_one(category_id: int):  # type: ignore[no-untyped-def]
    dsn = "postgresql://" + DATABASE_URL.split("://", 1)[1]
    sql = (
        "INSERT INTO signalements_report (location, category_id, description, address, channel, published, "
        f"created_at, updated_at) VALUES (ST_SetSRID(ST_MakePoint(%s, %s), {STORAGE_SRID}), %s, %s, '', 'api', "
        "true, now(), now())"
    )

    def one(state: dict, item: dict) -> None:
        conn = state.get("conn")
        if conn is None:
            conn = state["conn"] = psycopg.connect(dsn, autocommit=True)
            state["close"] = conn.close
        conn.execute(sql, (item["lon"], item["lat"], category_id, item["description"]), prepare=True)

    return one


def summary(name: str, latencies: list[float], elapsed: float) -> tuple[float, float, float]:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    rate = len(ordered) / elapsed
    print(f"{name:<34} {rate:8.1f} reports/s   p50 {p50:7.2f} ms   p99 {p99:7.2f} ms")
    return rate, p50, p99


def main() -> None:
    subprocess.run(
        [str(ROOT / "deploy/setup-db.sh")], check=True, env={**os.environ}, stdout=subprocess.DEVNULL
    )
    call_command("migrate", verbosity=0)
    category_id = build_territory()
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    work = rows(random.Random(SEED))
    port = free_port()
    server = start_server(port)
    try:
        run_clients(work[: N_CLIENTS * 5], api_one(port))  # warm-up: connections, prepared plans
        api_lat, api_time = run_clients(work, api_one(port))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    base_lat, base_time = run_clients(work, insert_one(category_id))
    print(
        f"Intake benchmark: {N_REPORTS} reports, {N_CLIENTS} concurrent clients, gunicorn x{WORKERS}, "
        f"{os.cpu_count()} cores, {timezone.now():%Y-%m-%d}"
    )
    api = summary("API POST /api/signalements/", api_lat, api_time)
    base = summary("bare INSERT (one tx per row)", base_lat, base_time)
    print(
        f"ratio throughput bare/API: {base[0] / api[0]:.1f}x   p50 API/bare: {api[1] / base[1]:.1f}x   "
        f"p99 API/bare: {api[2] / base[2]:.1f}x"
    )
    redis.Redis.from_url(REDIS_URL).flushdb()


if __name__ == "__main__":
    main()
