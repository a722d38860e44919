"""backup.sh then restore.sh, for real: a small source database (schema + demo territory), dumped,
restored into a new database, row counts compared, both databases dropped. About 15 s."""

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.conftest import PRODUCTION

ROOT = PRODUCTION.parents[1]
SERVER = "postgresql://postgres@127.0.0.1:5432"
SOURCE = "concerto_backup_src"
RESTORED = "concerto_backup_restored"
MAIN_TABLES = [
    "geo_organisation", "geo_territory", "geo_service", "geo_zone", "geo_zone_categories",
    "geo_category", "geo_defaultservice", "auth_user", "django_migrations", "tiles_dataversion",
]  # fmt: skip


def _psql(db: str, sql: str) -> str:
    return subprocess.run(
        ["psql", "-Atq", f"{SERVER}/{db}", "-c", sql], check=True, capture_output=True, text=True
    ).stdout.strip()


def _drop(*names: str) -> None:
    for name in names:
        _psql("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True)
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture
def source_db() -> Iterator[str]:
    _drop(SOURCE, RESTORED)
    url = f"postgis://postgres@127.0.0.1:5432/{SOURCE}"
    env = {"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.local"}
    _run([str(ROOT / "deploy" / "setup-db.sh")], **env)
    python = str(ROOT / ".venv" / "bin" / "python")
    _run([python, "manage.py", "migrate", "--noinput", "-v", "0"], **env)
    _run([python, "manage.py", "load_demo", "--no-reports"], **env)
    try:
        yield url
    finally:
        _drop(SOURCE, RESTORED)


@pytest.mark.timeout(240)
def test_backup_then_restore_into_a_new_database(source_db: str, tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    backups.mkdir()
    stale = backups / f"{SOURCE}-20000101T000000Z.dump"
    stale.write_bytes(b"old")
    old = time.time() - 30 * 86400
    os.utime(stale, (old, old))
    other = backups / "otherdb-20000101T000000Z.dump"
    other.write_bytes(b"not ours")
    os.utime(other, (old, old))

    result = _run(
        [str(PRODUCTION / "backup.sh")],
        DATABASE_URL=source_db,
        BACKUP_DIR=str(backups),
        BACKUP_RETENTION_DAYS="14",
    )
    dump = Path(result.stdout.strip())
    assert dump.parent == backups and dump.name.startswith(f"{SOURCE}-") and dump.suffix == ".dump"
    assert dump.stat().st_size > 10_000 and oct(dump.stat().st_mode)[-3:] == "600"
    assert not stale.exists(), "retention did not prune the old dump"
    assert other.exists(), "retention pruned another database's dump"
    assert not list(backups.glob("*.partial"))

    target = f"postgis://postgres@127.0.0.1:5432/{RESTORED}"
    restored = _run([str(PRODUCTION / "restore.sh"), str(dump), target])
    assert "row counts match the dump" in restored.stderr
    assert "public.geo_zone\t" in restored.stdout

    for table in MAIN_TABLES:
        source_rows = _psql(SOURCE, f"SELECT count(*) FROM {table}")
        assert _psql(RESTORED, f"SELECT count(*) FROM {table}") == source_rows, table
    assert int(_psql(RESTORED, "SELECT count(*) FROM geo_zone")) > 0
    # Geometries survive intact.
    checksum = "SELECT md5(string_agg(ST_AsEWKB(geom)::text, ',' ORDER BY id)) FROM geo_zone"
    assert _psql(RESTORED, checksum) == _psql(SOURCE, checksum)

    # Never over an existing database.
    again = subprocess.run(
        [str(PRODUCTION / "restore.sh"), str(dump), target], capture_output=True, text=True
    )
    assert again.returncode == 1 and "already exists" in again.stderr
