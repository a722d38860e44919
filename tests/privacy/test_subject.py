"""Rights of access and erasure (privacy/subject.py): everything tied to an address, then nothing."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.forms.models import model_to_dict
from rest_framework.test import APIClient

from geo.models import OutboxMessage
from privacy.anonymise import ANONYMOUS_DOMAIN
from privacy.subject import erasable, subject_erase, subject_export, subject_summary
from signalements.models import Follower, Photo, Report, ReportContact, Support
from signalements.services import report_support, support_fingerprint
from tests.privacy.helpers import JEANNE, JEANNE_NAME, JEANNE_PHONE, OTHER, contribute, file_report
from urbanisme import services as urbanisme_services
from urbanisme.bilan import bilan_compute
from urbanisme.models import Contribution, ContributionAuthor, ContributionSupport, ProjectFollower, Reply

pytestmark = pytest.mark.django_db


@pytest.fixture
def traces(world, concertation, published):  # type: ignore[no-untyped-def]
    """Jeanne's traces everywhere, and Paul's beside them."""
    mine = file_report(world, photo=True)
    theirs = file_report(world, email=OTHER, name="Paul Durand", phone="", east=-300)
    report_support(report=theirs, fingerprint=support_fingerprint(email=JEANNE), email=JEANNE.upper())
    contribution = contribute(concertation)
    other_contribution = contribute(concertation, email=OTHER, name="Paul Durand", pseudonym="Paul")
    urbanisme_services.contribution_reply(
        contribution=other_contribution,
        text="Bonne idée.",
        pseudonym="Jeanne",
        author=urbanisme_services.AuthorInput(name=JEANNE_NAME, email=JEANNE),
    )
    urbanisme_services.contribution_support(contribution=other_contribution, email=JEANNE)
    urbanisme_services.project_follow(project=concertation.project, email=JEANNE)
    return {"mine": mine, "theirs": theirs, "contribution": contribution, "other": other_contribution}


def test_the_export_holds_everything_tied_to_the_address(traces) -> None:
    # when Jeanne asks, whatever the case of her address
    export = subject_export("  Jeanne.Martin@Example.NET ")
    # then her report with its contact, the one she supports and follows, her contribution, her reply,
    # her support, the project she follows and her notifications
    assert [r["reference"] for r in export["reports"]] == [traces["mine"].reference]
    report = export["reports"][0]
    assert report["contact"] == {
        "name": JEANNE_NAME,
        "email": JEANNE,
        "phone": JEANNE_PHONE,
        "consent_to_contact": True,
        "confirmed_at": None,
    }
    assert (report["category"], report["status"], report["photos"]) == ("Voirie › Nid de poule", "nouveau", 1)
    assert {f["reference"] for f in export["followed_reports"]} == {
        traces["mine"].reference,
        traces["theirs"].reference,
    }
    assert export["report_supports"] == [traces["theirs"].reference]
    assert [c["id"] for c in export["contributions"]] == [traces["contribution"].pk]
    assert export["contributions"][0]["author"]["name"] == JEANNE_NAME
    assert [r["contribution"] for r in export["replies"]] == [traces["other"].pk]
    assert export["contribution_supports"] == [
        {"project": "place-du-marche", "contribution": traces["other"].pk}
    ]
    assert [p["project"] for p in export["followed_projects"]] == ["place-du-marche"]
    assert export["notifications"]["pending"] >= 2  # the report's confirmation, the follow confirmation
    assert all("Jeanne" not in m["subject"] for m in export["notifications"]["messages"])
    assert any("empreinte" in note for note in export["notes"])
    # and nothing of Paul's
    text = json.dumps(export, ensure_ascii=False)
    assert OTHER not in text and "Paul Durand" not in text
    assert subject_summary(export) == {
        "reports": 1,
        "followed_reports": 2,
        "report_supports": 1,
        "contributions": 1,
        "replies": 1,
        "contribution_supports": 1,
        "followed_projects": 1,
        "notifications": export["notifications"]["pending"],
    }


def test_an_unknown_address_has_an_empty_export(traces) -> None:
    export = subject_export("personne@example.com")
    assert not any(subject_summary(export).values())
    assert not erasable("personne@example.com")
    assert erasable(JEANNE)


def test_erasure_removes_every_link_to_the_person_and_keeps_the_public_records(
    traces, concertation, django_capture_on_commit_callbacks
) -> None:
    photo = traces["mine"].photos.get()
    original = photo.original.name
    bilan_before = bilan_compute(concertation.project).contributors
    supports_before = (Support.objects.count(), ContributionSupport.objects.count())
    # when Jeanne's data is erased
    with django_capture_on_commit_callbacks(execute=True):
        counts = subject_erase(JEANNE.upper())
    # then her contact, follows, pending mails and photo originals are gone
    assert counts["report_contacts"] == 1
    assert counts["report_followers"] == 2
    assert counts["report_supports"] == 1
    assert counts["contribution_authors"] == 2
    assert counts["contribution_supports"] == 1
    assert counts["project_followers"] == 1
    assert counts["pseudonyms"] == 2
    assert counts["report_photo_originals"] == 1
    assert counts["notifications_deleted"] >= 2
    assert not ReportContact.objects.filter(report=traces["mine"]).exists()
    assert not Follower.objects.filter(email__iexact=JEANNE).exists()
    assert not ProjectFollower.objects.exists()
    assert not Photo.objects.filter(original=original).exists()
    assert not Photo.original.field.storage.exists(original)
    assert not OutboxMessage.objects.filter(destination__iexact=JEANNE).exists()
    # her reports and contributions stay, anonymous; supports still count, tied to nobody
    assert Report.objects.filter(pk=traces["mine"].pk).exists()
    contribution = Contribution.objects.get(pk=traces["contribution"].pk)
    assert contribution.pseudonym == "" and contribution.text
    assert Reply.objects.get(contribution=traces["other"]).pseudonym == ""
    assert (Support.objects.count(), ContributionSupport.objects.count()) == supports_before
    assert not Support.objects.filter(fingerprint=support_fingerprint(email=JEANNE)).exists()
    for author in ContributionAuthor.objects.filter(email__endswith=f"@{ANONYMOUS_DOMAIN}"):
        assert (author.name, author.notify) == ("", False)
    # the bilan's figures do not move
    assert bilan_compute(concertation.project).contributors == bilan_before
    # nothing is left to export, and Paul's data is untouched
    assert not any(subject_summary(subject_export(JEANNE)).values())
    assert subject_summary(subject_export(OTHER))["reports"] == 1
    assert ContributionAuthor.objects.filter(email=OTHER, name="Paul Durand").exists()
    # a second erasure finds nothing
    again = subject_erase(JEANNE)
    assert sum(again.values()) == 0


def test_sent_notifications_stay_as_anonymous_rows(traces) -> None:
    message = OutboxMessage.objects.filter(destination=JEANNE).first()
    OutboxMessage.objects.filter(pk=message.pk).update(state="sent")
    counts = subject_erase(JEANNE)
    assert counts["notifications_blanked"] == 1
    message.refresh_from_db()
    assert (message.destination, message.body_text, message.dedupe_key) == ("", "", f"erased:{message.pk}")
    assert message.state == "sent"


def test_moderation_history_keeps_no_erased_personal_data(traces, concertation) -> None:
    # given Jeanne's contribution hidden by the moderation, with a public reason
    hidden = urbanisme_services.contribution_moderate(
        contribution=traces["contribution"], actor=concertation.moderator, action="hide", reason="Hors sujet"
    )
    # when her data is erased
    subject_erase(JEANNE)
    # then the moderation record keeps its decision, its reason and its moderator, and nothing of hers
    hidden.refresh_from_db()
    assert (hidden.visibility, hidden.hidden_reason, hidden.moderated_by_id) == (
        "masquee",
        "Hors sujet",
        concertation.moderator.pk,
    )
    record = json.dumps(model_to_dict(hidden, exclude=["geom", "photo_web", "photo_original"]), default=str)
    for value in (JEANNE, JEANNE_NAME, "Jeanne M."):
        assert value not in record
    author = ContributionAuthor.objects.get(contribution=hidden)
    assert author.name == "" and author.email.endswith(f"@{ANONYMOUS_DOMAIN}")
    # and the team's moderation queue shows no name nor address for it any more
    client = APIClient()
    client.force_authenticate(concertation.moderator)
    queue = client.get(f"/api/urbanisme/projets/{concertation.project.slug}/moderation/").json()
    text = json.dumps(queue, ensure_ascii=False)
    assert JEANNE not in text and JEANNE_NAME not in text
    shown = next(f for f in queue["features"] if f["id"] == hidden.pk)
    assert shown["properties"]["author_contact"]["name"] == ""


def test_the_commands_export_and_erase(traces) -> None:
    out = StringIO()
    call_command("personal_data_export", "--email", JEANNE, stdout=out)
    assert json.loads(out.getvalue())["reports"][0]["reference"] == traces["mine"].reference
    out = StringIO()
    call_command("personal_data_erase", "--email", JEANNE, "--yes", stdout=out)
    assert "report_contacts: 1" in out.getvalue()
    assert not ReportContact.objects.filter(email=JEANNE).exists()
    with pytest.raises(CommandError):
        call_command("personal_data_export", "--email", "pas-une-adresse")


@pytest.mark.parametrize("model", [Report, Contribution, Reply])
def test_public_records_hold_no_contact_field(model) -> None:
    # personal data lives in its own tables (ReportContact, ContributionAuthor, followers), never here
    names = {f.name for f in model._meta.concrete_fields}
    assert not names & {"name", "email", "phone", "contact_name", "contact_email", "contact_phone"}
