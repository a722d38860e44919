"""The urbanisme API end to end on PostGIS: projects, calendar, contributions, moderation, privacy."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from geo.images import has_metadata
from tests.factories import square
from tests.signalements.world import gps_jpeg
from urbanisme import services
from urbanisme.models import Contribution, ContributionAuthor, Project, ProjectStatus

pytestmark = pytest.mark.django_db

PERSONAL = ("Camille Martin", "camille.martin@example.net")


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def media(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    return tmp_path


def as_user(user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_authenticate(user)
    return client


def no_personal_data(payload: object) -> None:
    text = json.dumps(payload, ensure_ascii=False)
    for fragment in PERSONAL:
        assert fragment not in text, f"personal data {fragment!r} in {text[:300]}"


def contribute(api: APIClient, c, **overrides):  # type: ignore[no-untyped-def]
    body = {
        "kind": "idee",
        "title": "Une fontaine",
        "text": "Une fontaine à boire près de l'arrêt de bus.",
        "geometry": c.point(),
        "pseudonym": "Camille",
        "name": "Camille Martin",
        "email": "camille.martin@example.net",
        **overrides,
    }
    return api.post(f"/api/urbanisme/projets/{c.project.slug}/contributions/", body, format="json")


# --- projects ------------------------------------------------------------------------------------


def test_published_projects_are_listed_with_their_current_phase(api, concertation):
    draft = services.project_create(
        actor=concertation.planner,
        territory=concertation.territory,
        organisation=concertation.organisation,
        title="Projet en préparation",
        perimeter=square(1000, 1000, 1200, 1200),
    )
    data = api.get("/api/urbanisme/projets/").json()
    slugs = [f["id"] for f in data["features"]]
    assert slugs == [concertation.project.slug]
    props = data["features"][0]["properties"]
    assert props["current_phase"]["kind"] == "concertation_prealable"
    assert props["contributions_open"] is True
    assert data["features"][0]["geometry"]["type"] == "MultiPolygon"
    # A draft is a 404 for the public and visible to its team.
    assert api.get(f"/api/urbanisme/projets/{draft.slug}/").status_code == 404
    assert as_user(concertation.planner).get(f"/api/urbanisme/projets/{draft.slug}/").status_code == 200


def test_the_team_creates_a_project_and_outsiders_cannot(concertation):
    body = {
        "territory": concertation.territory.slug,
        "organisation": concertation.organisation.pk,
        "title": "Nouvelle école",
        "perimeter": {
            "type": "Polygon",
            "coordinates": [[[2.35, 48.85], [2.36, 48.85], [2.36, 48.86], [2.35, 48.85]]],
        },
        "themes": ["Mobilité"],
    }
    created = as_user(concertation.planner).post("/api/urbanisme/projets/", body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["properties"]["slug"] == "nouvelle-ecole"
    assert Project.objects.get(slug="nouvelle-ecole").status == ProjectStatus.DRAFT
    refused = as_user(concertation.outsider).post("/api/urbanisme/projets/", body, format="json")
    assert refused.status_code == 403
    assert refused.json()["code"] == "interdit"
    # Publishing without a calendar is refused with a reason.
    published = as_user(concertation.planner).patch(
        "/api/urbanisme/projets/nouvelle-ecole/", {"status": "publie"}, format="json"
    )
    assert published.status_code == 400
    assert "Ajoutez au moins une phase" in published.json()["message"]


def test_the_calendar_is_replaced_whole_and_bad_dates_are_explained(concertation):
    c = concertation
    url = f"/api/urbanisme/projets/{c.project.slug}/phases/"
    phases = APIClient().get(url).json()
    assert phases["timezone"] == "Europe/Paris" and phases["current"] == c.concertation.pk
    body = {
        "phases": [
            {
                "id": c.info.pk,
                "kind": "information",
                "start_date": str(c.info.start_date),
                "end_date": str(c.info.end_date),
            },
            {"kind": "enquete_publique", "start_date": str(c.info.end_date), "end_date": str(c.today)},
        ]
    }
    response = as_user(c.planner).put(url, body, format="json")
    assert response.status_code == 400
    assert "ne doivent pas se chevaucher" in response.json()["message"]
    assert as_user(c.outsider).put(url, body, format="json").status_code == 403
    assert APIClient().put(url, body, format="json").status_code in (401, 403)


def test_documents_are_checked_by_content(concertation, media):
    c = concertation
    client = as_user(c.planner)
    url = f"/api/urbanisme/projets/{c.project.slug}/documents/"
    pdf = SimpleUploadedFile(
        "dossier.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", content_type="application/pdf"
    )
    ok = client.post(url, {"title": "Dossier de concertation", "file": pdf}, format="multipart")
    assert ok.status_code == 201 and ok.json()["kind"] == "pdf"
    fake = SimpleUploadedFile("plan.pdf", b"MZ\x90\x00 not a pdf", content_type="application/pdf")
    refused = client.post(url, {"title": "Plan", "file": fake}, format="multipart")
    assert refused.status_code == 422 and "PDF, JPEG, PNG ou WebP" in refused.json()["message"]
    photo = SimpleUploadedFile("vue.jpg", gps_jpeg(2.35, 48.85), content_type="image/jpeg")
    image = client.post(url, {"title": "Vue du site", "file": photo}, format="multipart")
    assert image.status_code == 201 and image.json()["kind"] == "image"
    stored = (media / "media" / image.json()["url"].removeprefix("/media/")).read_bytes()
    assert not has_metadata(stored)


# --- contributions -------------------------------------------------------------------------------


def test_a_citizen_contributes_and_the_public_sees_no_personal_data(api, concertation):
    response = contribute(api, concertation)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["properties"]["author"] == "Camille"
    assert body["properties"]["message"] == "Merci ! Votre contribution est publiée."
    no_personal_data(body)
    author = ContributionAuthor.objects.get(contribution_id=body["id"])
    assert author.email == "camille.martin@example.net"
    listing = api.get(f"/api/urbanisme/projets/{concertation.project.slug}/contributions/").json()
    assert listing["count"] == 1
    no_personal_data(listing)
    detail = api.get(f"/api/urbanisme/projets/{concertation.project.slug}/contributions/{body['id']}/").json()
    no_personal_data(detail)


@pytest.mark.parametrize(
    ("overrides", "status", "code", "fragment"),
    [
        ({"geometry": {"type": "Point", "coordinates": [2.5, 48.9]}}, 422, "hors_perimetre", "périmètre"),
        (
            {"geometry": {"type": "Point", "coordinates": [999, 48.9]}},
            422,
            "geometrie_invalide",
            "hors limites",
        ),
        ({"geometry": "{oops"}, 400, "donnees_invalides", "Géométrie GeoJSON attendue"),
        ({"kind": "colere"}, 400, "donnees_invalides", ""),
        ({"title": ""}, 400, "donnees_invalides", ""),
        ({"text": "x" * 5001}, 400, "donnees_invalides", ""),
    ],
)
def test_bad_contributions_get_a_clear_error_and_nothing_is_stored(
    api, concertation, overrides, status, code, fragment
):
    response = contribute(api, concertation, **overrides)
    assert response.status_code == status, response.json()
    assert response.json()["code"] == code
    assert fragment in response.json()["message"]
    assert not Contribution.objects.exists()


def test_a_self_intersecting_polygon_is_refused_with_a_french_message(api, concertation):
    c = concertation
    response = contribute(api, c, geometry=c.polygon((100, 100), (200, 200), (200, 100), (100, 200)))
    assert response.status_code == 422
    assert "se recoupe lui-même" in response.json()["message"]


def test_contributions_outside_an_open_phase_are_409(api, concertation):
    c = concertation
    services.phases_replace(
        project=c.project,
        actor=c.planner,
        phases=[
            services.PhaseInput(kind="information", start_date=c.today, end_date=c.today + timedelta(days=3))
        ],
    )
    response = contribute(api, c)
    assert response.status_code == 409
    assert response.json()["code"] == "phase_fermee"


def test_a_multipart_contribution_with_a_photo_serves_it_without_exif(api, concertation, media):
    c = concertation
    photo = SimpleUploadedFile("IMG_Camille_Martin.jpg", gps_jpeg(2.3525, 48.857), content_type="image/jpeg")
    body = {
        "kind": "inquietude",
        "title": "Carrefour dangereux",
        "text": "Les voitures passent vite.",
        "geometry": json.dumps(c.point()),
        "photo": photo,
    }
    response = api.post(f"/api/urbanisme/projets/{c.project.slug}/contributions/", body, format="multipart")
    assert response.status_code == 201, response.json()
    url = response.json()["properties"]["photo"]
    assert "Camille" not in url
    served = (media / "media" / url.removeprefix("/media/")).read_bytes()
    assert not has_metadata(served)


def test_pre_moderation_holds_the_contribution_and_hiding_shows_only_the_reason(api, concertation):
    c = concertation
    services.project_update(project=c.project, actor=c.planner, moderation="a_priori")
    created = contribute(api, c).json()
    assert "après relecture" in created["properties"]["message"]
    listing_url = f"/api/urbanisme/projets/{c.project.slug}/contributions/"
    assert api.get(listing_url).json()["count"] == 0
    moderate = f"{listing_url}{created['id']}/moderation/"
    assert as_user(c.outsider).post(moderate, {"action": "publish"}, format="json").status_code == 403
    assert as_user(c.moderator).post(moderate, {"action": "publish"}, format="json").status_code == 200
    assert api.get(listing_url).json()["count"] == 1
    hidden = as_user(c.moderator).post(
        moderate, {"action": "hide", "reason": "propos injurieux"}, format="json"
    )
    assert hidden.status_code == 200
    [feature] = api.get(listing_url).json()["features"]
    assert feature["geometry"] is None
    assert feature["properties"] == {
        "id": created["id"],
        "phase": c.concertation.pk,
        "created_at": feature["properties"]["created_at"],
        "hidden": True,
        "hidden_reason": "Masqué par la modération : propos injurieux",
    }


def test_the_moderation_queue_is_for_the_team_and_shows_the_author_to_them_only(api, concertation):
    c = concertation
    contribute(api, c)
    url = f"/api/urbanisme/projets/{c.project.slug}/moderation/"
    assert api.get(url).status_code in (401, 403)
    assert as_user(c.outsider).get(url).status_code == 404
    queue = as_user(c.moderator).get(url).json()
    assert queue["features"][0]["properties"]["author_contact"]["email"] == "camille.martin@example.net"


def test_replies_supports_and_official_answers(api, concertation):
    c = concertation
    created = contribute(api, c).json()
    base = f"/api/urbanisme/projets/{c.project.slug}/contributions/{created['id']}/"
    reply = api.post(f"{base}reponses/", {"text": "Oui, et ombragée !", "pseudonym": "Léo"}, format="json")
    assert reply.status_code == 201 and reply.json()["is_official"] is False
    # A citizen cannot post an official answer.
    assert (
        api.post(f"{base}reponses/", {"text": "Officiel ?", "official": True}, format="json").status_code
        == 403
    )
    official = as_user(c.planner).post(
        f"{base}reponses/", {"text": "Retenu : une fontaine sera installée.", "official": True}, format="json"
    )
    assert official.status_code == 201 and official.json()["is_official"] is True
    first = api.post(f"{base}soutien/", {"email": "a@example.org"}, format="json").json()
    again = api.post(f"{base}soutien/", {"email": "a@example.org"}, format="json").json()
    assert (first["new"], again["new"], again["supports_count"]) == (True, False, 1)
    detail = api.get(base).json()["properties"]
    assert detail["is_answered"] is True
    assert [r["author"] for r in detail["replies"]] == ["Léo", "Mission participation"]
    answered = api.get(f"/api/urbanisme/projets/{c.project.slug}/contributions/?answered=true").json()
    assert answered["count"] == 1


def test_on_behalf_entry_through_the_api(concertation):
    c = concertation
    client = as_user(c.planner)
    response = contribute(
        client, c, channel="reunion", channel_label="réunion publique du 12 mars", name="", email=""
    )
    assert response.status_code == 201, response.json()
    assert response.json()["properties"]["channel_label"] == "réunion publique du 12 mars"
    assert contribute(APIClient(), c, channel="registre", channel_label="registre").status_code == 403


def test_follow_then_confirm_then_unfollow(api, concertation):
    from geo.models import OutboxMessage

    c = concertation
    response = api.post(
        f"/api/urbanisme/projets/{c.project.slug}/suivre/", {"email": "voisin@example.org"}, format="json"
    )
    assert response.status_code == 202
    body = OutboxMessage.objects.get(destination="voisin@example.org").body_text
    token = body.split("/projets/abonnement/")[1].split("/")[0]
    assert api.post(f"/api/urbanisme/abonnement/{token}/confirmer/").json()["confirmed"] is True
    assert api.post("/api/urbanisme/desabonnement/faux/").status_code == 404


def test_listing_contributions_costs_a_fixed_number_of_queries(api, concertation):
    c = concertation
    for n in range(3):
        services.contribution_create(
            project=c.project, kind="idee", title=f"Idée {n}", text="…", geometry=c.point(100 + n, 100)
        )
    url = f"/api/urbanisme/projets/{c.project.slug}/contributions/"
    api.get(url)
    with CaptureQueriesContext(connection) as few:
        api.get(url)
    for n in range(20):
        services.contribution_create(
            project=c.project, kind="question", title=f"Q {n}", text="…", geometry=c.point(200, 100 + n)
        )
    with CaptureQueriesContext(connection) as many:
        assert api.get(url).json()["count"] == 23
    assert len(many) == len(few) <= 6


def test_unknown_project_and_contribution_are_404_in_french(api, concertation):
    assert api.get("/api/urbanisme/projets/inconnu/").json()["message"] == "Projet introuvable."
    assert (
        api.get(f"/api/urbanisme/projets/{concertation.project.slug}/contributions/999/").status_code == 404
    )
