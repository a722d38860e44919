"""`/healthz` tells load balancers and people whether the database and the broker answer."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.django_db


def test_healthy_when_postgis_and_redis_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "ok"
    assert data["checks"]["database"]["ok"] is True
    assert data["checks"]["database"]["postgis"].startswith("3.")
    assert data["checks"]["broker"]["ok"] is True
    assert response["Cache-Control"].startswith("max-age=0")


def test_503_naming_the_broker_when_it_is_down(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # a closed loopback port
    response = client.get("/healthz")
    assert response.status_code == 503
    data = response.json()
    assert data["status"] == "degraded"
    assert data["checks"]["database"]["ok"] is True
    assert data["checks"]["broker"]["ok"] is False
    assert (
        "Connection" in data["checks"]["broker"]["error"]
        or "refused" in data["checks"]["broker"]["error"].lower()
    )


def test_503_naming_the_database_when_it_is_down():
    """A process whose DATABASE_URL points at a closed port answers 503 and says so (the broker is fine)."""
    code = (
        "import django, json; django.setup(); from django.test import Client; "
        "r = Client().get('/healthz'); print(r.status_code); print(r.content.decode())"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": "postgis://postgres@127.0.0.1:1/nowhere",
    }
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    status, body = result.stdout.split("\n", 1)
    assert status == "503", result.stderr
    data = json.loads(body)
    assert data["checks"]["database"]["ok"] is False
    assert "OperationalError" in data["checks"]["database"]["error"]
    assert data["checks"]["broker"]["ok"] is True


def test_only_get(client):
    assert client.post("/healthz").status_code == 405


def test_the_api_answers_503_with_retry_after_when_the_database_is_down():
    """Filing while PostgreSQL is unreachable: « try again », not a server error (RELIABILITY.md, scenario 4)."""
    code = (
        "import django, json; django.setup(); from django.test import Client; c = Client(); "
        "r = c.post('/api/signalements/', {'lon': 2.35, 'lat': 48.85, 'category': 'x'}, content_type='application/json'); "
        "print(r.status_code, r.get('Retry-After')); print(r.content.decode()); "
        "p = c.get('/signaler/'); print(p.status_code, p.get('Retry-After'))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": "postgis://postgres@127.0.0.1:1/nowhere",
    }
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    api_line, body, page_line = result.stdout.strip().split("\n")[:3]
    assert api_line == "503 5", result.stderr[-2000:]
    assert json.loads(body)["code"] == "service_indisponible"
    assert page_line == "503 5", result.stderr[-2000:]
