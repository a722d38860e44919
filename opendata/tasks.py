"""Celery tasks of the open data app: thin adapters with explicit names."""

from __future__ import annotations

from celery import shared_task

from opendata.exports import exports_write


@shared_task(
    name="opendata.export", ignore_result=True, autoretry_for=(OSError,), max_retries=3, retry_backoff=True
)
def export_task() -> int:
    """The daily export (beat): rewrite every dataset's files in the ``opendata`` storage."""
    return len(exports_write())
