"""Routing latency: `geo.routing.route` against the bare PostGIS point-in-polygon query.

10,000 random points over 5,000 zones (a 50 x 50 grid of sector zones plus 2,500 smaller
overlapping zones of random categories and priorities), both measured in the same run on the same
connection, one point at a time as a request would. Prints per-point latencies and the ratio.

Run with `make bench` (it uses its own database, `concerto_bench`, never the demo's).
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ.setdefault("DATABASE_URL", "postgis://postgres@127.0.0.1:5432/concerto_bench")

import django
import psycopg

django.setup()

from django.contrib.gis.geos import MultiPolygon, Polygon  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from geo.models import Category, Organisation, Service, Territory, Zone  # noqa: E402
from geo.routing import route  # noqa: E402
from geo.srid import STORAGE_SRID, point_from_lonlat  # noqa: E402

SEED = 20261122
N_POINTS = int(os.environ.get("BENCH_POINTS", "10000"))
GRID = 50  # 50 x 50 = 2,500 sector zones
N_SMALL = 2_500
WEST, SOUTH, EAST, NORTH = 2.22, 48.81, 2.47, 48.91  # Paris


def rect(x0: float, y0: float, x1: float, y1: float) -> MultiPolygon:
    return MultiPolygon(Polygon(((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))), srid=STORAGE_SRID)


@transaction.atomic
def build(rng: random.Random) -> list[Category]:
    with connection.cursor() as cursor:  # a bench database only: start from nothing
        cursor.execute(
            "TRUNCATE geo_zone, geo_zone_categories, geo_defaultservice, geo_territory, geo_networkfeature, "
            "geo_networklayer, geo_networklayer_categories, geo_membership, geo_service, geo_category, "
            "geo_organisation CASCADE"
        )
    org = Organisation.objects.create(name="Bench", kind=Organisation.Kind.COMMUNE)
    Territory.objects.create(
        name="Bench", slug="bench", organisation=org, geom=rect(WEST, SOUTH, EAST, NORTH)
    )
    parent = Category.objects.create(code="voirie", name="Voirie")
    leaves = [
        Category.objects.create(code=f"cat-{i}", name=f"Catégorie {i}", parent=parent) for i in range(10)
    ]
    services = Service.objects.bulk_create(
        [Service(organisation=org, name=f"Service {i}") for i in range(40)]
    )
    dx, dy = (EAST - WEST) / GRID, (NORTH - SOUTH) / GRID
    zones = [
        Zone(
            name=f"Secteur {i}-{j}",
            service=services[(i * GRID + j) % 20],
            priority=10,
            geom=rect(WEST + i * dx, SOUTH + j * dy, WEST + (i + 1) * dx, SOUTH + (j + 1) * dy),
        )
        for i in range(GRID)
        for j in range(GRID)
    ]
    for k in range(N_SMALL):
        x, y = rng.uniform(WEST, EAST), rng.uniform(SOUTH, NORTH)
        w, h = rng.uniform(0.001, 0.01), rng.uniform(0.001, 0.006)
        zones.append(
            Zone(
                name=f"Zone {k}",
                service=services[20 + k % 20],
                priority=rng.choice((20, 30, 50)),
                geom=rect(x, y, x + w, y + h),
            )
        )
    zones = Zone.objects.bulk_create(zones)
    through = Zone.categories.through
    links = [through(zone_id=z.pk, category_id=parent.pk) for z in zones[: GRID * GRID]]
    links += [through(zone_id=z.pk, category_id=rng.choice(leaves).pk) for z in zones[GRID * GRID :]]
    through.objects.bulk_create(links)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE geo_zone; ANALYZE geo_zone_categories; ANALYZE geo_territory")
    return leaves


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    rng = random.Random(SEED)
    call_command("migrate", verbosity=0)
    leaves = build(rng)
    points = [
        (rng.uniform(WEST, EAST), rng.uniform(SOUTH, NORTH), rng.choice(leaves)) for _ in range(N_POINTS)
    ]
    baseline_sql = (
        f"SELECT id FROM geo_zone WHERE ST_Intersects(geom, ST_SetSRID(ST_MakePoint(%s, %s), {STORAGE_SRID})) "
        "ORDER BY priority DESC LIMIT 1"
    )
    # Warm both paths (plans, caches) before measuring.
    connection.ensure_connection()
    with connection.cursor() as cursor:
        for lon, lat, cat in points[:200]:
            cursor.execute(baseline_sql, [lon, lat])
            cursor.fetchall()
            route(point_from_lonlat(lon, lat), cat)

    baseline: list[float] = []
    prepared: list[float] = []
    routed: list[float] = []
    ambiguous = 0
    raw = connection.connection
    with connection.cursor() as cursor, psycopg.Cursor(raw) as server_cursor:
        # Interleaved, so that all three see the same machine load.
        for lon, lat, cat in points:
            t0 = time.perf_counter()
            cursor.execute(baseline_sql, [lon, lat])
            cursor.fetchall()
            t1 = time.perf_counter()
            server_cursor.execute(baseline_sql, [lon, lat], prepare=True)
            server_cursor.fetchall()
            t2 = time.perf_counter()
            decision = route(point_from_lonlat(lon, lat), cat)
            t3 = time.perf_counter()
            baseline.append((t1 - t0) * 1000)
            prepared.append((t2 - t1) * 1000)
            routed.append((t3 - t2) * 1000)
            ambiguous += decision.ambiguous

    def line(name: str, values: list[float]) -> str:
        return (
            f"{name:<38} mean {statistics.fmean(values):7.3f} ms   p50 {percentile(values, 0.5):7.3f} ms   "
            f"p95 {percentile(values, 0.95):7.3f} ms"
        )

    print(f"Routing benchmark: {N_POINTS} points, {Zone.objects.count()} zones, seed {SEED}")
    print(line("bare PostGIS point-in-polygon", baseline))
    print(line("bare point-in-polygon, prepared", prepared))
    print(line("geo.routing.route (full decision)", routed))
    for label, base in (("bare", baseline), ("bare prepared", prepared)):
        print(
            f"ratio route / {label} (mean): {statistics.fmean(routed) / statistics.fmean(base):.2f}x   "
            f"(p50: {percentile(routed, 0.5) / percentile(base, 0.5):.2f}x)"
        )
    print(f"ambiguous decisions: {ambiguous} ({ambiguous / N_POINTS:.1%})")


if __name__ == "__main__":
    main()
