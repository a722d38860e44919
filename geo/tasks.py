"""Celery tasks of the shared outbox: thin adapters (ids in, one service call, the retry policy, explicit names).

They have no Celery-level retry: the outbox row keeps the schedule (attempts, back-off) and the beat
sweeper publishes what is due, so a lost or failed task is never a lost notification.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from geo.outbox import outbox_deliver, outbox_sweep

# The retry policy of tasks that work on files (photos, rasters): errors of the file itself are the
# service's to record; OSError is the machine's (disk full, storage away), retried with back-off,
# after which the domain's sweeper takes over.
FILE_TASK_RETRY: dict[str, Any] = {
    "autoretry_for": (OSError,),
    "max_retries": 5,
    "retry_backoff": True,
    "retry_backoff_max": 600,
    "retry_jitter": True,
}


@shared_task(name="geo.outbox_deliver", ignore_result=True)
def outbox_deliver_task(message_id: int) -> str:
    return outbox_deliver(message_id=message_id)


@shared_task(name="geo.outbox_sweep", ignore_result=True)
def outbox_sweep_task() -> int:
    return outbox_sweep()
