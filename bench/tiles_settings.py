"""Settings of the gunicorn server started by ``bench/tiles.py``: production, plus the tiles knobs.

The benchmark sets here the Redis cache on or off (``BENCH_TILES_CACHE_URL``) and the raster lookup
hook that serves the benchmark's COG (``BENCH_COG_PATH``) as the raster layer ``plan``;
``TILES_VERSION_MIN_INTERVAL`` comes from the environment through ``config/settings``.
"""

import os

from config.settings.production import *  # noqa: F403

TILES_CACHE_URL = os.environ.get("BENCH_TILES_CACHE_URL") or None
TILES_RASTER_LOOKUP = "bench.tiles_settings.raster_lookup"


def raster_lookup(name: str) -> str | None:
    return os.environ.get("BENCH_COG_PATH") if name == "plan" else None
