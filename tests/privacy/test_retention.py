"""Retention (privacy/retention.py): each kind of personal data goes when its period ends, once,
in batches, and a dry run changes nothing."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone

from geo.models import OutboxMessage, PersonalDataAccess
from privacy import retention
from privacy.anonymise import ANONYMOUS_DOMAIN
from privacy.models import SubjectRequest
from privacy.tasks import retention_task
from signalements.models import Follower, Photo, ReportContact, Ticket
from signalements.photos import photo_process
from signalements.services import report_support, support_fingerprint
from tests.geo.outbox_support import enqueue_email
from tests.privacy.helpers import JEANNE, OTHER, close, contribute, file_report
from urbanisme import services as urbanisme_services
from urbanisme.bilan import bilan_compute
from urbanisme.models import Contribution, ContributionAuthor, Project, ProjectFollower, ProjectStatus

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def periods(settings):  # type: ignore[no-untyped-def]
    settings.RETENTION_REPORT_CONTACT_DAYS = 365
    settings.RETENTION_FOLLOWERS_DAYS = 90
    settings.RETENTION_UNCONFIRMED_FOLLOWERS_DAYS = 30
    settings.RETENTION_PHOTO_ORIGINALS_DAYS = 30
    settings.RETENTION_CONTRIBUTION_PHOTO_ORIGINALS_DAYS = 30
    settings.RETENTION_CONTRIBUTION_AUTHORS_DAYS = 180
    settings.RETENTION_OUTBOX_DAYS = 90
    settings.RETENTION_ACCESS_LOG_DAYS = 365
    settings.RETENTION_BATCH_SIZE = 500


def run(**kwargs):  # type: ignore[no-untyped-def]
    return retention.apply_retention(**kwargs)


# --- reports --------------------------------------------------------------------------------------


def test_contacts_of_reports_closed_past_the_period_are_deleted(world, published) -> None:
    old = file_report(world, east=-500)
    recent = file_report(world, east=-400)
    still_open = file_report(world, east=-300)
    close(old, world.agent_west, days_ago=400)
    close(recent, world.agent_west, days_ago=10)
    Ticket.objects.filter(pk=still_open.ticket.pk).update(updated_at=timezone.now() - timedelta(days=900))
    # a dry run counts and changes nothing
    assert run(dry_run=True, only={"report_contacts"}) == {"report_contacts": 1}
    assert ReportContact.objects.count() == 3
    # when retention runs
    assert run(only={"report_contacts"}) == {"report_contacts": 1}
    # then only the contact of the report closed 400 days ago is gone; the report stays
    assert set(ReportContact.objects.values_list("report_id", flat=True)) == {recent.pk, still_open.pk}
    old.refresh_from_db()
    assert old.reference and old.description
    # and a second run finds nothing
    assert run(only={"report_contacts"}) == {"report_contacts": 0}


def test_a_closed_ticket_without_closing_date_counts_from_its_last_change(world, published) -> None:
    report = file_report(world)
    close(report, world.agent_west)
    Ticket.objects.filter(pk=report.ticket.pk).update(
        closed_at=None, updated_at=timezone.now() - timedelta(days=400)
    )
    assert run(only={"report_contacts"}) == {"report_contacts": 1}


def test_followers_of_closed_reports_and_archived_projects_go(world, concertation, published) -> None:
    closed = file_report(world, east=-500)
    open_report = file_report(world, east=-400)
    report_support(report=closed, fingerprint=support_fingerprint(email=OTHER), email=OTHER)
    close(closed, world.agent_west, days_ago=100)
    Follower.objects.filter(report=open_report).update(unsubscribed_at=timezone.now() - timedelta(days=100))
    urbanisme_services.project_follow(project=concertation.project, email=OTHER)
    ProjectFollower.objects.update(confirmed_at=timezone.now())
    Project.objects.filter(pk=concertation.project.pk).update(
        status=ProjectStatus.ARCHIVED, updated_at=timezone.now() - timedelta(days=100)
    )
    # reporter + supporter of the closed report, the unsubscribed reporter, the project's follower
    assert run(only={"followers"}) == {"followers": 4}
    assert not Follower.objects.exists() and not ProjectFollower.objects.exists()


def test_unconfirmed_project_followers_go_after_their_period(concertation, published) -> None:
    urbanisme_services.project_follow(project=concertation.project, email=JEANNE)
    urbanisme_services.project_follow(project=concertation.project, email=OTHER)
    ProjectFollower.objects.filter(email=JEANNE).update(created_at=timezone.now() - timedelta(days=31))
    assert run(only={"unconfirmed_followers"}) == {"unconfirmed_followers": 1}
    assert list(ProjectFollower.objects.values_list("email", flat=True)) == [OTHER]


def test_photo_originals_go_once_their_copies_exist(
    world, published, django_capture_on_commit_callbacks
) -> None:
    report = file_report(world, photo=True)
    other = file_report(world, east=-400, photo=True)
    processed = photo_process(photo_id=report.photos.get().pk)
    unprocessed = other.photos.get()
    Photo.objects.update(created_at=timezone.now() - timedelta(days=31))
    original_name = processed.original.name
    assert processed.original.storage.exists(original_name)
    # when retention runs (files are deleted once its transaction commits)
    with django_capture_on_commit_callbacks(execute=True):
        assert run(only={"photo_originals"}) == {"photo_originals": 1}
    # then the processed photo's original is gone (row and file), its served copies stay
    processed.refresh_from_db()
    assert processed.original.name == ""
    assert not Photo.original.field.storage.exists(original_name)
    assert default_storage.exists(processed.web.name) and default_storage.exists(processed.thumbnail.name)
    # and the unprocessed one keeps its original (no copy yet)
    unprocessed.refresh_from_db()
    assert unprocessed.original.name
    assert run(only={"photo_originals"}) == {"photo_originals": 0}


def test_a_photo_whose_served_copy_is_missing_keeps_its_original(world, published) -> None:
    report = file_report(world, photo=True)
    photo = photo_process(photo_id=report.photos.get().pk)
    default_storage.delete(photo.web.name)
    Photo.objects.update(created_at=timezone.now() - timedelta(days=31))
    assert run(only={"photo_originals"}) == {"photo_originals": 0}
    photo.refresh_from_db()
    assert photo.original.name


def test_contribution_photo_originals_go_after_their_period(
    concertation, django_capture_on_commit_callbacks
) -> None:
    contribution = contribute(concertation, photo=True)
    name = contribution.photo_original.name
    assert contribution.photo_original.storage.exists(name)
    assert run(only={"contribution_photo_originals"}) == {"contribution_photo_originals": 0}
    Contribution.objects.update(created_at=timezone.now() - timedelta(days=31))
    with django_capture_on_commit_callbacks(execute=True):
        assert run(only={"contribution_photo_originals"}) == {"contribution_photo_originals": 1}
    contribution.refresh_from_db()
    assert contribution.photo_original.name == "" and contribution.photo_web.name
    assert not Contribution.photo_original.field.storage.exists(name)


# --- contributions ----------------------------------------------------------------------------------


def test_authors_are_anonymised_after_the_bilan_and_its_figures_do_not_change(
    concertation, published
) -> None:
    first = contribute(concertation, email=JEANNE)
    contribute(concertation, email=JEANNE, pseudonym="")
    contribute(concertation, email=OTHER, name="Paul Durand")
    with_reply = first
    urbanisme_services.contribution_reply(
        contribution=with_reply,
        text="D'accord.",
        author=urbanisme_services.AuthorInput(name="Paul Durand", email=OTHER),
    )
    urbanisme_services.bilan_publish(project=concertation.project, actor=concertation.planner)
    before = bilan_compute(concertation.project).contributors
    assert before.emails == 2
    # before the period nothing happens
    assert run(only={"contribution_authors"}) == {"contribution_authors": 0}
    Project.objects.update(bilan_published_at=timezone.now() - timedelta(days=181))
    # when retention runs past the period: 3 contribution authors and 1 reply author
    assert run(only={"contribution_authors"}) == {"contribution_authors": 4}
    # then no name nor real address is left, nobody is notified any more
    for author in ContributionAuthor.objects.all():
        assert author.name == ""
        assert author.email.endswith(f"@{ANONYMOUS_DOMAIN}")
        assert author.notify is False
    # and the bilan still counts two distinct contributors, one per former address
    assert bilan_compute(concertation.project).contributors == before
    assert run(only={"contribution_authors"}) == {"contribution_authors": 0}


# --- outbox, access log, requests -----------------------------------------------------------------------


def test_sent_notifications_are_blanked_after_the_period(published) -> None:
    old_sent, recent_sent, pending = (
        enqueue_email(f"report-confirmation:{n}:{JEANNE}", JEANNE) for n in range(3)
    )
    OutboxMessage.objects.update(topic="report:1")
    long_ago = timezone.now() - timedelta(days=91)
    OutboxMessage.objects.filter(pk=old_sent.pk).update(state="sent", sent_at=long_ago)
    OutboxMessage.objects.filter(pk=recent_sent.pk).update(state="sent", sent_at=timezone.now())
    OutboxMessage.objects.filter(pk=pending.pk).update(created_at=long_ago)
    assert run(only={"outbox"}) == {"outbox": 1}
    old_sent.refresh_from_db()
    assert (old_sent.destination, old_sent.body_text, old_sent.body_html, old_sent.payload) == (
        "",
        "",
        "",
        {},
    )
    assert old_sent.dedupe_key == f"purged:{old_sent.pk}"
    assert old_sent.state == "sent" and old_sent.topic  # still counted, still findable by topic
    recent_sent.refresh_from_db()
    pending.refresh_from_db()
    assert recent_sent.destination and pending.destination
    assert run(only={"outbox"}) == {"outbox": 0}


def test_old_access_log_rows_and_requests_go(world) -> None:
    from geo.access_log import personal_data_accessed

    personal_data_accessed(user=world.agent_west, topic="report:1", fields=["email"], reason="t")
    personal_data_accessed(user=world.agent_west, topic="report:2", fields=["email"], reason="t")
    PersonalDataAccess.objects.filter(topic="report:1").update(at=timezone.now() - timedelta(days=366))
    expired = SubjectRequest.objects.create(
        email=JEANNE, token_hash="a" * 64, expires_at=timezone.now() - timedelta(hours=1)
    )
    live = SubjectRequest.objects.create(
        email=OTHER, token_hash="b" * 64, expires_at=timezone.now() + timedelta(hours=1)
    )
    result = run(only={"access_log", "expired_requests"})
    assert result == {"access_log": 1, "expired_requests": 1}
    assert list(PersonalDataAccess.objects.values_list("topic", flat=True)) == ["report:2"]
    expired.refresh_from_db()
    live.refresh_from_db()
    assert expired.email == "" and live.email == OTHER


# --- the whole run ------------------------------------------------------------------------------------


def test_a_period_set_to_none_turns_its_step_off(world, settings, published) -> None:
    settings.RETENTION_REPORT_CONTACT_DAYS = None
    report = file_report(world)
    close(report, world.agent_west, days_ago=4000)
    results = run()
    assert results["report_contacts"] is None
    assert set(results) == set(retention.STEP_NAMES)
    assert ReportContact.objects.count() == 1


def test_batches_walk_every_row(world, settings, published) -> None:
    settings.RETENTION_BATCH_SIZE = 2
    for n in range(5):
        close(file_report(world, east=-900 + 100 * n), world.agent_west, days_ago=400)
    assert run(only={"report_contacts"}) == {"report_contacts": 5}
    assert not ReportContact.objects.exists()


def test_the_command_and_the_task(world, published) -> None:
    close(file_report(world), world.agent_west, days_ago=400)
    out = StringIO()
    call_command("apply_retention", "--dry-run", stdout=out)
    assert "report_contacts: 1 à traiter" in out.getvalue()
    assert ReportContact.objects.count() == 1
    out = StringIO()
    call_command("apply_retention", "--only", "report_contacts", stdout=out)
    assert out.getvalue().strip() == "report_contacts: 1 traités"
    assert retention_task.name == "privacy.retention"
    assert retention_task()["report_contacts"] == 0


def test_beat_runs_retention_every_night(settings) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["privacy-retention"]
    assert entry["task"] == "privacy.retention"
    assert settings.CELERY_TASK_ROUTES["privacy.retention"] == {"queue": "media"}
