"""The database settings behind a pooler and with a replica, and the router's decisions.

The real proofs (a real PgBouncer, a real streaming standby) are in tests/deploy/test_pgbouncer.py
and tests/deploy/test_replica.py; these check the decisions themselves, fast.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from config.db_router import PrimaryReplicaRouter, replica_alias
from signalements import selectors
from signalements.models import Report

ROOT = Path(__file__).resolve().parent.parent

_DUMP = (
    "import django, json; django.setup(); from django.conf import settings; "
    "print(json.dumps({'dbs': settings.DATABASES, 'routers': settings.DATABASE_ROUTERS, "
    "'pooler': settings.DATABASE_POOLER}, default=str))"
)


def _settings(**env: str) -> dict:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_POOLER", "DATABASE_REPLICA_URL", "DJANGO_SETTINGS_MODULE"}
    }
    clean.update(env, DJANGO_SETTINGS_MODULE="config.settings.test")
    result = subprocess.run(
        [sys.executable, "-c", _DUMP], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_direct_connections_keep_prepares_options_and_server_side_cursors() -> None:
    conf = _settings()
    default = conf["dbs"]["default"]
    assert set(conf["dbs"]) == {"default"}
    assert default["OPTIONS"]["prepare_threshold"] == 5
    assert "jit=off" in default["OPTIONS"]["options"]
    assert not default.get("DISABLE_SERVER_SIDE_CURSORS")
    assert conf["routers"] == ["config.db_router.PrimaryReplicaRouter"]


def test_transaction_pooler_drops_every_session_state() -> None:
    conf = _settings(DATABASE_POOLER="transaction", DATABASE_REPLICA_URL="postgres://u@replica:5432/c")
    for alias in ("default", "replica"):
        db = conf["dbs"][alias]
        assert db["OPTIONS"]["prepare_threshold"] is None
        assert "options" not in db["OPTIONS"], "PgBouncer refuses the `options` startup parameter"
        assert db["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert conf["pooler"] == "transaction"


def test_replica_alias_only_with_its_url() -> None:
    conf = _settings(DATABASE_REPLICA_URL="postgres://u@replica.internal:5433/concerto")
    replica = conf["dbs"]["replica"]
    assert replica["HOST"] == "replica.internal" and replica["PORT"] == 5433
    assert replica["ENGINE"] == "django.contrib.gis.db.backends.postgis"
    assert replica["TEST"]["MIRROR"] == "default"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_POOLER": "session"}, "DATABASE_POOLER"),
        ({"DATABASE_REPLICA_URL": "mysql://u@h/c"}, "DATABASE_REPLICA_URL"),
    ],
)
def test_bad_values_are_refused(env: dict[str, str], message: str) -> None:
    clean = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    clean.update(env, DJANGO_SETTINGS_MODULE="config.settings.test")
    result = subprocess.run(
        [sys.executable, "-c", _DUMP], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0 and message in result.stderr


def test_replica_alias_follows_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "replica" not in settings.DATABASES
    assert replica_alias() == "default"
    assert selectors.reports_public_listing().db == "default"
    monkeypatch.setitem(settings.DATABASES, "replica", {"TEST": {"MIRROR": "default"}})
    assert replica_alias() == "replica"
    assert selectors.reports_public_listing().db == "replica"
    # The citizen's own page and the filing path stay on the primary.
    assert selectors.reports_public().db == "default"


def test_writes_and_migrations_always_go_to_the_primary() -> None:
    router = PrimaryReplicaRouter()
    from_replica = Report()
    from_replica._state.db = "replica"
    assert router.db_for_write(Report, instance=from_replica) == "default"
    assert router.db_for_read(Report) is None  # reads: wherever the query says
    assert router.allow_migrate("default", "signalements") is True
    assert router.allow_migrate("replica", "signalements") is False
    other = Report()
    other._state.db = "default"
    assert router.allow_relation(from_replica, other) is True
    stranger = Report()
    stranger._state.db = "elsewhere"
    assert router.allow_relation(from_replica, stranger) is None
