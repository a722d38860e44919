"""Warming: the low-zoom vector tiles of every territory rendered into the Redis tile cache ahead of visitors.

Why: at z8–z11 the ``reports`` tiles aggregate every report of the territory into clusters
(``docs/SCALING.md`` §5, "Cold report clusters"). They are the most expensive tiles and the first
ones a visitor of a whole-town view loads, and every new published version of the layer makes
them cold again; after a deploy, or a burst of reports, the first visitors would pay for them.
Warming renders them in a worker (queue ``imports_tiles``) instead.

How: nothing of its own. A tile is keyed and rendered exactly as ``tiles.views.vector_tile``
does for a request without filters (the public map's request): the layer's version is read
first (``vector.tile_version``, which also publishes a due version of a quantised layer), the
ETag made from it is the Redis key, the bytes come from ``vector.tile_mvt`` and are written with
``cache.put`` (``SET NX``: a tile a request cached meanwhile keeps its bytes). A key already
present under the current version is left alone, so a run on an unchanged layer renders nothing
and costs one pipelined ``EXISTS`` per layer and zoom. Those lookups bypass ``cache.get`` on
purpose: they are not visitors' lookups and must not count in the hit/miss metrics.

Bounds: at most ``TILES_WARM_MAX_TILES`` renders per run (lowest zooms first, then the next run
goes on where this one stopped, since what it rendered is cached) and a time budget
(``TILES_WARM_SECONDS``), so that a run never outlasts the beat interval of the task
(``tiles.tasks``). With the cache off (no ``TILES_CACHE_URL``) there is nowhere to keep a tile: a
run does nothing.

==============================  ==================================  ===========================================
setting                         default                             meaning
==============================  ==================================  ===========================================
``TILES_WARM_ZOOMS``            ``(8, 9, 10, 11)``                  zooms warmed (within each layer's range)
``TILES_WARM_LAYERS``           ``("reports", "zones",              declared vector layers warmed, in this
                                "territories")``                    order within a zoom
``TILES_WARM_MAX_TILES``        ``500``                             renders per run at most
``TILES_WARM_SECONDS``          ``240``                             no new render started after this long
==============================  ==================================  ===========================================
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import redis
from django.conf import settings
from django.contrib.gis.db.models.functions import Envelope
from django.db import DatabaseError

from geo.models import Territory
from tiles import cache, layers, vector
from tiles.tilemath import Tile, tile_for_lonlat

logger = logging.getLogger(__name__)

DEFAULT_ZOOMS = (8, 9, 10, 11)
DEFAULT_LAYERS = ("reports", "zones", "territories")
DEFAULT_MAX_TILES = 500
DEFAULT_SECONDS = 240.0


def warm_zooms() -> tuple[int, ...]:
    return tuple(sorted({int(z) for z in getattr(settings, "TILES_WARM_ZOOMS", DEFAULT_ZOOMS)}))


def warm_layers() -> tuple[str, ...]:
    return tuple(getattr(settings, "TILES_WARM_LAYERS", DEFAULT_LAYERS))


def warm_max_tiles() -> int:
    return max(0, int(getattr(settings, "TILES_WARM_MAX_TILES", DEFAULT_MAX_TILES)))


def warm_seconds() -> float:
    return max(0.0, float(getattr(settings, "TILES_WARM_SECONDS", DEFAULT_SECONDS)))


@dataclass
class WarmReport:
    """What a run did: ``rendered`` + ``cached`` + ``failed`` + ``left`` = the tiles planned.

    ``left``: tiles not looked at because the cap or the time budget was reached (the next run
    takes them); ``failed``: renders the database refused (statement timeout...), logged.
    """

    rendered: int = 0
    cached: int = 0
    failed: int = 0
    left: int = 0
    seconds: float = 0.0
    cache_enabled: bool = True
    by_layer: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def planned(self) -> int:
        return self.rendered + self.cached + self.failed + self.left

    def count(self, layer: str, what: str, n: int = 1) -> None:
        setattr(self, what, getattr(self, what) + n)
        per = self.by_layer.setdefault(layer, {"rendered": 0, "cached": 0, "failed": 0, "left": 0})
        per[what] += n

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly (the Celery task's return value, logged by the worker)."""
        return {**asdict(self), "seconds": round(self.seconds, 3), "planned": self.planned}


def tiles_covering(bounds: Iterable[tuple[float, float, float, float]], zoom: int) -> list[Tile]:
    """The tiles at ``zoom`` that meet any of the WGS84 boxes (west, south, east, north), ordered."""
    found: set[Tile] = set()
    for west, south, east, north in bounds:
        top_left = tile_for_lonlat(west, north, zoom)
        bottom_right = tile_for_lonlat(east, south, zoom)
        for x in range(top_left.x, bottom_right.x + 1):
            for y in range(top_left.y, bottom_right.y + 1):
                found.add(Tile(zoom, x, y))
    return sorted(found, key=lambda t: (t.y, t.x))


def territory_bounds() -> list[tuple[float, float, float, float]]:
    """Each territory's bounding box in WGS84 (storage SRID): computed by PostGIS, no outline loaded."""
    boxes = Territory.objects.annotate(box=Envelope("geom")).values_list("box", flat=True)
    return [tuple(box.extent) for box in boxes if box is not None]  # type: ignore[misc]


def plan(zooms: Sequence[int], layer_names: Sequence[str]) -> list[tuple[layers.VectorLayer, Tile]]:
    """Every (layer, tile) to warm: zoom by zoom (the lowest first), layers in the given order."""
    bounds = territory_bounds()
    chosen = [layers.get(name) for name in layer_names]
    planned: list[tuple[layers.VectorLayer, Tile]] = []
    for zoom in sorted(set(zooms)):
        covering = tiles_covering(bounds, zoom)
        for layer in chosen:
            if layer.minzoom <= zoom <= layer.maxzoom:
                planned += [(layer, tile) for tile in covering]
    return planned


def warm(
    *,
    zooms: Sequence[int] | None = None,
    layer_names: Sequence[str] | None = None,
    max_tiles: int | None = None,
    seconds: float | None = None,
) -> WarmReport:
    """Render into the Redis tile cache the tiles of the territories not cached under the current version.

    Arguments default to the ``TILES_WARM_*`` settings. Unknown layer names raise
    ``tiles.errors.TileError`` (``couche_inconnue``) before any work.
    """
    started = time.monotonic()
    zooms = warm_zooms() if zooms is None else tuple(zooms)
    layer_names = warm_layers() if layer_names is None else tuple(layer_names)
    cap = warm_max_tiles() if max_tiles is None else max(0, max_tiles)
    budget = warm_seconds() if seconds is None else seconds
    report = WarmReport()
    if not cache.enabled():
        report.cache_enabled = False
        logger.info("tile warming skipped: no tile cache (TILES_CACHE_URL) or cache unavailable")
        return report

    todo = plan(zooms, layer_names)
    # One version per layer, read before any render of it (tiles.versioning: the bytes rendered
    # afterwards are at least as new as the key says).
    versions = {layer.name: vector.tile_version(layer) for layer in {layer for layer, _ in todo}}
    tags = [vector.tile_etag(layer, tile, {}, versions[layer.name]) for layer, tile in todo]
    try:
        present = cache.present(tags) or [False] * len(tags)
    except redis.RedisError:
        report.count("*", "left", len(todo))
        report.seconds = time.monotonic() - started
        return report

    for (layer, tile), tag, is_cached in zip(todo, tags, present, strict=True):
        if is_cached:
            report.count(layer.name, "cached")
            continue
        spent = report.rendered + report.failed >= cap or time.monotonic() - started >= budget
        if spent or not cache.enabled():  # cap, budget, or Redis failed under a put (backing off)
            report.count(layer.name, "left")
            continue
        try:
            body = vector.tile_mvt(layer, tile, {})
        except DatabaseError as exc:
            logger.warning("tile warming: %s/%s not rendered: %s", layer.name, tile, exc)
            report.count(layer.name, "failed")
            continue
        cache.put(tag, body)
        report.count(layer.name, "rendered")

    report.seconds = time.monotonic() - started
    logger.info(
        "tile warming: %d rendered, %d already cached, %d failed, %d left for the next run (%.2f s)",
        report.rendered,
        report.cached,
        report.failed,
        report.left,
        report.seconds,
    )
    return report
