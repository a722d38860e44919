"""Fixtures of the tiles tests: the signalements test town, report helpers, MVT decoding, a COG."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import pytest
import redis
from django.db import connection

from geo.srid import STORAGE_SRID
from signalements.models import Report
from signalements.services import ContactInput, report_create
from tests.signalements.world import at
from tests.signalements.world import world as world
from tiles import cache
from tiles.tilemath import Tile, tile_for_lonlat, tile_lonlat_bounds

# The tile cache's Redis database; another database when suites run side by side on one Redis.
TEST_REDIS_URL = os.environ.get("CONCERTO_TEST_TILES_REDIS_URL", "redis://127.0.0.1:6379/13")


def decode(body: bytes) -> dict[str, Any]:
    return mapbox_vector_tile.decode(body)


def features(body: bytes, layer: str) -> list[dict[str, Any]]:
    return decode(body).get(layer, {}).get("features", []) if body else []


def file_report(
    lon: float,
    lat: float,
    *,
    category: str = "nid-de-poule",
    contact: ContactInput | None = None,
    created_at: datetime | None = None,
) -> Report:
    """A report filed the normal way (routed, with its ticket) at a WGS84 position of the test town."""
    return report_create(
        category=category,
        lon=lon,
        lat=lat,
        description="Trou dans la chaussée",
        contact=contact,
        created_at=created_at,
        notify=False,
    ).report


def inside(tile: Tile, fx: float, fy: float) -> tuple[float, float]:
    """Lon/lat at fractions of a tile's width (from the west) and height (from the north)."""
    west, south, east, north = tile_lonlat_bounds(tile)
    return west + (east - west) * fx, north - (north - south) * fy


def bulk_reports(
    n: int,
    west: float,
    south: float,
    east: float,
    north: float,
    *,
    category_id: int,
    service_id: int,
    prefix: str = "BULK",
) -> None:
    """``n`` published reports spread evenly over a box (quasi-random R2 sequence), with tickets: one statement."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH r AS (
              INSERT INTO signalements_report
                (reference, location, category_id, description, address, channel, published, created_at, updated_at)
              SELECT %(prefix)s || '-' || i,
                     ST_SetSRID(ST_MakePoint(%(w)s + (%(e)s - %(w)s) * ((i * 0.7548776662466927) %% 1),
                                             %(s)s + (%(n)s - %(s)s) * ((i * 0.5698402909980532) %% 1)), {STORAGE_SRID}),
                     %(cat)s, '', '', 'import', true, now(), now()
              FROM generate_series(1, %(count)s) i
              RETURNING id
            )
            INSERT INTO signalements_ticket (report_id, service_id, state, priority, routing, ambiguous, created_at, updated_at)
            SELECT id, %(svc)s, 'nouveau', 2, '{{}}'::jsonb, false, now(), now() FROM r
            """,
            {
                "w": west,
                "s": south,
                "e": east,
                "n": north,
                "cat": category_id,
                "svc": service_id,
                "count": n,
                "prefix": prefix,
            },
        )


@pytest.fixture(autouse=True)
def raw_versions(settings) -> None:  # type: ignore[no-untyped-def]
    """Every layer serves its raw data version (interval 0), as these tests expect a write to show
    at once; ``test_version_quantisation`` sets intervals of its own."""
    settings.TILES_VERSION_MIN_INTERVAL = {}


@pytest.fixture
def tile_cache(settings) -> Iterator[redis.Redis]:  # type: ignore[no-untyped-def]
    """The Redis tile cache turned on, on a database of its own, emptied before and after."""
    settings.TILES_CACHE_URL = TEST_REDIS_URL
    client = redis.Redis.from_url(TEST_REDIS_URL)
    client.flushdb()
    cache._down_until = 0.0
    yield client
    client.flushdb()


@pytest.fixture
def center_tile() -> Tile:
    """The z16 tile of the Hôtel de Ville, the middle of the test town."""
    return tile_for_lonlat(*at(0, 0), 16)


@pytest.fixture(scope="session")
def cog_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small COG in Lambert-93 (EPSG:2154) centred on the Hôtel de Ville, 800 m x 800 m at 1 m.

    West half red, east half blue, and a nodata block (value 0) in the north-east corner.
    """
    import numpy as np
    import rasterio
    from rasterio.shutil import copy as rio_copy
    from rasterio.transform import from_origin
    from rasterio.warp import transform as warp

    xs, ys = warp("EPSG:4326", "EPSG:2154", [at(0, 0)[0]], [at(0, 0)[1]])
    size = 800
    data = np.zeros((3, size, size), dtype=np.uint8)
    data[:, :, : size // 2] = np.array([220, 20, 20], dtype=np.uint8)[:, None, None]
    data[:, :, size // 2 :] = np.array([20, 20, 220], dtype=np.uint8)[:, None, None]
    data[:, :200, 600:] = 0  # nodata: the north-east corner, 200 m x 200 m
    folder = tmp_path_factory.mktemp("cog")
    plain, cog = folder / "plain.tif", folder / "plan.tif"
    profile = {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "count": 3,
        "dtype": "uint8",
        "crs": "EPSG:2154",
        "transform": from_origin(xs[0] - size / 2, ys[0] + size / 2, 1.0, 1.0),
        "nodata": 0,
    }
    with rasterio.open(plain, "w", **profile) as dst:
        dst.write(data)
    rio_copy(plain, cog, driver="COG", BLOCKSIZE=256, OVERVIEW_RESAMPLING="NEAREST")
    return cog
