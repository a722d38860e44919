"""Processes and clients for the resilience tests: a private Redis, gunicorn, Celery workers, citizens.

Everything runs on loopback. The helpers of bench/load.py (free port, wait for /healthz, stop a
process group, percentile) are reused. Figures of every scenario are printed and merged into the
JSON file ``RESILIENCE_RESULTS`` (default /tmp/concerto-resilience.json), which docs/RELIABILITY.md
quotes.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.load import free_port, pct, stop, wait_http

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
RESULTS = Path(os.environ.get("RESILIENCE_RESULTS", "/tmp/concerto-resilience.json"))
LOAD_SECONDS = float(os.environ.get("RESILIENCE_LOAD_SECONDS", "60"))
LOAD_CLIENTS = int(os.environ.get("RESILIENCE_LOAD_CLIENTS", "50"))
MAX_REQUESTS_PER_CLIENT = 20_000  # bound, whatever the speed
WORKER_START_TIMEOUT_S = 30.0

__all__ = ["free_port", "pct", "stop", "wait_http"]


def record(name: str, figures: dict) -> None:
    """Print the figures of one scenario and merge them into the results file."""
    print(f"\n[resilience] {name}: {json.dumps(figures, sort_keys=True)}")
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    existing[name] = figures
    RESULTS.write_text(json.dumps(existing, indent=2, sort_keys=True))


# --- processes -----------------------------------------------------------------------------------


class RedisServer:
    """A private redis-server (no persistence) that the tests stop and restart at will."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(self._answers, 10, "redis-server")

    def _answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        stop(self.proc)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def base_env(database_url: str, broker_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url,
        "CONN_MAX_AGE": "0",
        "CELERY_BROKER_URL": broker_url,
        "REDIS_URL": broker_url,
        "PYTHONPATH": str(ROOT),
    }


def start_gunicorn(
    env: dict[str, str], log_path: Path, workers: int = 4, threads: int = 8
) -> tuple[subprocess.Popen, int]:
    port = free_port()
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--threads",
                str(threads),
                "--timeout",
                "60",
                "--error-logfile",
                "-",
                "config.wsgi",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    wait_http(port, proc, "gunicorn")
    return proc, port


@dataclass
class Worker:
    proc: subprocess.Popen
    log_path: Path
    mail_dir: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, no ack, the open transaction dies with the connection."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        stop(self.proc)


def start_worker(env: dict[str, str], base: Path, name: str) -> Worker:
    mail_dir = base / "mail"
    mail_dir.mkdir(parents=True, exist_ok=True)
    log_path = base / f"{name}.log"
    worker_env = {
        **env,
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mail_dir),
        "MEDIA_ROOT": str(base / "media"),
        "PRIVATE_MEDIA_ROOT": str(base / "private"),
    }
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                str(BIN / "celery"),
                "-A",
                "config",
                "worker",
                "--pool=solo",
                "-Q",
                "notifications,media",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"{name}-{os.getpid()}@localhost",
                "-l",
                "INFO",
            ],
            cwd=ROOT,
            env=worker_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    worker = Worker(proc=proc, log_path=log_path, mail_dir=mail_dir)
    deadline = time.monotonic() + WORKER_START_TIMEOUT_S
    while " ready." not in log_path.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            worker.stop()
            raise AssertionError(f"the Celery worker did not start\n{worker.log()}")
        time.sleep(0.2)
    return worker


# --- citizens ------------------------------------------------------------------------------------


@dataclass
class Load:
    """What the clients saw: every answer's status and latency, every acknowledged reference."""

    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    acknowledged: list[str] = field(default_factory=list)
    retry_after: Counter = field(default_factory=Counter)  # status -> answers carrying Retry-After
    timeline: list[tuple[float, int]] = field(default_factory=list)  # (seconds since start, status)
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def figures(self) -> dict:
        ordered = sorted(self.latencies_ms)
        total = len(ordered)
        return {
            "requests": total,
            "seconds": round(self.seconds, 1),
            "reports_per_s": round(len(self.acknowledged) / self.seconds, 1) if self.seconds else 0,
            "acknowledged": len(self.acknowledged),
            "p50_ms": round(pct(ordered, 0.50), 1) if total else None,
            "p99_ms": round(pct(ordered, 0.99), 1) if total else None,
            "max_ms": round(ordered[-1], 1) if total else None,
            "status_counts": {str(k): v for k, v in sorted(self.statuses.items())},
            "5xx": sum(v for k, v in self.statuses.items() if k >= 500),
            "connection_errors": self.statuses.get(0, 0),
            "retry_after_by_status": {str(k): v for k, v in sorted(self.retry_after.items())},
        }


def report_body(i: int, lonlat: tuple[float, float], category: str) -> bytes:
    lon, lat = lonlat
    return json.dumps(
        {
            "lon": lon,
            "lat": lat,
            "category": category,
            "description": f"Trou profond, charge {i}",
            "contact": {"email": f"citoyen{i}@example.net", "consent": True},
        }
    ).encode()


def file_reports(
    port: int,
    *,
    clients: int,
    seconds: float,
    lonlat: tuple[float, float],
    category: str,
    during: Callable[[], None] | None = None,
    timeout: float = 30.0,
) -> Load:
    """``clients`` keep-alive threads POST reports for ``seconds``; ``during`` runs meanwhile."""
    load = Load()
    started = time.monotonic()
    stop_at = started + seconds

    def client(index: int) -> None:
        conn: http.client.HTTPConnection | None = None
        for n in range(MAX_REQUESTS_PER_CLIENT):
            if time.monotonic() >= stop_at:
                break
            body = report_body(index * MAX_REQUESTS_PER_CLIENT + n, lonlat, category)
            t0 = time.perf_counter()
            status, retry_after, reference = 0, None, None
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
                conn.request(
                    "POST",
                    "/api/signalements/",
                    body=body,
                    headers={"Content-Type": "application/json", "Accept-Language": "fr"},
                )
                response = conn.getresponse()
                payload = response.read()
                status, retry_after = response.status, response.getheader("Retry-After")
                if status == 201:
                    reference = json.loads(payload)["reference"]
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.05)
            elapsed = (time.perf_counter() - t0) * 1000
            with load.lock:
                load.statuses[status] += 1
                load.timeline.append((time.monotonic() - started, status))
                if status:
                    load.latencies_ms.append(elapsed)
                if retry_after is not None:
                    load.retry_after[status] += 1
                if reference:
                    load.acknowledged.append(reference)
            if status >= 500 or status == 0:
                time.sleep(0.1)  # a polite client backs off during an outage
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    try:
        if during is not None:
            during()
    finally:
        for thread in threads:
            thread.join(timeout=seconds + timeout + 10)
    load.seconds = time.monotonic() - started
    return load


def get(port: int, path: str, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """One GET; status 0 when the connection fails."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        conn.close()
        return response.status, dict(response.getheaders()), body
    except (OSError, http.client.HTTPException):
        return 0, {}, b""
