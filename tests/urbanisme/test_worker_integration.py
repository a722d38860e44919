"""The concertation calendar through a real Celery worker: beat's tick opens a phase and e-mails followers."""

from __future__ import annotations

import pytest
from django.utils import timezone

from config.celery import app
from geo.models import OutboxMessage
from tests.urbanisme.world import build_concertation
from tests.worker import DELIVERY_TIMEOUT_S, wait_until
from urbanisme.models import PhaseNotice, ProjectFollower

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_the_beat_task_announces_the_open_concertation_once_and_the_worker_delivers_it(celery_worker):
    # given a concertation open today and two followers, one of whom never confirmed
    c = build_concertation(slug="worker-place")
    ProjectFollower.objects.create(
        project=c.project, email="voisine@example.org", confirm_token_hash="w1", confirmed_at=timezone.now()
    )
    ProjectFollower.objects.create(project=c.project, email="jamais@example.org", confirm_token_hash="w2")
    # when beat publishes the tick twice (a duplicated schedule must not send twice)
    for _ in range(2):
        app.send_task("urbanisme.phases_tick", queue="notifications")
    # then one notice is recorded and its e-mail is delivered to the confirmed follower only
    topic = f"project:{c.project.pk}"
    wait_until(
        lambda: OutboxMessage.objects.filter(topic=topic, state="sent").count() == 1,
        DELIVERY_TIMEOUT_S,
        "the notice e-mail",
        celery_worker,
    )
    assert list(PhaseNotice.objects.filter(project=c.project).values_list("kind", flat=True)) == ["opened"]
    [message] = OutboxMessage.objects.filter(topic=topic)
    assert message.destination == "voisine@example.org"
    assert "La concertation est ouverte" in message.subject
    mails = "".join(p.read_text(errors="replace") for p in celery_worker.mail_dir.glob("*"))
    assert "voisine@example.org" in mails and "jamais@example.org" not in mails
