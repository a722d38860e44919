"""Photos whose processing task was lost are found again by the sweeper."""

from datetime import timedelta

import pytest
from django.utils import timezone

from signalements.models import Photo, Report
from signalements.photos import photos_unprocessed_ids
from tests.signalements.world import World, at

pytestmark = pytest.mark.django_db


def test_only_old_unprocessed_photos_are_swept(world: World):
    from geo.srid import point_from_lonlat

    report = Report.objects.create(
        location=point_from_lonlat(*at()), category=world.nid, created_at=timezone.now()
    )
    stale = Photo.objects.create(report=report, original="photos/a.jpg", sha256="a")
    fresh = Photo.objects.create(report=report, original="photos/b.jpg", sha256="b")
    done = Photo.objects.create(
        report=report, original="photos/c.jpg", sha256="c", processed_at=timezone.now()
    )
    Photo.objects.filter(pk__in=[stale.pk, done.pk]).update(created_at=timezone.now() - timedelta(minutes=10))
    assert photos_unprocessed_ids() == [stale.pk]
    assert fresh.pk not in photos_unprocessed_ids(older_than=timedelta(minutes=5))


def test_beat_runs_both_sweepers():
    from django.conf import settings

    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"geo.outbox_sweep", "signalements.photos_sweep"} <= tasks
    from config.celery import app

    app.loader.import_default_modules()
    assert {"geo.outbox_sweep", "signalements.photos_sweep"} <= set(app.tasks)
