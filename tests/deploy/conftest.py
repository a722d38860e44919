from pathlib import Path

import pytest

PRODUCTION = Path(__file__).resolve().parents[2] / "deploy" / "production"


@pytest.fixture(scope="session")
def production_dir() -> Path:
    return PRODUCTION


# --- Shared by test_pgbouncer.py and test_replica.py: real servers on loopback ---------------------

ROOT = PRODUCTION.parents[1]
PYTHON = str(ROOT / ".venv" / "bin" / "python")


def free_port() -> int:
    """A TCP port nobody listens on right now (the kernel's pick)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def psql(url: str, sql: str) -> str:
    """One statement through psql (postgresql:// URL), its unaligned output."""
    import subprocess

    return subprocess.run(
        ["psql", "-Atq", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def run_app(args: list[str], timeout: float = 300, check: bool = True, **env: str):
    """A command in the project's root with the given environment on top of ours."""
    import os
    import subprocess

    result = subprocess.run(
        args, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout
    )
    if check:
        assert result.returncode == 0, f"{args}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def make_app_database(url: str) -> None:
    """A migrated database with PostGIS and the demo territory (no reports), directly on PostgreSQL."""
    env = {"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.local"}
    run_app([str(ROOT / "deploy" / "setup-db.sh")], **env)
    run_app([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], **env)
    run_app([PYTHON, "manage.py", "load_demo", "--no-reports"], **env)
