"""The read replica, for real: a throwaway primary cluster and a streaming standby built from it
with ``pg_basebackup -R``, both under a temporary directory on free loopback ports, removed at the
end (initdb/pg_ctl directly, so nothing is registered in /etc/postgresql).

The database is migrated on the primary (with the demo territory) and reaches the standby by
streaming. A subprocess runs the application with ``DATABASE_URL`` = primary and
``DATABASE_REPLICA_URL`` = standby. It pauses WAL replay on the standby, files a report, and shows
that the public listings routed to the replica (home page list, OGC API items, open data rows) do
not see it while the citizen's own page does (read-your-write on the primary); after replay
resumes, the listings see it. An object read from the replica is saved back to the primary.

Then the fallback (``DATABASE_REPLICA_MAX_LAG_SECONDS=1``): replay paused and a report filed, once
the lag passes the limit the public listings come from the primary (the report is visible, no
query reaches the standby) and ``/metrics`` shows the lag and ``concerto_replica_in_use 0``;
replay resumed, the listings read the standby again. Last, the standby is stopped (``pg_ctl stop``
on it only): the listings still answer 200, from the primary. About 45 s in all.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.conftest import PYTHON, free_port, make_app_database, psql, run_app

# The newest installed server's binaries (Debian layout), those of the machine's own cluster.
_VERSIONS = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
PG_BIN = _VERSIONS[-1].parent if _VERSIONS else Path("/usr/lib/postgresql/missing/bin")
DB = "concerto"
BROKER = os.environ.get("CONCERTO_TEST_BROKER_URL", "redis://127.0.0.1:6379/4")

pytestmark = pytest.mark.skipif(not (PG_BIN / "initdb").exists(), reason="PostgreSQL server binaries absent")

WORKLOAD = r"""
import json, time
import django
django.setup()
from django.test.utils import setup_test_environment
setup_test_environment()
from django.db import connections
from django.test import Client
from config.db_router import replica_alias
from opendata.exports import _report_rows
from signalements.models import Report

out = {"alias": replica_alias()}

def one(alias, sql):
    with connections[alias].cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]

out["default_in_recovery"] = one("default", "SELECT pg_is_in_recovery()")
out["replica_in_recovery"] = one("replica", "SELECT pg_is_in_recovery()")

def seen(client, ref):
    home = client.get("/")
    items = client.get("/ogc/collections/reports/items?limit=1000")
    assert home.status_code == 200 and items.status_code == 200, (home.status_code, items.status_code)
    return {
        "home": ref in home.content.decode(),
        "ogc": ref in items.content.decode(),
        "opendata": any(row["reference"] == ref for row in _report_rows()),
    }

client = Client()
one("replica", "SELECT pg_wal_replay_pause()")
for _ in range(100):
    if one("replica", "SELECT pg_get_wal_replay_pause_state()") == "paused":
        break
    time.sleep(0.05)
body = {"lon": 2.3522, "lat": 48.8566, "category": "voirie-chaussee",
        "description": "Nid-de-poule devant l'Hôtel de Ville, profond de dix centimètres."}
resp = client.post("/api/signalements/", data=json.dumps(body), content_type="application/json")
out["post"] = resp.status_code
ref = resp.json()["reference"]
out["ref"] = ref
out["own_api_page"] = client.get(f"/api/signalements/{ref}/").status_code
out["own_web_page"] = client.get(f"/signalements/{ref}/").status_code
out["while_paused"] = seen(client, ref)
out["replica_has_it_while_paused"] = Report.objects.using("replica").filter(reference=ref).exists()
out["primary_has_it"] = Report.objects.using("default").filter(reference=ref).exists()

one("replica", "SELECT pg_wal_replay_resume()")
started = time.perf_counter()
while not Report.objects.using("replica").filter(reference=ref).exists():
    time.sleep(0.02)
    assert time.perf_counter() - started < 20, "the standby never caught up"
out["catch_up_ms"] = round((time.perf_counter() - started) * 1000, 1)
out["after_resume"] = seen(client, ref)

# An object read from the replica is written back to the primary, never to the read-only standby.
report = Report.objects.using(replica_alias()).get(reference=ref)
report.description = "Nid-de-poule devant l'Hôtel de Ville, rebouché provisoirement."
report.save(update_fields=["description"])
out["saved_on_primary"] = Report.objects.using("default").get(reference=ref).description
print(json.dumps(out))
"""


FALLBACK = r"""
import json, os, subprocess, time
import django
django.setup()
from django.test.utils import setup_test_environment
setup_test_environment()
from django.conf import settings
from django.db import connections
from django.test import Client
from config.db_router import probe_replica, replica_alias
from config.metrics import exposition
from signalements.models import Report

CHECK = settings.DATABASE_REPLICA_CHECK_SECONDS
LIMIT = settings.DATABASE_REPLICA_MAX_LAG_SECONDS
out = {"check": CHECK, "limit": LIMIT}
client = Client()

def one(alias, sql):
    with connections[alias].cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]

def scrape():
    values = {}
    for line in exposition().decode().splitlines():
        if line.startswith(("concerto_replica_", 'concerto_metrics_source_up{source="replica"}')):
            name, value = line.rsplit(" ", 1)
            values[name] = value
    return values

def listings(ref):
    # The public listing (API) and the home page; which server answered: queries on the standby?
    # (an execute wrapper, unlike CaptureQueriesContext, does not connect by itself)
    on_replica = []
    def count(execute, sql, params, many, context):
        on_replica.append(sql)
        return execute(sql, params, many, context)
    with connections["replica"].execute_wrapper(count):
        api = client.get("/api/signalements/?page_size=100")
        home = client.get("/")
    return {
        "status": [api.status_code, home.status_code],
        "api": ref in api.content.decode(), "home": ref in home.content.decode(),
        "replica_queries": len(on_replica),
    }

def file_report(text):
    body = {"lon": 2.3522, "lat": 48.8566, "category": "voirie-chaussee", "description": text}
    resp = client.post("/api/signalements/", data=json.dumps(body), content_type="application/json")
    assert resp.status_code == 201, resp.status_code
    return resp.json()["reference"]

def wait_for(predicate, what, limit=20):
    started = time.perf_counter()
    while not predicate():
        assert time.perf_counter() - started < limit, what
        time.sleep(0.05)
    return round(time.perf_counter() - started, 2)

out["start_alias"] = replica_alias()
connections["replica"].close()
t0 = time.perf_counter()
probe_replica()
out["probe_connect_ms"] = round((time.perf_counter() - t0) * 1000, 2)  # with a new connection
t0 = time.perf_counter()
for _ in range(20):
    probe_replica()
out["probe_ms"] = round((time.perf_counter() - t0) * 1000 / 20, 2)  # on the open connection

# (a) replay paused, a report filed: past the lag limit, the listings come from the primary.
one("replica", "SELECT pg_wal_replay_pause()")
wait_for(lambda: one("replica", "SELECT pg_get_wal_replay_pause_state()") == "paused", "never paused")
ref = file_report("Lampadaire éteint rue de Rivoli depuis trois soirs, carrefour très sombre.")
out["lag_passed_limit_after_s"] = wait_for(lambda: (probe_replica().lag_seconds or 0) > LIMIT, "no lag")
time.sleep(CHECK + 0.05)  # this process's verdict is at most CHECK old
out["paused_alias"] = replica_alias()
out["paused"] = listings(ref)
out["paused_standby_has_it"] = Report.objects.using("replica").filter(reference=ref).exists()
out["paused_metrics"] = scrape()

# Replay resumed: caught up, the standby serves the listings again.
one("replica", "SELECT pg_wal_replay_resume()")
out["caught_up_after_s"] = wait_for(
    lambda: Report.objects.using("replica").filter(reference=ref).exists(), "never caught up"
)
time.sleep(CHECK + 0.05)
out["resumed_alias"] = replica_alias()
out["resumed"] = listings(ref)
out["resumed_metrics"] = scrape()

# (b) the standby stopped. Between two probes (made endless here), the request that finds it
# gone fails, and condemns it at once: the next ones go to the primary without waiting for a probe.
settings.DATABASE_REPLICA_CHECK_SECONDS = 3600
subprocess.run(json.loads(os.environ["STOP_STANDBY"]), check=True, capture_output=True)
unlucky = Client(raise_request_exception=False)
out["in_flight"] = [unlucky.get("/api/signalements/").status_code for _ in range(3)]
settings.DATABASE_REPLICA_CHECK_SECONDS = CHECK
ref2 = file_report("Plaque d'égout descellée boulevard de Sébastopol, bruit à chaque passage.")
time.sleep(CHECK + 0.05)
t0 = time.perf_counter()
out["down_alias"] = replica_alias()  # this call probes the stopped standby
out["down_probe_ms"] = round((time.perf_counter() - t0) * 1000, 1)
out["down"] = listings(ref2)
out["down_metrics"] = scrape()
print(json.dumps(out))
"""


def _as_postgres_args(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def _as_postgres(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(_as_postgres_args(args), check=True, capture_output=True, text=True, **kwargs)


class Cluster:
    def __init__(self, root: Path, name: str) -> None:
        self.dir = root / name
        self.port = free_port()
        self.log = root / f"{name}.log"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.dir.parent} -c listen_addresses=127.0.0.1 -c fsync=off"
        _as_postgres(
            [str(PG_BIN / "pg_ctl"), "-D", str(self.dir), "-l", str(self.log), "-o", opts, "-w", "start"]
        )

    def stop(self) -> None:
        if (self.dir / "postmaster.pid").exists():
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.dir), "-m", "immediate", "-w", "stop"])


@pytest.fixture(scope="module")
def clusters() -> Iterator[tuple[Cluster, Cluster]]:
    root = Path(tempfile.mkdtemp(prefix="concerto-replica-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    primary, standby = Cluster(root, "primary"), Cluster(root, "standby")
    try:
        _as_postgres(
            [str(PG_BIN / "initdb"), "-D", str(primary.dir), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
        )
        primary.start()
        make_app_database(f"postgis://postgres@127.0.0.1:{primary.port}/{DB}")
        _as_postgres(
            [str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
             "-D", str(standby.dir), "-R", "-X", "stream", "-c", "fast"]
        )  # fmt: skip
        standby.start()
        yield primary, standby
    finally:
        standby.stop()
        primary.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.timeout(300)
def test_public_listings_read_the_standby_and_the_citizen_reads_the_primary(
    clusters: tuple[Cluster, Cluster],
) -> None:
    primary, standby = clusters
    assert psql(f"{standby.url}/{DB}", "SELECT pg_is_in_recovery()") == "t"
    assert (
        psql(f"{primary.url}/postgres", "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")
        == "1"
    )

    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgis://postgres@127.0.0.1:{primary.port}/{DB}",
        "DATABASE_REPLICA_URL": f"postgis://postgres@127.0.0.1:{standby.port}/{DB}",
        "CELERY_BROKER_URL": BROKER,
        # Here the standby is known to be fine: only replay pauses, checked by hand.
        "DATABASE_REPLICA_MAX_LAG_SECONDS": "3600",
    }
    started = time.perf_counter()
    out = json.loads(run_app([PYTHON, "-c", WORKLOAD], timeout=240, **env).stdout.strip().splitlines()[-1])
    print(
        f"\nreplica workload {time.perf_counter() - started:.1f} s, standby caught up in {out['catch_up_ms']} ms"
    )

    assert out["alias"] == "replica"
    assert out["default_in_recovery"] is False and out["replica_in_recovery"] is True
    assert out["post"] == 201 and out["primary_has_it"] is True
    # Read-your-write: the citizen's own pages come from the primary.
    assert out["own_api_page"] == 200 and out["own_web_page"] == 200
    # Replay paused: the standby does not have it, and the public listings do not show it.
    assert out["replica_has_it_while_paused"] is False
    assert out["while_paused"] == {"home": False, "ogc": False, "opendata": False}
    assert out["after_resume"] == {"home": True, "ogc": True, "opendata": True}
    assert out["saved_on_primary"].endswith("rebouché provisoirement.")
    # ... and the write reached the standby by replication, not by a write on it.
    for _ in range(100):
        if psql(
            f"{standby.url}/{DB}",
            f"SELECT description FROM signalements_report WHERE reference = '{out['ref']}'",
        ).endswith("provisoirement."):
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the standby never received the write")


@pytest.mark.timeout(300)
def test_a_late_or_down_standby_is_left_for_the_primary(clusters: tuple[Cluster, Cluster]) -> None:
    primary, standby = clusters
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgis://postgres@127.0.0.1:{primary.port}/{DB}",
        "DATABASE_REPLICA_URL": f"postgis://postgres@127.0.0.1:{standby.port}/{DB}",
        "CELERY_BROKER_URL": BROKER,
        "DATABASE_REPLICA_MAX_LAG_SECONDS": "1",
        "DATABASE_REPLICA_CHECK_SECONDS": "0.5",
        "STOP_STANDBY": json.dumps(
            _as_postgres_args([str(PG_BIN / "pg_ctl"), "-D", str(standby.dir), "-m", "fast", "-w", "stop"])
        ),
    }
    started = time.perf_counter()
    out = json.loads(run_app([PYTHON, "-c", FALLBACK], timeout=240, **env).stdout.strip().splitlines()[-1])
    print(
        f"\nfallback workload {time.perf_counter() - started:.1f} s; lag past the limit after "
        f"{out['lag_passed_limit_after_s']} s, caught up in {out['caught_up_after_s']} s, "
        f"probe of the stopped standby {out['down_probe_ms']} ms, of the standby {out['probe_ms']} ms "
        f"({out['probe_connect_ms']} ms connecting)"
    )
    assert out["start_alias"] == "replica"

    # (a) Late: the listings come from the primary (the new report is there, the standby lacks it).
    assert out["paused_alias"] == "default"
    assert out["paused_standby_has_it"] is False
    assert out["paused"] == {"status": [200, 200], "api": True, "home": True, "replica_queries": 0}
    metrics = out["paused_metrics"]
    assert float(metrics["concerto_replica_lag_seconds"]) > 1
    assert metrics["concerto_replica_in_use"] == "0.0"
    assert metrics['concerto_metrics_source_up{source="replica"}'] == "1.0"

    # Resumed: back on the standby (the listing's queries ran there), which now has the report.
    assert out["resumed_alias"] == "replica"
    assert out["resumed"]["status"] == [200, 200] and out["resumed"]["api"] and out["resumed"]["home"]
    assert out["resumed"]["replica_queries"] > 0
    assert float(out["resumed_metrics"]["concerto_replica_lag_seconds"]) <= 1
    assert out["resumed_metrics"]["concerto_replica_in_use"] == "1.0"

    # (b) Down: only the request in flight when it went (its verdict said "healthy") fails, not
    # the next ones; then no 5xx, the primary answers (with the report filed after the stop).
    assert out["in_flight"] == [503, 200, 200]  # 503: config/availability.py
    assert out["down_alias"] == "default"
    assert out["down"] == {"status": [200, 200], "api": True, "home": True, "replica_queries": 0}
    assert out["down_metrics"]["concerto_replica_lag_seconds"] == "NaN"
    assert out["down_metrics"]["concerto_replica_in_use"] == "0.0"
    assert out["down_metrics"]['concerto_metrics_source_up{source="replica"}'] == "0.0"
    assert psql(f"{primary.url}/postgres", "SELECT pg_is_in_recovery()") == "f"
    assert not (standby.dir / "postmaster.pid").exists()
