"""Celery tasks of the urbanisme app: thin adapters (ids in, one service call, the retry policy, explicit names).

Queues come from ``settings.CELERY_TASK_ROUTES``: the calendar tick beside the notifications, the
raster conversions on ``imports_tiles`` (long, CPU-bound: they must never delay an e-mail or a photo).
"""

from __future__ import annotations

from celery import shared_task

from geo.tasks import FILE_TASK_RETRY


@shared_task(name="urbanisme.phases_tick", ignore_result=True)
def phases_tick_task() -> int:
    """Beat: the calendar notices that are due (idempotent per phase and kind)."""
    from urbanisme.services import phases_tick

    return phases_tick()


# Errors of the file mark the layer failed inside the service; OSError is retried (geo.tasks).
@shared_task(name="urbanisme.raster_to_cog", ignore_result=True, **FILE_TASK_RETRY)
def raster_to_cog_task(layer_id: int) -> None:
    from urbanisme.rasters import raster_to_cog

    raster_to_cog(layer_id=layer_id)


@shared_task(name="urbanisme.rasters_sweep", ignore_result=True)
def rasters_sweep_task() -> int:
    """Beat: publish the conversion again for rasters left pending; give up on the hopeless ones."""
    from geo.outbox import publish_fast
    from urbanisme.rasters import rasters_give_up, rasters_unconverted_ids

    rasters_give_up()
    ids = rasters_unconverted_ids()
    if ids:
        publish_fast(raster_to_cog_task, [{"layer_id": pk} for pk in ids])
    return len(ids)
