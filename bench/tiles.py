"""Tile serving speed: the Django endpoints beside the bare PostGIS statement and a bare rio-tiler read.

Same run, same machine, same tiles:

* vector: a fixed list of ``reports`` and ``zones`` tiles at zooms 8 to 16 over Paris, fetched
  over HTTP from gunicorn (production settings, loopback) with the Redis tile cache off (cold: every
  request runs the data-version read and the ``ST_AsMVT`` statement) and on (warm: filled first),
  against the very same ``ST_AsMVT`` statement issued straight from psycopg;
* raster: PNG and WebP tiles of a 4096 x 4096 COG (Lambert-93, 2 m pixels, over Paris) from the
  endpoint (cache off), against a bare rio-tiler ``Reader.tile`` read with the same resampling (and
  read + rio-tiler's own PNG render).

Each mode runs the whole list ``BENCH_ROUNDS`` times with 1 client, then once per client with 8
concurrent clients; prints p50/p99 latency, tiles per second, tile sizes and the ratios. Data: 1,000,000
reports (one ``INSERT ... SELECT generate_series`` with their tickets) and 5,000 zones in its own
database ``concerto_bench_tiles`` (kept between runs: regenerated only when the counts differ) and
Redis database 12. Bounded: a few minutes, loopback only.

``bench/tiles.py --quantisation`` measures instead what ``TILES_VERSION_MIN_INTERVAL`` buys: with
one report filed every ``BENCH_FILE_EVERY`` seconds (2) straight into the database, paced visitors
(``BENCH_QUANT_RATE`` tiles/s, 40, Poisson arrivals) fetch random ``reports`` tiles among 156 around
the Hôtel de Ville (z13-z16) through gunicorn with the Redis tile cache on; the Redis hit rate is
counted over ``BENCH_QUANT_SECONDS`` (35) after a 10 s warm-up, once with the interval at 0 (every
report is a new version) and once at 30 s. About 1 min 40 s; meant for a small database, e.g.
``BENCH_REPORTS=20000 BENCH_TILES_DATABASE_URL=postgis://postgres@127.0.0.1:5432/concerto_bench_q``.
"""

from __future__ import annotations

import http.client
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATABASE_URL = os.environ.get(
    "BENCH_TILES_DATABASE_URL", "postgis://postgres@127.0.0.1:5432/concerto_bench_tiles"
)
REDIS_URL = os.environ.get("BENCH_TILES_REDIS_URL", "redis://127.0.0.1:6379/12")
os.environ.update(
    DJANGO_SETTINGS_MODULE="config.settings.local", DATABASE_URL=DATABASE_URL, REDIS_URL=REDIS_URL
)
os.environ.setdefault("NUMEXPR_MAX_THREADS", str(os.cpu_count() or 1))  # numexpr (rio-tiler) logs otherwise

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from geo.srid import STORAGE_SRID  # noqa: E402
from tiles import layers, raster  # noqa: E402
from tiles.sql import tile_statement  # noqa: E402
from tiles.tilemath import Tile, tile_for_lonlat  # noqa: E402

N_REPORTS = int(os.environ.get("BENCH_REPORTS", "1000000"))
N_ZONES = 5000
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONCURRENCY = (1, 8)
WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
WEST, SOUTH, EAST, NORTH = 2.22, 48.81, 2.47, 48.91
# Hôtel de Ville, Montmartre, Montparnasse: dense, denser, edge.
PLACES = ((2.3522, 48.8566), (2.3431, 48.8867), (2.3212, 48.8421))


# --- Data ----------------------------------------------------------------------------------------


def build_data() -> str:
    """1,000,000 reports and 5,000 zones over Paris, unless the database already holds exactly that."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT (SELECT count(*) FROM signalements_report), (SELECT count(*) FROM geo_zone)")
        if cursor.fetchone() == (N_REPORTS, N_ZONES):
            return "reused"
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE geo_outboxmessage, signalements_ticketevent, signalements_ticket, "
            "signalements_follower, signalements_support, signalements_photo, signalements_reportcontact, "
            "signalements_report, geo_zone, geo_zone_categories, geo_defaultservice, geo_territory, "
            "geo_networkfeature, geo_networklayer, geo_networklayer_categories, geo_membership, geo_service, "
            "geo_category, geo_organisation RESTART IDENTITY CASCADE"
        )
        cursor.execute(
            "INSERT INTO geo_organisation (name, kind, siren) VALUES ('Bench', 'commune', '') RETURNING id"
        )
        org = cursor.fetchone()[0]
        cursor.execute(
            f"INSERT INTO geo_territory (name, slug, organisation_id, geom) VALUES ('Paris', 'paris', %s, "
            f"ST_Multi(ST_MakeEnvelope(%s, %s, %s, %s, {STORAGE_SRID})))",
            [org, WEST, SOUTH, EAST, NORTH],
        )
        cursor.execute(
            "INSERT INTO geo_service (organisation_id, name, emails, webhook_url, webhook_secret, is_active) "
            "SELECT %s, 'Service ' || i, '[]'::jsonb, '', '', true FROM generate_series(1, 8) i",
            [org],
        )
        cursor.execute(
            "INSERT INTO geo_category (code, name, icon, default_delay, is_active, position) "
            "SELECT 'cat-' || i, 'Catégorie ' || i, '', interval '7 days', true, i FROM generate_series(1, 6) i"
        )
        # 5,000 zones: a 100 x 50 grid over the bounding box, each for one category, 8 services.
        cursor.execute(
            f"""
            WITH z AS (
              INSERT INTO geo_zone (name, geom, service_id, all_categories, priority, source, source_id, attributes)
              SELECT 'Secteur ' || i || '-' || j,
                     ST_Multi(ST_MakeEnvelope(%(w)s + i * %(dx)s, %(s)s + j * %(dy)s,
                                              %(w)s + (i + 1) * %(dx)s, %(s)s + (j + 1) * %(dy)s, {STORAGE_SRID})),
                     1 + (i + j) %% 8, false, 10, '', '', '{{}}'::jsonb
              FROM generate_series(0, 99) i, generate_series(0, 49) j
              RETURNING id
            )
            INSERT INTO geo_zone_categories (zone_id, category_id) SELECT id, 1 + id %% 6 FROM z
            """,
            {"w": WEST, "s": SOUTH, "dx": (EAST - WEST) / 100, "dy": (NORTH - SOUTH) / 50},
        )
        # 1,000,000 reports, denser towards the centre (mean of two uniforms), with their tickets.
        cursor.execute(
            f"""
            WITH r AS (
              INSERT INTO signalements_report
                (reference, location, category_id, description, address, channel, published, created_at, updated_at)
              SELECT 'SIG-2026-' || lpad(i::text, 7, '0'),
                     ST_SetSRID(ST_MakePoint(%(w)s + (%(e)s - %(w)s) * (random() + random()) / 2,
                                             %(s)s + (%(n)s - %(s)s) * (random() + random()) / 2), {STORAGE_SRID}),
                     1 + i %% 6, '', '', 'import', true,
                     now() - (i %% 730) * interval '1 day', now()
              FROM generate_series(1, %(count)s) i
              RETURNING id
            )
            INSERT INTO signalements_ticket (report_id, service_id, state, priority, routing, ambiguous, created_at, updated_at)
            SELECT id, 1 + id %% 8, (ARRAY['nouveau', 'pris_en_compte', 'en_cours', 'resolu'])[1 + id %% 4],
                   2, '{{}}'::jsonb, false, now(), now()
            FROM r
            """,
            {"w": WEST, "s": SOUTH, "e": EAST, "n": NORTH, "count": N_REPORTS},
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE signalements_report")
        cursor.execute("VACUUM ANALYZE signalements_ticket")
        cursor.execute("VACUUM ANALYZE geo_zone")
    return f"generated in {time.perf_counter() - started:.0f} s"


def make_cog(folder: Path) -> Path:
    """A 4096 x 4096 RGB COG in Lambert-93 at 2 m over central Paris, imagery-like: blotches of colour
    (32 px blocks), fine noise, and dark lines every 50 px like a plan's grid."""
    import numpy as np
    import rasterio
    from rasterio.shutil import copy as rio_copy
    from rasterio.transform import from_origin
    from rasterio.warp import transform as warp

    xs, ys = warp("EPSG:4326", "EPSG:2154", [PLACES[0][0]], [PLACES[0][1]])
    size, res = 4096, 2.0
    rng = np.random.default_rng(7)
    blotches = rng.integers(60, 200, (3, size // 32, size // 32)).repeat(32, axis=1).repeat(32, axis=2)
    data = np.clip(blotches + rng.integers(-6, 7, (3, size, size)), 1, 255).astype(np.uint8)
    data[:, ::50, :] = 30
    data[:, :, ::50] = 30
    plain, cog = folder / "plain.tif", folder / "plan.tif"
    profile = {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "count": 3,
        "dtype": "uint8",
        "crs": "EPSG:2154",
        "transform": from_origin(xs[0] - size * res / 2, ys[0] + size * res / 2, res, res),
        "nodata": 0,
    }
    with rasterio.open(plain, "w", **profile) as dst:
        dst.write(data)
    rio_copy(plain, cog, driver="COG", BLOCKSIZE=512, COMPRESS="DEFLATE", OVERVIEW_RESAMPLING="AVERAGE")
    return cog


# --- Tile lists ----------------------------------------------------------------------------------


def vector_tiles() -> list[tuple[str, Tile]]:
    listing = []
    for z in range(8, 17):
        for lon, lat in PLACES:
            listing.append(("reports", tile_for_lonlat(lon, lat, z)))
        listing.append(("zones", tile_for_lonlat(*PLACES[0], z)))
    return list(dict.fromkeys(listing))  # at low zooms the places share a tile


def raster_tiles() -> list[Tile]:
    return list(
        dict.fromkeys(
            tile_for_lonlat(lon + 0.004 * k, lat, z)
            for z in range(13, 19)
            for lon, lat in PLACES[:1]
            for k in range(3)
        )
    )


# --- Runners -------------------------------------------------------------------------------------


def run(work: list, one: Callable, clients: int) -> tuple[list[float], float, list[int]]:
    """Every client passes over ``work`` (from its own offset): ROUNDS passes alone, one each when
    several (the same total work order of magnitude, bounded time); latencies in ms."""
    latencies: list[float] = []
    sizes: list[int] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        state: dict = {}
        local, local_sizes = [], []
        order = work[index % len(work) :] + work[: index % len(work)]
        for _ in range(ROUNDS if clients == 1 else 1):
            for item in order:
                t0 = time.perf_counter()
                size = one(state, item)
                local.append((time.perf_counter() - t0) * 1000)
                local_sizes.append(size)
        if "close" in state:
            state["close"]()
        with lock:
            latencies.extend(local)
            sizes.extend(local_sizes)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - started, sizes


def http_one(port: int, path_of: Callable) -> Callable:
    def one(state: dict, item) -> int:  # type: ignore[no-untyped-def]
        conn = state.get("conn")
        if conn is None:
            conn = state["conn"] = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            state["close"] = conn.close
        conn.request("GET", path_of(item))
        response = conn.getresponse()
        body = response.read()
        if response.status not in (200, 204):
            raise RuntimeError(f"HTTP {response.status} {path_of(item)}: {body[:200]!r}")
        return len(body)

    return one


def bare_sql_one() -> Callable:
    dsn = "postgresql://" + DATABASE_URL.split("://", 1)[1]

    def one(state: dict, item: tuple[str, Tile]) -> int:
        conn = state.get("conn")
        if conn is None:
            # Client-side binding, as Django's cursors do: the planner sees the tile's numbers.
            conn = state["conn"] = psycopg.connect(
                dsn,
                autocommit=True,
                options="-c jit=off -c max_parallel_workers_per_gather=0",
                cursor_factory=psycopg.ClientCursor,
            )
            state["close"] = conn.close
        name, tile = item
        sql, params = tile_statement(layers.get(name), tile, {})
        row = conn.execute(sql, params).fetchone()
        return len(row[0]) if row and row[0] else 0

    return one


def bare_raster_one(cog: Path, *, render: bool) -> Callable:
    import rasterio
    from rio_tiler.io import Reader

    def one(state: dict, tile: Tile) -> int:
        with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"), Reader(str(cog)) as src:
            if not src.tile_exists(tile.x, tile.y, tile.z):
                return 0
            image = src.tile(tile.x, tile.y, tile.z, **raster.resampling(src, tile, 256))
            return len(image.render(img_format="PNG")) if render else image.array.nbytes

    return one


# --- Server --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    port: int, *, cache_url: str, cog: Path, extra_env: dict[str, str] | None = None
) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.tiles_settings",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "BENCH_TILES_CACHE_URL": cache_url,
        "BENCH_COG_PATH": str(cog),
        **(extra_env or {}),
    }
    proc = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            *("config.wsgi", "-b", f"127.0.0.1:{port}", "-w", str(WORKERS), "--log-level", "warning"),
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/tiles/")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


def stop_server(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


# --- Report --------------------------------------------------------------------------------------

Row = tuple[float, float, float]


def summary(name: str, clients: int, result: tuple[list[float], float, list[int]]) -> Row:
    latencies, elapsed, _sizes = result
    ordered = sorted(latencies)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    rate = len(ordered) / elapsed
    print(f"  {name:<38} x{clients}  {rate:8.1f} tiles/s   p50 {p50:8.2f} ms   p99 {p99:8.2f} ms")
    return rate, p50, p99


def per_zoom(work: list, result: tuple[list[float], float, list[int]], key: Callable) -> dict:
    """p50 latency and mean size per (layer, zoom) for a 1-client run (its order is ``work`` x ROUNDS)."""
    latencies, _elapsed, sizes = result
    groups: dict = {}
    for i, item in enumerate(work * ROUNDS):
        groups.setdefault(key(item), ([], []))
        groups[key(item)][0].append(latencies[i])
        groups[key(item)][1].append(sizes[i])
    return {k: (statistics.median(v[0]), statistics.mean(v[1])) for k, v in groups.items()}


# --- Version quantisation ----------------------------------------------------------------------

FILE_EVERY = float(os.environ.get("BENCH_FILE_EVERY", "2"))
QUANT_RATE = float(os.environ.get("BENCH_QUANT_RATE", "40"))
QUANT_SECONDS = float(os.environ.get("BENCH_QUANT_SECONDS", "35"))
QUANT_WARMUP = 10.0
QUANT_CLIENTS = 4
QUANT_INTERVALS = (0, 30)


def quantisation_tiles() -> list[Tile]:
    """156 tiles around the Hôtel de Ville: 2x2 at z13, 4x4 at z14, 6x6 at z15, 10x10 at z16."""
    listing = []
    for z, half in ((13, 1), (14, 2), (15, 3), (16, 5)):
        c = tile_for_lonlat(*PLACES[0], z)
        listing += [Tile(z, c.x + dx, c.y + dy) for dx in range(-half, half) for dy in range(-half, half)]
    return listing


def filer(stop: threading.Event, filed: list[int]) -> None:
    """One published report (with its ticket) every FILE_EVERY seconds, committed at once."""
    dsn = "postgresql://" + DATABASE_URL.split("://", 1)[1]
    rng = random.Random(7)
    with psycopg.connect(dsn, autocommit=True) as conn:
        while not stop.wait(FILE_EVERY):
            lon = PLACES[0][0] + rng.uniform(-0.01, 0.01)
            lat = PLACES[0][1] + rng.uniform(-0.007, 0.007)
            row = conn.execute(
                f"""
                WITH r AS (
                  INSERT INTO signalements_report
                    (reference, location, category_id, description, address, channel, published,
                     created_at, updated_at)
                  VALUES ('BQ-' || left(md5(random()::text), 24), ST_SetSRID(ST_MakePoint(%s, %s), {STORAGE_SRID}),
                          (SELECT min(id) FROM geo_category), '', '', 'web', true, now(), now())
                  RETURNING id
                )
                INSERT INTO signalements_ticket
                  (report_id, service_id, state, priority, routing, ambiguous, created_at, updated_at)
                SELECT id, (SELECT min(id) FROM geo_service), 'nouveau', 2, '{{}}'::jsonb, false, now(), now()
                FROM r RETURNING report_id
                """,
                [lon, lat],
            ).fetchone()
            filed.append(row[0])


def unfile(filed: list[int]) -> None:
    """Remove the reports the filer added, so that the database keeps its size between runs."""
    dsn = "postgresql://" + DATABASE_URL.split("://", 1)[1]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM signalements_ticket WHERE report_id = ANY(%s)", [filed])
        conn.execute("DELETE FROM signalements_report WHERE id = ANY(%s)", [filed])


def visitors(port: int, tiles: list[Tile], measure_from: float, until: float) -> dict:
    """QUANT_CLIENTS paced clients (Poisson arrivals, QUANT_RATE in all); counts after measure_from."""
    counts = {"hit": 0, "miss": 0, "other": 0, "late": 0}
    etags: dict[Tile, set[str]] = {}
    lock = threading.Lock()

    def client(index: int) -> None:
        rng = random.Random(index)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        due = time.monotonic()
        try:
            while True:
                due += rng.expovariate(QUANT_RATE / QUANT_CLIENTS)
                now = time.monotonic()
                if due >= until:
                    return
                if due > now:
                    time.sleep(due - now)
                tile = rng.choice(tiles)
                conn.request("GET", f"/tiles/reports/{tile.z}/{tile.x}/{tile.y}.mvt")
                response = conn.getresponse()
                response.read()
                if response.status not in (200, 204):
                    raise RuntimeError(f"HTTP {response.status} for {tile}")
                if time.monotonic() < measure_from:
                    continue
                state = response.getheader("X-Tiles-Cache") or "other"
                with lock:
                    counts[state if state in ("hit", "miss") else "other"] += 1
                    counts["late"] += time.monotonic() - due > 1.0  # the server fell behind the pace
                    etags.setdefault(tile, set()).add(response.getheader("ETag") or "")
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(QUANT_CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    centre = tile_for_lonlat(*PLACES[0], 16)
    return {**counts, "centre_versions": len(etags.get(centre, ()))}


def quantisation(cog: Path) -> None:
    import redis

    cache = redis.Redis.from_url(REDIS_URL)
    tiles = quantisation_tiles()
    port = free_port()
    rows = []
    for interval in QUANT_INTERVALS:
        cache.flushdb()
        with connection.cursor() as cursor:  # as after the migration: never published
            cursor.execute(
                "UPDATE tiles_dataversion SET published_version = 0, published_at = '-infinity' "
                "WHERE layer = 'reports'"
            )
        server = start_server(
            port,
            cache_url=REDIS_URL,
            cog=cog,
            extra_env={"TILES_VERSION_MIN_INTERVAL": f"reports={interval}"},
        )
        stop, filed = threading.Event(), []
        filing = threading.Thread(target=filer, args=(stop, filed))
        try:
            filing.start()
            started = time.monotonic()
            counts = visitors(port, tiles, started + QUANT_WARMUP, started + QUANT_WARMUP + QUANT_SECONDS)
        finally:
            stop.set()
            filing.join()
            stop_server(server)
            unfile(filed)
        looked = counts["hit"] + counts["miss"]
        rows.append((interval, counts, looked, len(filed)))
    cache.flushdb()
    print(
        f"Tile version quantisation: {N_REPORTS:,} reports, one more every {FILE_EVERY:g} s; "
        f"{len(tiles)} reports tiles (z13-z16), {QUANT_RATE:g} tiles/s requested (Poisson, "
        f"{QUANT_CLIENTS} clients), Redis tile cache on, {QUANT_SECONDS:g} s measured after "
        f"{QUANT_WARMUP:g} s; gunicorn x{WORKERS}, {os.cpu_count()} cores, {timezone.now():%Y-%m-%d}"
    )
    for interval, counts, looked, n_filed in rows:
        rate = counts["hit"] / looked if looked else 0.0
        print(
            f"  TILES_VERSION_MIN_INTERVAL reports={interval:<3}  hit rate {rate:6.1%}  "
            f"({counts['hit']} hits, {counts['miss']} misses = {counts['miss'] / QUANT_SECONDS:5.1f} renders/s; "
            f"{n_filed} reports filed; centre z16 tile seen under {counts['centre_versions']} versions; "
            f"{counts['late']} requests > 1 s behind pace)"
        )


def main() -> None:
    if "--quantisation" in sys.argv[1:]:
        subprocess.run(
            [str(ROOT / "deploy/setup-db.sh")], check=True, env={**os.environ}, stdout=subprocess.DEVNULL
        )
        call_command("migrate", verbosity=0)
        print(f"data: {build_data()}")
        with tempfile.TemporaryDirectory() as folder:
            quantisation(Path(folder) / "absent.tif")
        return
    subprocess.run(
        [str(ROOT / "deploy/setup-db.sh")], check=True, env={**os.environ}, stdout=subprocess.DEVNULL
    )
    call_command("migrate", verbosity=0)
    data = build_data()
    import redis

    cache = redis.Redis.from_url(REDIS_URL)
    cache.flushdb()
    vector = vector_tiles()
    rasters = raster_tiles()

    def vector_path(item: tuple[str, Tile]) -> str:
        name, tile = item
        return f"/tiles/{name}/{tile.z}/{tile.x}/{tile.y}.mvt"

    with tempfile.TemporaryDirectory() as folder:
        cog = make_cog(Path(folder))
        results: dict = {}
        bare = bare_sql_one()
        run(vector, bare, 1)  # warm-up: shared buffers, PROJ
        for c in CONCURRENCY:
            results[("bare", c)] = run(vector, bare, c)
        port = free_port()
        server = start_server(port, cache_url="", cog=cog)
        try:
            one = http_one(port, vector_path)
            run(vector, one, WORKERS)  # warm-up: each worker's connection and imports
            for c in CONCURRENCY:
                results[("cold", c)] = run(vector, one, c)
            for fmt in ("png", "webp"):
                raster_one = http_one(port, lambda t, fmt=fmt: f"/tiles/raster/plan/{t.z}/{t.x}/{t.y}.{fmt}")
                run(rasters, raster_one, WORKERS)
                for c in CONCURRENCY:
                    results[(f"raster-{fmt}", c)] = run(rasters, raster_one, c)
        finally:
            stop_server(server)
        server = start_server(port, cache_url=REDIS_URL, cog=cog)
        try:
            one = http_one(port, vector_path)
            run(vector, one, 1)  # fills the cache
            for c in CONCURRENCY:
                results[("warm", c)] = run(vector, one, c)
        finally:
            stop_server(server)
        for name, render in (("bare-read", False), ("bare-render", True)):
            raster_bare = bare_raster_one(cog, render=render)
            run(rasters, raster_bare, 1)
            for c in CONCURRENCY:
                results[(name, c)] = run(rasters, raster_bare, c)
    cache.flushdb()

    print(
        f"Tiles benchmark: {N_REPORTS:,} reports, {N_ZONES:,} zones ({data}); {len(vector)} vector tiles "
        f"(z8-z16: reports x3 places, zones x1) and {len(rasters)} raster tiles (z13-z18) x {ROUNDS} rounds "
        f"per client; gunicorn x{WORKERS}, {os.cpu_count()} cores, {timezone.now():%Y-%m-%d}"
    )
    labels = {
        "bare": "bare ST_AsMVT (psycopg)",
        "cold": "endpoint, cache off (cold)",
        "warm": "endpoint, Redis cache (warm)",
        "raster-png": "raster endpoint PNG (cache off)",
        "raster-webp": "raster endpoint WebP (cache off)",
        "bare-read": "bare rio-tiler Reader.tile",
        "bare-render": "bare rio-tiler tile + render PNG",
    }
    rows = {key: summary(labels[key[0]], key[1], value) for key, value in results.items()}
    print("Vector, per layer and zoom (1 client): p50 bare / cold / warm ms, size")
    zoom_key = lambda item: (item[0], item[1].z)  # noqa: E731
    bare_z = per_zoom(vector, results[("bare", 1)], zoom_key)
    cold_z = per_zoom(vector, results[("cold", 1)], zoom_key)
    warm_z = per_zoom(vector, results[("warm", 1)], zoom_key)
    for key in sorted(bare_z):
        print(
            f"  {key[0]:<8} z{key[1]:<3} {bare_z[key][0]:8.2f} {cold_z[key][0]:8.2f} {warm_z[key][0]:7.2f}"
            f"   ratio cold/bare {cold_z[key][0] / bare_z[key][0]:5.2f}   {cold_z[key][1] / 1024:8.1f} KB"
        )
    print(
        "Raster, per zoom (1 client): p50 bare read / bare read+PNG / endpoint PNG / endpoint WebP ms, sizes"
    )
    by_z = lambda tile: tile.z  # noqa: E731
    tables = {
        k: per_zoom(rasters, results[(k, 1)], by_z)
        for k in ("bare-read", "bare-render", "raster-png", "raster-webp")
    }
    for z in sorted(tables["bare-read"]):
        print(
            f"  z{z:<3} {tables['bare-read'][z][0]:7.2f} {tables['bare-render'][z][0]:7.2f} "
            f"{tables['raster-png'][z][0]:7.2f} {tables['raster-webp'][z][0]:7.2f}   "
            f"PNG {tables['raster-png'][z][1] / 1024:6.1f} KB  WebP {tables['raster-webp'][z][1] / 1024:6.1f} KB"
        )
    print("Ratios")
    for c in CONCURRENCY:
        print(
            f"  x{c}: cold p50 / bare p50 = {rows[('cold', c)][1] / rows[('bare', c)][1]:.2f} (target <= 1.3);  "
            f"warm rate / cold rate = {rows[('warm', c)][0] / rows[('cold', c)][0]:.1f}x (target >= 10);  "
            f"raster PNG p50 / bare read+PNG p50 = {rows[('raster-png', c)][1] / rows[('bare-render', c)][1]:.2f}"
        )
    biggest = max(max(r[2]) for k, r in results.items() if k[0] in ("cold",))
    print(f"  largest vector tile: {biggest / 1024:.1f} KB (budget {layers.TILE_BUDGET_BYTES / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
