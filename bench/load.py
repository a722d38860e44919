"""Scale-out load test: two gunicorn replicas behind nginx, beside one gunicorn alone.

What runs, all on loopback, sharing the machine's PostGIS and Redis:

* its own database ``concerto_bench_load`` (dropped and re-created by ``deploy/setup-db.sh``,
  migrated, demo territory loaded with ``manage.py load_demo --no-reports``) and Redis database 14
  (broker and tile cache; nothing consumes the queues: the outbox rows and tasks just pile up);
* two gunicorn processes with the production settings and ``deploy/production/gunicorn.conf.py``
  (``BENCH_LOAD_WORKERS`` workers each, 4 threads), like bench/intake.py;
* nginx from ``deploy/production/nginx/scaleout-test.conf`` (an upstream of the two ports), run
  from a temporary prefix and stopped at the end.

Then a mixed load for ``BENCH_LOAD_SECONDS`` (60) from ``BENCH_LOAD_CLIENTS`` (16) keep-alive
clients: 80 % reads (public listing 30 %, vector tiles of the reports layer z12-z16 35 %,
``/healthz`` 15 %) and 20 % reports filed (``POST /api/signalements/``), first through nginx, then
against one gunicorn directly (the reports are truncated in between, so both start equal).
Prints throughput, p50/p95/p99 latency, error rate (anything but 2xx/304), figures per kind of
request and how the requests spread over the two replicas (nginx's ``X-Upstream`` header).

Bounded: at most ``BENCH_LOAD_MAX_REQUESTS`` (200,000) requests per phase, a few seconds of
warm-up, every process stopped in a ``finally``.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
DATABASE_URL = os.environ.get(
    "BENCH_LOAD_DATABASE_URL", "postgis://postgres@127.0.0.1:5432/concerto_bench_load"
)
REDIS_URL = os.environ.get("BENCH_LOAD_REDIS_URL", "redis://127.0.0.1:6379/14")
SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "60"))
WARMUP_SECONDS = float(os.environ.get("BENCH_LOAD_WARMUP_SECONDS", "5"))
CLIENTS = int(os.environ.get("BENCH_LOAD_CLIENTS", "16"))
WORKERS = int(os.environ.get("BENCH_LOAD_WORKERS", "2"))
THREADS = int(os.environ.get("BENCH_LOAD_THREADS", "4"))
MAX_REQUESTS = int(os.environ.get("BENCH_LOAD_MAX_REQUESTS", "200000"))
SEED = 20261122
NGINX_TEMPLATE = ROOT / "deploy/production/nginx/scaleout-test.conf"
# Central Paris, well inside the demo territory (every point is routed to a service).
WEST, SOUTH, EAST, NORTH = 2.29, 48.835, 2.40, 48.885
CATEGORIES = ("voirie-chaussee", "voirie-trottoir", "voirie-signalisation", "voirie-mobilier")
# (kind, weight): 80 % reads, 20 % writes.
MIX = (("listing", 30), ("tiles", 35), ("healthz", 15), ("post", 20))
REPORT_TABLES = (
    "geo_outboxmessage, signalements_ticketevent, signalements_ticket, signalements_follower, "
    "signalements_support, signalements_photo, signalements_reportcontact, signalements_report"
)


def pg_dsn(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env() -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "TILES_CACHE_URL": REDIS_URL,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "GUNICORN_WORKERS": str(WORKERS),
        "GUNICORN_THREADS": str(THREADS),
        "GUNICORN_ACCESSLOG": "/dev/null",
        "GUNICORN_LOGLEVEL": "warning",
        "GUNICORN_MAX_REQUESTS": "0",  # no recycling in the middle of a measurement
        # Every simulated citizen comes from 127.0.0.1: the per-address limits stay on (their Redis
        # round trip is part of the cost) but so high that they never refuse.
        "RATE_LIMIT_REPORT_CREATE": "10000000/h",
        "RATE_LIMIT_SUPPORT": "10000000/h",
    }


def prepare_database(env: dict[str, str]) -> None:
    """A fresh database: dropped, created with PostGIS by deploy/setup-db.sh, migrated, demo territory."""
    db_name = DATABASE_URL.rsplit("/", 1)[1].split("?", 1)[0]
    admin = pg_dsn(DATABASE_URL).rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
    subprocess.run([str(ROOT / "deploy/setup-db.sh")], check=True, env=env, stdout=subprocess.DEVNULL)
    manage = [str(ROOT / ".venv/bin/python"), "manage.py"]
    subprocess.run([*manage, "migrate", "--verbosity", "0"], check=True, env=env, cwd=ROOT)
    subprocess.run(
        [*manage, "load_demo", "--no-reports"], check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL
    )


def reset_state() -> None:
    """Both phases start from the same rows: no report, empty queues, cold tile cache."""
    with psycopg.connect(pg_dsn(DATABASE_URL), autocommit=True) as conn:
        conn.execute(f"TRUNCATE {REPORT_TABLES} RESTART IDENTITY CASCADE")
        conn.execute("VACUUM ANALYZE signalements_report")
    redis.Redis.from_url(REDIS_URL).flushdb()


def wait_http(port: int, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status in (200, 503):
                conn.close()
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not start on port {port}")


def start_gunicorn(port: int, env: dict[str, str]) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "-c",
            str(ROOT / "deploy/production/gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            "config.wsgi",
        ],
        cwd=ROOT,
        env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"},
        start_new_session=True,
    )
    wait_http(port, proc, "gunicorn")
    return proc


def start_nginx(prefix: Path, listen: int, backends: tuple[int, int]) -> subprocess.Popen:
    for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    conf = (
        NGINX_TEMPLATE.read_text()
        .replace("@PREFIX@", str(prefix))
        .replace("@LISTEN@", f"127.0.0.1:{listen}")
        .replace("@BACKEND_A@", f"127.0.0.1:{backends[0]}")
        .replace("@BACKEND_B@", f"127.0.0.1:{backends[1]}")
    )
    (prefix / "nginx.conf").write_text(conf)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    subprocess.run([nginx, "-t", "-q", "-p", str(prefix), "-c", str(prefix / "nginx.conf")], check=True)
    proc = subprocess.Popen(
        [nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf")], start_new_session=True
    )
    wait_http(listen, proc, "nginx")
    return proc


def stop(proc: subprocess.Popen | None, sig: int = signal.SIGTERM) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


# --- the load ---------------------------------------------------------------------------------


def tile_for(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


def next_request(
    rng: random.Random, kinds: list[str], weights: list[int]
) -> tuple[str, str, str, bytes | None]:
    kind = rng.choices(kinds, weights)[0]
    lon, lat = rng.uniform(WEST, EAST), rng.uniform(SOUTH, NORTH)
    if kind == "listing":
        if rng.random() < 0.5:
            return kind, "GET", "/api/signalements/?page_size=20", None
        bbox = f"{lon - 0.01:.5f},{lat - 0.007:.5f},{lon + 0.01:.5f},{lat + 0.007:.5f}"
        return kind, "GET", f"/api/signalements/?page_size=20&bbox={bbox}", None
    if kind == "tiles":
        z = rng.randint(12, 16)
        x, y = tile_for(lon, lat, z)
        return kind, "GET", f"/tiles/reports/{z}/{x}/{y}.mvt", None
    if kind == "healthz":
        return kind, "GET", "/healthz", None
    body = {
        "lon": round(lon, 6),
        "lat": round(lat, 6),
        "category": rng.choice(CATEGORIES),
        "description": f"Charge : dégradation n° {rng.randint(1, 10**9)}, environ {rng.randint(10, 80)} cm.",
    }
    return kind, "POST", "/api/signalements/", json.dumps(body).encode()


@dataclass
class Result:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    upstreams: Counter = field(default_factory=Counter)
    elapsed: float = 0.0

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.latencies.values())


def run_load(port: int, seconds: float, *, seed: int) -> Result:
    """``CLIENTS`` threads, each with one keep-alive connection, send requests back to back."""
    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]
    result = Result(latencies={k: [] for k in kinds})
    lock = threading.Lock()
    budget = threading.Semaphore(MAX_REQUESTS)
    stop_at = time.perf_counter() + seconds

    def client(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        local: dict[str, list[float]] = {k: [] for k in kinds}
        errors: Counter = Counter()
        statuses: Counter = Counter()
        upstreams: Counter = Counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=35)
        while time.perf_counter() < stop_at and budget.acquire(blocking=False):
            kind, method, path, body = next_request(rng, kinds, weights)
            headers = {"Content-Type": "application/json"} if body else {}
            t0 = time.perf_counter()
            try:
                conn.request(method, path, body, headers)
                response = conn.getresponse()
                response.read()
                status = response.status
                upstream = response.getheader("X-Upstream")
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=35)
                status, upstream = type(exc).__name__, None
            local[kind].append((time.perf_counter() - t0) * 1000)
            statuses[(kind, status)] += 1
            if not (isinstance(status, int) and (200 <= status < 300 or status == 304)):
                errors[kind] += 1
            if upstream:
                upstreams[upstream] += 1
        conn.close()
        with lock:
            for k, values in local.items():
                result.latencies[k].extend(values)
            result.errors.update(errors)
            result.statuses.update(statuses)
            result.upstreams.update(upstreams)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.elapsed = time.perf_counter() - started
    return result


def pct(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def report(name: str, result: Result) -> dict[str, float]:
    everything = sorted(v for values in result.latencies.values() for v in values)
    total = len(everything)
    errors = sum(result.errors.values())
    line = {
        "rps": total / result.elapsed,
        "p50": statistics.median(everything) if everything else float("nan"),
        "p95": pct(everything, 0.95),
        "p99": pct(everything, 0.99),
        "errors": errors / total if total else 0.0,
    }
    print(
        f"\n{name}: {total} requests in {result.elapsed:.1f} s = {line['rps']:.1f} req/s   "
        f"p50 {line['p50']:.1f} ms  p95 {line['p95']:.1f} ms  p99 {line['p99']:.1f} ms   "
        f"errors {errors} ({100 * line['errors']:.2f} %)"
    )
    for kind, values in result.latencies.items():
        ordered = sorted(values)
        print(
            f"  {kind:<8} {len(ordered):6d} req {len(ordered) / result.elapsed:7.1f}/s   "
            f"p50 {statistics.median(ordered) if ordered else float('nan'):7.1f} ms  "
            f"p95 {pct(ordered, 0.95):7.1f} ms  p99 {pct(ordered, 0.99):7.1f} ms   errors {result.errors[kind]}"
        )
    odd = {f"{k}:{s}": n for (k, s), n in sorted(result.statuses.items(), key=str) if s not in (200, 201)}
    if odd:
        print(f"  other statuses: {odd}")
    if result.upstreams:
        spread = "  ".join(
            f"{addr} {n} ({100 * n / sum(result.upstreams.values()):.1f} %)"
            for addr, n in sorted(result.upstreams.items())
        )
        print(f"  spread over replicas: {spread}")
    return line


def main() -> None:
    env = server_env()
    prepare_database(env)
    ports = (free_port(), free_port())
    listen = free_port()
    prefix = Path(tempfile.mkdtemp(prefix="concerto-nginx-"))
    procs: list[subprocess.Popen] = []
    nginx: subprocess.Popen | None = None
    try:
        for port in ports:
            procs.append(start_gunicorn(port, env))
        nginx = start_nginx(prefix, listen, ports)
        print(
            f"Load test {date.today()}: {os.cpu_count()} cores, {CLIENTS} clients, {SECONDS:.0f} s per phase, "
            f"mix {dict(MIX)} (%), gunicorn {WORKERS} workers x {THREADS} threads per replica"
        )

        reset_state()
        run_load(listen, WARMUP_SECONDS, seed=SEED - 1)
        reset_state()
        scaled = report("nginx -> 2 replicas", run_load(listen, SECONDS, seed=SEED))

        stop(nginx, signal.SIGQUIT)
        stop(procs.pop())  # the second replica: the single-node phase gets the machine's cores
        reset_state()
        run_load(ports[0], WARMUP_SECONDS, seed=SEED - 1)
        reset_state()
        single = report("1 gunicorn directly", run_load(ports[0], SECONDS, seed=SEED))
        print(
            f"\nratio 2 replicas / 1: throughput {scaled['rps'] / single['rps']:.2f}x   "
            f"p50 {scaled['p50'] / single['p50']:.2f}x   p99 {scaled['p99'] / single['p99']:.2f}x"
        )
    finally:
        stop(nginx, signal.SIGQUIT)
        for proc in procs:
            stop(proc)
        shutil.rmtree(prefix, ignore_errors=True)
        redis.Redis.from_url(REDIS_URL).flushdb()


if __name__ == "__main__":
    sys.exit(main())
