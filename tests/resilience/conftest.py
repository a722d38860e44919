"""Resilience tests: real processes (gunicorn, Celery, redis-server, PostgreSQL) and real faults.

Collected only when ``RESILIENCE=1`` (``make test-resilience``): they take minutes, start and kill
processes and one of them restarts the machine's PostgreSQL cluster, so ``make test`` skips them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

if os.environ.get("RESILIENCE") != "1":
    collect_ignore_glob = ["test_*.py"]

from tests.signalements.world import World, at, world  # noqa: F401

from .harness import RedisServer, base_env, start_gunicorn, stop


@pytest.fixture(scope="session")
def private_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def database_url(django_db_setup) -> str:  # type: ignore[no-untyped-def]
    from tests.worker import database_url as url

    return url()


@pytest.fixture(scope="session")
def server_env(database_url: str, private_redis: RedisServer) -> dict[str, str]:
    return base_env(database_url, private_redis.url)


@pytest.fixture(scope="session")
def web(server_env, tmp_path_factory) -> Iterator[int]:  # type: ignore[no-untyped-def]
    """gunicorn (4 processes x 8 threads) on the test database and the private Redis; yields its port."""
    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    proc, port = start_gunicorn(server_env, log)
    try:
        yield port
    finally:
        stop(proc)


@pytest.fixture
def celery_app(private_redis: RedisServer) -> Iterator[object]:
    """This process's Celery app publishes to the private Redis (for the sweeper called by the tests)."""
    from config.celery import app

    previous = app.conf.broker_url
    app.conf.broker_url = private_redis.url
    try:
        yield app
    finally:
        app.conf.broker_url = previous


@pytest.fixture
def spot(world: World) -> tuple[float, float]:  # noqa: F811
    """A point routed to the "Voirie Ouest" service for the category ``nid-de-poule``."""
    return at(-500, 100)
