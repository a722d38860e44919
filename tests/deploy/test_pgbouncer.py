"""The application behind a real PgBouncer in transaction mode (Debian 12's 1.18: no prepared
statements in transaction mode), with ``DATABASE_POOLER=transaction``.

A migrated database with the demo territory is made on PostgreSQL directly (migrations never go
through the pooler). PgBouncer listens on a free loopback port in transaction mode with a pool of
2 server connections, refuses unknown startup parameters (no ``ignore_startup_parameters``) and
holds its settings per database (``ALTER DATABASE ... SET jit/timezone``). A subprocess then
files reports from 6 threads through the Django test client (validation, routing with the
router's server-bound statement, report + ticket + outbox in one transaction, publication to
Redis), reads each report's page, the public listing, streams ``.iterator()`` queries and routes
again, so that 6 client connections share 2 server sessions all along. The rows are then checked
on PostgreSQL directly. Negative controls show what breaks without the setting: the ``options``
startup parameter is refused, and the router's named prepared statement collides on the shared
server session (``prepared statement "_pg3_0" already exists``). About 30 s.
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

import psycopg
import pytest

from tests.deploy.conftest import PYTHON, free_port, make_app_database, psql, run_app

DB = "concerto_pgbouncer_h3"
SERVER = "postgresql://postgres@127.0.0.1:5432"
BROKER = os.environ.get("CONCERTO_TEST_BROKER_URL", "redis://127.0.0.1:6379/4")
PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"

pytestmark = pytest.mark.skipif(
    not os.path.exists(PGBOUNCER), reason="pgbouncer absent: run deploy/install-system.sh"
)

# Run in a fresh interpreter with DATABASE_URL pointing at PgBouncer. Prints one JSON line.
WORKLOAD = r"""
import json, math, sys, threading, time
import django
django.setup()
from django.test.utils import setup_test_environment
setup_test_environment()
from django.conf import settings
from django.db import connection, connections
from django.test import Client
from geo.routing import route
from signalements.models import Report

mode, threads, per_thread = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = {"settings": {
    "pooler": settings.DATABASE_POOLER,
    "prepare_threshold": settings.DATABASES["default"]["OPTIONS"].get("prepare_threshold"),
    "server_side_cursors_disabled": settings.DATABASES["default"].get("DISABLE_SERVER_SIDE_CURSORS", False),
}}
POINTS = [(2.3522 + 0.0011 * (i % 7), 48.8566 + 0.0007 * (i % 5)) for i in range(35)]

def connect_only():
    try:
        connection.ensure_connection()
        out["connected"] = True
    except Exception as exc:
        out["connected"] = False
        out["error"] = f"{type(exc).__name__}: {exc}"

def route_once(errors):
    try:
        route(POINTS[0], "voirie-chaussee")
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        connections.close_all()

def citizen(idx, refs, errors, counts):
    client = Client()
    try:
        for i in range(per_thread):
            lon, lat = POINTS[(idx * per_thread + i) % len(POINTS)]
            body = {"lon": lon, "lat": lat, "category": "voirie-chaussee",
                    "description": f"Nid-de-poule n° {idx}-{i} au milieu de la chaussée, profond."}
            resp = client.post("/api/signalements/", data=json.dumps(body), content_type="application/json")
            if resp.status_code != 201:
                errors.append(f"POST {resp.status_code} {resp.content[:300]!r}")
                continue
            ref = resp.json()["reference"]
            refs.append(ref)
            page = client.get(f"/api/signalements/{ref}/")
            if page.status_code != 200:
                errors.append(f"GET own report {page.status_code}")
            listing = client.get("/api/signalements/?page_size=50")
            if listing.status_code != 200:
                errors.append(f"GET listing {listing.status_code}")
            # .iterator() outside a transaction: a WITH HOLD server-side cursor unless disabled.
            counts.append(sum(1 for _ in Report.objects.values_list("pk", flat=True).iterator(chunk_size=2)))
            route((lon, lat), "voirie-chaussee")  # the router's statement, again, on this connection
            # A vector tile (SET LOCAL statement_timeout + ST_AsMVT in one message) and /healthz.
            n = 2 ** 15
            x = int((lon + 180.0) / 360.0 * n)
            y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
            tile = client.get(f"/tiles/reports/15/{x}/{y}.mvt")
            if tile.status_code not in (200, 204):
                errors.append(f"GET tile {tile.status_code}")
            health = client.get("/healthz")
            if health.status_code != 200:
                errors.append(f"GET /healthz {health.status_code} {health.content[:300]!r}")
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        connections.close_all()

def stream_and_hold(errors):
    # A streams with .iterator(); between two fetches B holds a transaction, so PgBouncer (LIFO)
    # gives B the server session where A's cursor lives and A's next fetch another session.
    from django.db import transaction
    from geo.models import Category
    first, held, done = threading.Event(), threading.Event(), threading.Event()

    def streamer():
        try:
            rows = Category.objects.values_list("pk", flat=True).iterator(chunk_size=1)
            next(rows)
            first.set()
            held.wait(10)
            out["streamed"] = 1 + sum(1 for _ in rows)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            done.set()
            connections.close_all()

    def holder():
        try:
            first.wait(10)
            with transaction.atomic():
                Category.objects.count()
                held.set()
                done.wait(10)
        finally:
            held.set()
            connections.close_all()

    workers = [threading.Thread(target=streamer), threading.Thread(target=holder)]
    for t in workers: t.start()
    for t in workers: t.join()

if mode == "connect":
    connect_only()
elif mode == "cursor":
    errors = []
    stream_and_hold(errors)
    out["errors"] = errors
elif mode == "route-twice":
    errors = []
    for _ in range(2):  # two client connections one after the other, one server session
        t = threading.Thread(target=route_once, args=(errors,)); t.start(); t.join()
    out["errors"] = errors
else:
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        out["jit"] = cursor.fetchone()[0]
        cursor.execute("SHOW max_parallel_workers_per_gather")
        out["parallel"] = cursor.fetchone()[0]
    out["timezone"] = connection.connection.info.parameter_status("TimeZone")
    connections.close_all()
    refs, errors, counts = [], [], []
    started = time.perf_counter()
    workers = [threading.Thread(target=citizen, args=(i, refs, errors, counts)) for i in range(threads)]
    for t in workers: t.start()
    for t in workers: t.join()
    out["seconds"] = time.perf_counter() - started
    out.update(refs=refs, errors=errors, iterated=counts)
print(json.dumps(out))
"""


def _wait_port(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"pgbouncer exited: {log.read_text() if log.exists() else ''}")
        try:
            with psycopg.connect(
                f"host=127.0.0.1 port={port} dbname=pgbouncer user=postgres", autocommit=True
            ):
                return
        except psycopg.Error:
            time.sleep(0.2)
    raise AssertionError(f"pgbouncer did not listen: {log.read_text() if log.exists() else ''}")


class Bouncer:
    """One pgbouncer process (as the postgres user: it refuses root) in a private directory."""

    def __init__(self, *, pool_size: int, ignore_options: bool) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="concerto-pgbouncer-"))
        self.log = self.dir / "pgbouncer.log"
        ignore = "extra_float_digits,options" if ignore_options else ""
        (self.dir / "userlist.txt").write_text('"postgres" ""\n')
        self.ini = self.dir / "pgbouncer.ini"
        self.ini.write_text(
            f"""[databases]
concerto = host=127.0.0.1 port=5432 dbname={DB} user=postgres pool_size={pool_size}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {self.dir}/userlist.txt
admin_users = postgres
pool_mode = transaction
max_client_conn = 200
default_pool_size = {pool_size}
reserve_pool_size = 0
server_reset_query_always = 0
ignore_startup_parameters = {ignore}
logfile = {self.log}
"""
        )
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            for f in self.dir.iterdir():
                shutil.chown(f, "postgres", "postgres")
        args = [PGBOUNCER, str(self.ini)]
        if os.geteuid() == 0:
            args[1:1] = ["-u", "postgres"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _wait_port(self.port, self.proc, self.log)

    @property
    def url(self) -> str:
        return f"postgis://postgres@127.0.0.1:{self.port}/concerto"

    def admin(self, command: str) -> list[dict]:
        dsn = f"host=127.0.0.1 port={self.port} dbname=pgbouncer user=postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            cur = conn.execute(command, prepare=False)
            names = [c.name for c in cur.description or []]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def _workload(url: str, mode: str, *, pooler: bool, threads: int = 6, per_thread: int = 5) -> dict:
    env = {
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "CELERY_BROKER_URL": BROKER,
        "CONN_MAX_AGE": "60",  # persistent client connections: the hardest case for a pooler
    }
    env["DATABASE_POOLER"] = "transaction" if pooler else ""
    result = run_app([PYTHON, "-c", WORKLOAD, mode, str(threads), str(per_thread)], timeout=240, **env)
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    psql(f"{SERVER}/postgres", f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    make_app_database(f"postgis://postgres@127.0.0.1:5432/{DB}")
    # What the application sets with `options` on direct connections, held by the database for
    # pooled ones; UTC spares Django a SET TIME ZONE on every new client connection.
    for setting in ("jit = off", "max_parallel_workers_per_gather = 0", "timezone = 'UTC'"):
        psql(f"{SERVER}/postgres", f'ALTER DATABASE "{DB}" SET {setting}')
    try:
        yield DB
    finally:
        psql(f"{SERVER}/postgres", f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        subprocess.run(["redis-cli", "-u", BROKER, "flushdb"], capture_output=True)


@pytest.fixture
def strict_bouncer(database: str) -> Iterator[Bouncer]:
    bouncer = Bouncer(pool_size=2, ignore_options=False)
    try:
        yield bouncer
    finally:
        bouncer.stop()


def _count(sql: str) -> int:
    return int(psql(f"{SERVER}/{DB}", sql))


@pytest.mark.timeout(300)
def test_reports_filed_listed_and_streamed_through_transaction_pooling(strict_bouncer: Bouncer) -> None:
    before = _count("SELECT count(*) FROM signalements_report")
    out = _workload(strict_bouncer.url, "work", pooler=True)

    assert out["settings"] == {
        "pooler": "transaction",
        "prepare_threshold": None,
        "server_side_cursors_disabled": True,
    }
    assert out["errors"] == []
    assert len(out["refs"]) == 30
    # Held by the database, not sent as a startup parameter (PgBouncer would refuse it).
    assert out["jit"] == "off" and out["parallel"] == "0" and out["timezone"] == "UTC"
    # Every streamed count saw at least the reports filed so far by that thread.
    assert min(out["iterated"]) >= 1 and max(out["iterated"]) <= before + 30

    refs = "','".join(out["refs"])
    assert _count(f"SELECT count(*) FROM signalements_report WHERE reference IN ('{refs}')") == 30
    assert (
        _count(
            "SELECT count(*) FROM signalements_ticket t JOIN signalements_report r ON r.id = t.report_id "
            f"WHERE r.reference IN ('{refs}') AND t.service_id IS NOT NULL"
        )
        == 30
    )
    assert (
        _count(
            f"SELECT count(DISTINCT topic) FROM geo_outboxmessage WHERE topic IN "
            f"(SELECT 'report:' || id FROM signalements_report WHERE reference IN ('{refs}'))"
        )
        == 30
    )

    # 6 client connections, never more than 2 server sessions: they were really shared.
    pools = [p for p in strict_bouncer.admin("SHOW POOLS") if p["database"] == "concerto"]
    assert (
        pools
        and sum(p["sv_active"] + p["sv_idle"] + p["sv_used"] + p["sv_tested"] + p["sv_login"] for p in pools)
        <= 2
    )
    stats = {s["database"]: s for s in strict_bouncer.admin("SHOW STATS")}
    assert stats["concerto"]["total_xact_count"] > 30 * 4
    print(f"\n30 reports through pgbouncer (pool 2, 6 threads): {out['seconds']:.2f} s")


@pytest.mark.timeout(300)
def test_without_the_setting_pgbouncer_refuses_the_options_parameter(strict_bouncer: Bouncer) -> None:
    out = _workload(strict_bouncer.url, "connect", pooler=False)
    assert out["connected"] is False
    assert "unsupported startup parameter: options" in out["error"]
    print(f"\nwithout DATABASE_POOLER: {out['error']}")


@pytest.mark.timeout(300)
def test_without_the_setting_the_routers_prepared_statement_collides(database: str) -> None:
    # Even with `options` ignored, a named prepared statement does not survive transaction pooling:
    # two client connections one after the other get the same server session (pool of 1).
    bouncer = Bouncer(pool_size=1, ignore_options=True)
    try:
        broken = _workload(bouncer.url, "route-twice", pooler=False)
        fixed = _workload(bouncer.url, "route-twice", pooler=True)
    finally:
        bouncer.stop()
    assert len(broken["errors"]) == 1 and 'prepared statement "_pg3_0" already exists' in broken["errors"][0]
    print(f"\nwithout DATABASE_POOLER: {broken['errors'][0]}")
    assert fixed["errors"] == []


@pytest.mark.timeout(300)
def test_without_the_setting_iterator_loses_its_server_side_cursor(database: str) -> None:
    bouncer = Bouncer(pool_size=2, ignore_options=True)
    try:
        broken = _workload(bouncer.url, "cursor", pooler=False)
        fixed = _workload(bouncer.url, "cursor", pooler=True)
    finally:
        bouncer.stop()
    assert len(broken["errors"]) == 1 and "does not exist" in broken["errors"][0], broken
    print(f"\nwithout DATABASE_POOLER: {broken['errors'][0]}")
    assert fixed["errors"] == [] and fixed["streamed"] > 1


@pytest.mark.timeout(300)
def test_throughput_direct_and_through_pgbouncer(strict_bouncer: Bouncer) -> None:
    """Not a benchmark: the same 30 reports, to see that the pooler costs little."""
    direct = _workload(f"postgis://postgres@127.0.0.1:5432/{DB}", "work", pooler=False)
    pooled = _workload(strict_bouncer.url, "work", pooler=True)
    assert direct["errors"] == [] and pooled["errors"] == []
    print(
        f"\n30 reports, 6 threads: direct {30 / direct['seconds']:.1f}/s, "
        f"pgbouncer pool 2 {30 / pooled['seconds']:.1f}/s"
    )
