"""A real Celery worker process for the integration tests of every app (marked ``integration``).

The worker is configured by its environment: the pytest test database, a dedicated Redis database
(flushed first) and the file e-mail backend writing into a temporary directory, where each
delivered e-mail is counted by its Message-ID. One worker serves the whole session; the fixture
``celery_worker`` is declared in ``tests/conftest.py``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from django.conf import settings

BROKER_URL = os.environ.get("CONCERTO_TEST_BROKER_URL", "redis://127.0.0.1:6379/15")
CLOSED_BROKER_URL = "redis://127.0.0.1:1/0"
WORKER_NAME = f"outbox-test-{os.getpid()}@localhost"
DELIVERY_TIMEOUT_S = 20.0
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
CELERY = Path(sys.executable).with_name("celery")
# The queues of settings.CELERY_TASK_ROUTES (notifications: outbox; media: photos; imports_tiles:
# COG conversions, tile warming).
QUEUES = ("notifications", "media", "imports_tiles")


@dataclass
class Worker:
    process: subprocess.Popen
    mail_dir: Path
    log_path: Path
    # MEDIA_ROOT and PRIVATE_MEDIA_ROOT of the worker are files_dir/media and files_dir/private:
    # tests whose files the worker reads point their settings there.
    files_dir: Path = Path()

    def message_id_counts(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for path in self.mail_dir.glob("*"):
            counts.update(re.findall(r"^Message-ID: (<[^>]+>)", path.read_text(errors="replace"), re.M))
        return counts

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgis://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, worker: Worker | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    detail = f"\n--- worker log ---\n{worker.log()}" if worker else ""
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}{detail}")


def run_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """A real worker process on the test database and a dedicated Redis database."""
    from config.celery import app

    redis.Redis.from_url(BROKER_URL).flushdb()
    base = tmp_path_factory.mktemp("celery-worker")
    mail_dir = base / "mail"
    mail_dir.mkdir()
    log_path = base / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url(),
        "CONN_MAX_AGE": "0",
        "CELERY_BROKER_URL": BROKER_URL,
        "REDIS_URL": BROKER_URL,
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mail_dir),
        "PRIVATE_MEDIA_ROOT": str(base / "private"),
        "MEDIA_ROOT": str(base / "media"),
        "PYTHONPATH": str(settings.BASE_DIR),
    }
    previous_broker = app.conf.broker_url
    app.conf.broker_url = BROKER_URL
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                str(CELERY),
                "-A",
                "config",
                "worker",
                "--pool=solo",
                "--concurrency=1",
                "-Q",
                ",".join(QUEUES),
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                WORKER_NAME,
                "-l",
                "INFO",
            ],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    worker = Worker(process=process, mail_dir=mail_dir, log_path=log_path, files_dir=base)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"the Celery worker exited with {process.returncode}\n{worker.log()}")
            with app.connection_for_write(BROKER_URL) as conn:
                if app.control.ping(destination=[WORKER_NAME], timeout=1.0, connection=conn):
                    break
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the Celery worker did not answer within {START_TIMEOUT_S:.0f} s\n{worker.log()}"
                )
        yield worker
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)
        app.conf.broker_url = previous_broker


def queue_drained() -> bool:
    client = redis.Redis.from_url(BROKER_URL)
    return all(client.llen(queue) == 0 for queue in QUEUES) and client.hlen("unacked") == 0
