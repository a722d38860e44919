"""Celery tasks of the tiles app: thin adapters over ``tiles.warm`` (explicit names, no retry).

Routed to ``imports_tiles`` (``settings.CELERY_TASK_ROUTES``): rendering clusters of a whole
territory is batch work, which must never delay a notification or a photo.

Beat runs ``tiles.warm`` every 5 minutes (``CELERY_BEAT_SCHEDULE["tiles-warm"]``), and why not
more or less often:

* a run on an unchanged layer renders nothing (one pipelined ``EXISTS`` per layer and zoom), so
  the schedule costs nothing at quiet hours, yet it re-renders the entries that the cache TTL
  (``TILES_CACHE_TTL``, 1 h) expired, and it warms a deploy's new keys (a new
  ``RENDER_REVISION`` or declaration) within 5 minutes without anyone running ``warm_tiles``;
* under steady filing the ``reports`` layer publishes a new version at most every 30 s
  (``TILES_VERSION_MIN_INTERVAL``): a run renders the few low-zoom tiles of the newest version
  (about a dozen per town), which the next visitors hit until the following publication. Warming
  more often than every few minutes would chase every 30-second version with renders nobody may
  ask for; that steady cost is what quantisation removed from the request path. Once every
  5 minutes bounds it at a dozen renders per town and layer per 5 minutes.

The beat entry's message expires after 4 minutes: if the worker is busy with a long import, a
late warm is dropped rather than piling up behind it (the next one is under 5 minutes away).
No retry: the next run is the retry.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task


@shared_task(name="tiles.warm", ignore_result=True)
def warm_task() -> dict[str, Any]:
    """Beat: render the territories' low-zoom tiles missing from the Redis cache (``tiles.warm``).

    Returns the run's counts (rendered, already cached, left for the next run...): the worker
    logs them with the task's success line.
    """
    from tiles.warm import warm

    return warm().as_dict()
