"""Celery tasks of the shared outbox: thin adapters (ids in, one service call, the retry policy, explicit names).

They have no Celery-level retry: the outbox row keeps the schedule (attempts, back-off) and the beat
sweeper publishes what is due, so a lost or failed task is never a lost notification.
"""

from __future__ import annotations

from celery import shared_task

from geo.outbox import outbox_deliver, outbox_sweep


@shared_task(name="geo.outbox_deliver", ignore_result=True)
def outbox_deliver_task(message_id: int) -> str:
    return outbox_deliver(message_id=message_id)


@shared_task(name="geo.outbox_sweep", ignore_result=True)
def outbox_sweep_task() -> int:
    return outbox_sweep()
