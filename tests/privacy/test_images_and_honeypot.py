"""Every served image is free of metadata (privacy/images.py), and the honeypot (geo/honeypot.py)
turns robots away from the public filing endpoints."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.http import QueryDict
from rest_framework.test import APIClient

from geo.honeypot import honeypot_tripped
from privacy.images import served_images_audit
from privacy.tasks import served_images_audit_task
from signalements.models import Photo, Report
from signalements.photos import photo_process
from tests.privacy.helpers import contribute, file_report
from tests.signalements.world import at, gps_jpeg
from urbanisme import services as urbanisme_services
from urbanisme.models import Contribution

pytestmark = pytest.mark.django_db


# --- served images ----------------------------------------------------------------------------------


@pytest.fixture
def served(world, concertation, published):  # type: ignore[no-untyped-def]
    """One of each served image, made from phone photos carrying GPS, camera and date."""
    report = file_report(world, photo=True)
    photo = photo_process(photo_id=report.photos.get().pk)
    contribution = contribute(concertation, photo=True)
    lon, lat = at(0, 0)
    urbanisme_services.document_add(
        project=concertation.project,
        actor=concertation.planner,
        title="Plan de la place",
        upload=SimpleUploadedFile("plan.jpg", gps_jpeg(lon, lat), "image/jpeg"),
    )
    urbanisme_services.project_set_cover(
        project=concertation.project,
        actor=concertation.planner,
        upload=SimpleUploadedFile("cover.jpg", gps_jpeg(lon, lat), "image/jpeg"),
    )
    return {"photo": photo, "contribution": contribution}


def test_every_served_image_is_free_of_metadata(served) -> None:
    checked, findings = served_images_audit()
    # the report photo's web copy and thumbnail, the contribution's photo, the document, the cover
    assert checked == 5
    assert findings == []
    # while the private originals still hold their GPS position (they are never served)
    from geo.images import has_metadata

    with served["photo"].original.open("rb") as original:
        assert has_metadata(original.read())


def test_an_image_with_metadata_is_found_by_the_audit_the_task_and_the_command(served) -> None:
    # given a served file replaced by a phone photo with its EXIF (a bug or a hand-made copy)
    photo: Photo = served["photo"]
    with default_storage.open(photo.thumbnail.name, "wb") as handle:
        handle.write(gps_jpeg(2.35, 48.85))
    _checked, findings = served_images_audit()
    assert [(f.model, f.pk, f.field, f.problem) for f in findings] == [
        ("signalements.Photo", photo.pk, "thumbnail", "metadata")
    ]
    assert served_images_audit_task() == 1
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("audit_served_images", stdout=out)
    assert f"metadata: signalements.Photo #{photo.pk} thumbnail" in out.getvalue()


def test_a_missing_served_file_is_reported_as_unreadable(served) -> None:
    contribution: Contribution = served["contribution"]
    default_storage.delete(contribution.photo_web.name)
    _checked, findings = served_images_audit()
    assert [(f.model, f.problem) for f in findings] == [("urbanisme.Contribution", "unreadable")]
    out = StringIO()
    call_command("audit_served_images", "--since-days", "1", stdout=out)  # no metadata: no error
    assert "5 image(s) vérifiée(s), 1 problème(s)." in out.getvalue()


# --- honeypot -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "tripped"),
    [
        ({}, False),
        ({"site_web": ""}, False),
        ({"site_web": "   "}, False),
        ({"site_web": None}, False),
        ({"site_web": "http://spam.example"}, True),
        ({"site_web": 1}, True),
        ({"site_web": ["", "x"]}, True),
        (QueryDict("site_web="), False),
        (QueryDict("site_web=bonjour"), True),
        ([{"site_web": "x"}], False),
        (None, False),
    ],
)
def test_honeypot_tripped(data, tripped) -> None:
    assert honeypot_tripped(data) is tripped


def test_filing_a_report_with_the_honeypot_filled_is_refused_with_a_neutral_400(world, published) -> None:
    lon, lat = at(-500, 100)
    body = {"lon": lon, "lat": lat, "category": "nid-de-poule", "description": "Trou"}
    api = APIClient()
    refused = api.post("/api/signalements/", {**body, "site_web": "http://spam.example"}, format="json")
    assert refused.status_code == 400
    assert refused.json()["code"] == "envoi_refuse"
    assert "Votre envoi n'a pas pu être accepté" in refused.json()["message"]
    assert not Report.objects.exists()
    # multipart too (a page's form)
    assert api.post("/api/signalements/", {**body, "site_web": "x"}, format="multipart").status_code == 400
    # an empty trap is no trap
    assert api.post("/api/signalements/", {**body, "site_web": ""}, format="json").status_code == 201


def test_a_contribution_with_the_honeypot_filled_is_refused(concertation) -> None:
    url = f"/api/urbanisme/projets/{concertation.project.slug}/contributions/"
    body = {
        "kind": "idee",
        "title": "Un banc",
        "text": "Un banc à l'ombre.",
        "geometry": concertation.point(),
    }
    api = APIClient()
    refused = api.post(url, {**body, "site_web": "http://spam.example"}, format="json")
    assert refused.status_code == 400
    assert refused.json()["code"] == "envoi_refuse"
    assert not Contribution.objects.exists()
    assert api.post(url, body, format="json").status_code == 201
