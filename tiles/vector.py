"""Reads of vector tiles: one ``ST_AsMVT`` statement per tile, bytes out, under a statement timeout.

The statement runs behind ``SET LOCAL statement_timeout`` in the same query message, i.e. in the
same (implicit) transaction, so one slow tile is cancelled by PostgreSQL and becomes a 503 instead
of holding a worker and a connection; the setting ends with the transaction. Inside an outer
transaction (tests, callers' ``atomic``) a savepoint keeps a cancellation from aborting it.
"""

from __future__ import annotations

import logging
import math
from contextlib import nullcontext
from typing import Any

from django.db import connection, transaction

from tiles import conf, versioning
from tiles.cache import etag
from tiles.layers import TILE_BUDGET_BYTES, VectorLayer
from tiles.sql import tile_statement
from tiles.tilemath import Tile

MVT_CONTENT_TYPE = "application/vnd.mapbox-vector-tile"
logger = logging.getLogger(__name__)


def tile_version(layer: VectorLayer) -> versioning.Version:
    """The version the layer's tiles are served under (one statement on its counter rows, never the data).

    Read *before* rendering: the render then reads data at least as new as this version, so the
    ETag and cache key made from it never carry older bytes (``tiles.versioning``).
    """
    return versioning.current_version(layer.name, conf.version_min_interval(layer.name))


def tile_etag(
    layer: VectorLayer, tile: Tile, filters: dict[str, Any], version: versioning.Version | None = None
) -> str:
    """The tile's ETag, from ``version`` (read now when not given)."""
    number = (version or tile_version(layer)).number
    day = (str(layer.today()),) if layer.calendar_tz else ()
    return etag("mvt", layer.name, layer.fingerprint, number, str(tile), filters, *day)


def max_age(layer: VectorLayer, version: versioning.Version) -> int:
    """``Cache-Control: max-age`` of a tile served under ``version``.

    With a published (quantised) version, HTTP caches keep a tile until its version may next
    change (the rest of the interval; the whole interval after a quiet spell, when the next write
    is published at once), never longer than ``TILES_MAX_AGE``: a viewer then sees a change at most
    about one interval after it was made, however nginx, a CDN or the browser cache it.
    """
    interval = conf.version_min_interval(layer.name)
    if interval <= 0 or version.stable_for is None:
        return conf.max_age()
    ahead = version.stable_for if version.stable_for > 0 else interval
    return max(0, min(conf.max_age(), math.ceil(ahead)))


def tile_mvt(layer: VectorLayer, tile: Tile, filters: dict[str, Any]) -> bytes:
    """The tile's MVT bytes (empty when no feature meets the tile)."""
    sql, params = tile_statement(layer, tile, filters)
    timeout = f"SET LOCAL statement_timeout = {int(conf.statement_timeout_ms())};"
    guard = transaction.atomic() if connection.in_atomic_block else nullcontext()
    with guard, connection.cursor() as cursor:
        cursor.execute(timeout + sql, params)
        cursor.nextset()
        row = cursor.fetchone()
    body = bytes(row[0]) if row and row[0] is not None else b""
    if len(body) > TILE_BUDGET_BYTES:
        # Caps bound features, not bytes: a layer of very detailed polygons can still overrun.
        logger.warning(
            "tile %s/%s is %d bytes, over the %d-byte budget", layer.name, tile, len(body), TILE_BUDGET_BYTES
        )
    return body
