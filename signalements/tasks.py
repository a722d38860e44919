"""Celery tasks: thin adapters (ids in, one service call, the retry policy, explicit names).

The outbox tasks (``geo.outbox_deliver``, ``geo.outbox_sweep``) live in ``geo.tasks``: every domain
sends through the same outbox.
"""

from __future__ import annotations

from celery import shared_task

from geo.tasks import FILE_TASK_RETRY


@shared_task(name="signalements.photo_process", ignore_result=True, **FILE_TASK_RETRY)
def photo_process_task(photo_id: int) -> None:
    from signalements.photos import photo_process  # written alongside; imported when the task runs

    photo_process(photo_id=photo_id)


@shared_task(name="signalements.photos_sweep", ignore_result=True)
def photos_sweep_task() -> int:
    """Publish processing again for photos left unprocessed (the broker was down when they came)."""
    from geo.outbox import publish_fast
    from signalements.photos import photos_unprocessed_ids

    ids = photos_unprocessed_ids()
    if ids:
        publish_fast(photo_process_task, [{"photo_id": pk} for pk in ids])
    return len(ids)
