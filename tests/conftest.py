import socket

import pytest

_LOOPBACK = {"127.0.0.1", "::1", "localhost"}
_real_getaddrinfo = socket.getaddrinfo


def _loopback_only(host, *args, **kwargs):  # type: ignore[no-untyped-def]
    """Tests talk to loopback only: PostGIS, Redis and the servers they start themselves."""
    if host not in _LOOPBACK and not str(host).startswith("127."):
        raise OSError(f"network access outside loopback is disabled in tests: {host}")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _loopback_only)


@pytest.fixture(autouse=True)
def _french(settings) -> None:  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "fr"


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, tmp_path_factory):  # type: ignore[no-untyped-def]
    """One real Celery worker process for the session's integration tests (see tests/worker.py)."""
    from tests.worker import run_worker

    yield from run_worker(tmp_path_factory)
