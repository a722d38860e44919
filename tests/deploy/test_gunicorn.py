"""gunicorn.conf.py: sane values from the CPU count and the environment, then a real gunicorn
started with it under the production settings, answering /healthz and logging the request id."""

import os
import runpy
import secrets
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.conftest import PRODUCTION

ROOT = PRODUCTION.parents[1]
CONF = PRODUCTION / "gunicorn.conf.py"
GUNICORN_ENV = [k for k in os.environ if k.startswith("GUNICORN_")]


def _load(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict:
    for key in GUNICORN_ENV:
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return runpy.run_path(str(CONF))


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = _load(monkeypatch)
    cores = os.cpu_count() or 1
    assert conf["workers"] == min(2 * cores + 1, 9) and 3 <= conf["workers"] <= 9
    assert conf["worker_class"] == "gthread" and conf["threads"] >= 2
    assert conf["bind"] == ["127.0.0.1:8000"]
    assert conf["timeout"] == 30 and conf["graceful_timeout"] >= 10
    assert conf["max_requests"] > 0 and 0 < conf["max_requests_jitter"] < conf["max_requests"]
    assert conf["forwarded_allow_ips"] == "127.0.0.1,::1"
    assert "%({x-request-id}i)s" in conf["access_log_format"]
    assert conf["preload_app"] is False


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = _load(
        monkeypatch,
        GUNICORN_WORKERS="2",
        GUNICORN_THREADS="8",
        GUNICORN_BIND="0.0.0.0:8000",
        GUNICORN_FORWARDED_ALLOW_IPS="10.0.0.0/8",
    )
    assert (conf["workers"], conf["threads"], conf["bind"]) == (2, 8, ["0.0.0.0:8000"])
    assert conf["forwarded_allow_ips"] == "10.0.0.0/8"
    assert _load(monkeypatch, GUNICORN_MAX_WORKERS="2")["workers"] == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def web_database() -> Iterator[str]:
    url = "postgis://postgres@127.0.0.1:5432/concerto_deploy_web"
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([str(ROOT / "deploy" / "setup-db.sh")], env=env, check=True, capture_output=True)
    yield url
    subprocess.run(
        ["psql", "-q", "postgresql://postgres@127.0.0.1:5432/postgres", "-c",
         "DROP DATABASE IF EXISTS concerto_deploy_web WITH (FORCE)"],
        check=True, capture_output=True,
    )  # fmt: skip


@pytest.mark.timeout(60)
def test_gunicorn_serves_healthz_under_production_settings(web_database: str, tmp_path: Path) -> None:
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GUNICORN_")},
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": web_database,
        "ALLOWED_HOSTS": "concerto.test",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        "GUNICORN_THREADS": "2",
    }
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "gunicorn"), "-c", str(CONF), "config.wsgi"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/healthz",
            headers={"Host": "concerto.test", "X-Forwarded-Proto": "https", "X-Request-ID": "req-abc123"},
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    status, body = response.status, response.read()
                break
            except (ConnectionError, urllib.error.URLError):
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.3)
        assert status == 200, body
        assert b'"status": "ok"' in body
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    text = log.read_text()
    assert "Using worker: gthread" in text
    assert "request_id=req-abc123" in text
