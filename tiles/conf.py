"""Settings of the tiles app, each read at call time with a default.

Read through ``getattr`` rather than declared in ``config/settings`` so that the app brings its own
defaults (and tests may override any of them with pytest-django's ``settings`` fixture).

======================================  =========  ============================================================
setting                                 default    meaning
======================================  =========  ============================================================
``TILES_CACHE_URL``                     ``None``   Redis URL of the tile cache; ``None`` turns the cache off
``TILES_CACHE_TTL``                     ``3600``   seconds a cached tile lives (keys carry the data version)
``TILES_CACHE_PREFIX``                  ``tiles``  prefix of the Redis keys
``TILES_MAX_AGE``                       ``60``     ``Cache-Control: max-age`` of tiles and TileJSON (seconds)
``TILES_STALE_WHILE_REVALIDATE``        ``300``    ``Cache-Control: stale-while-revalidate`` (seconds)
``TILES_STATEMENT_TIMEOUT_MS``          ``5000``   ``SET LOCAL statement_timeout`` of one tile statement
``TILES_RETRY_AFTER``                   ``5``      ``Retry-After`` of a 503 (tile too slow)
``TILES_RASTER_LOOKUP``                 ``None``   dotted path of ``lookup(name) -> path | dict | None``
``TILES_VERSION_MIN_INTERVAL``          ``{}``     seconds between two published versions, per layer name (absent:
                                                   0, every write is a new version at once); ``config/settings``
                                                   sets ``{"reports": 30}`` — see ``tiles.versioning``
======================================  =========  ============================================================
"""

from __future__ import annotations

from typing import Any

from django.conf import settings


def _get(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def cache_url() -> str | None:
    return _get("TILES_CACHE_URL", None) or None


def cache_ttl() -> int:
    return int(_get("TILES_CACHE_TTL", 3600))


def cache_prefix() -> str:
    return str(_get("TILES_CACHE_PREFIX", "tiles"))


def max_age() -> int:
    return int(_get("TILES_MAX_AGE", 60))


def stale_while_revalidate() -> int:
    return int(_get("TILES_STALE_WHILE_REVALIDATE", 300))


def statement_timeout_ms() -> int:
    return int(_get("TILES_STATEMENT_TIMEOUT_MS", 5000))


def retry_after() -> int:
    return int(_get("TILES_RETRY_AFTER", 5))


def raster_lookup() -> str | None:
    return _get("TILES_RASTER_LOOKUP", None) or None


def version_min_interval(layer: str) -> float:
    """Seconds between two published versions of ``layer`` (0: the raw counter, no quantisation)."""
    intervals = _get("TILES_VERSION_MIN_INTERVAL", None) or {}
    return max(0.0, float(intervals.get(layer, 0)))
