"""Celery tasks of the privacy app: thin adapters with explicit names (beat, every night)."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

# The nightly audit looks at the images written in this many days (a full audit is a command).
AUDIT_DAYS = 2


@shared_task(name="privacy.retention", ignore_result=True)
def retention_task() -> dict[str, int | None]:
    """Apply every retention period (privacy/retention.py); idempotent, so a rerun is harmless."""
    from privacy.retention import apply_retention

    return apply_retention()


@shared_task(name="privacy.served_images_audit", ignore_result=True)
def served_images_audit_task() -> int:
    """Re-check the images served since the last days for metadata; returns how many offend."""
    from privacy.images import served_images_audit

    _checked, findings = served_images_audit(since=timezone.now() - timedelta(days=AUDIT_DAYS))
    return sum(1 for f in findings if f.problem == "metadata")
