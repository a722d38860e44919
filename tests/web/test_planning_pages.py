"""The planners' back office through Django's test client: who may open each page (enforced by the
server), project creation with a perimeter from GeoJSON or a file, the calendar editor and its
refusals, documents, layers, moderation, on-behalf entry and the bilan."""

from __future__ import annotations

import json
import re
import subprocess
import zipfile
from datetime import timedelta
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from geo.models import PersonalDataAccess
from tests.factories import PARIS_LAT, PARIS_LON, offset
from tests.urbanisme.test_layers import lambert, lambert_geojson
from tests.urbanisme.test_rasters import geotiff
from tests.urbanisme.world import Concertation
from tests.urbanisme.world import concertation as concertation  # the fixture
from urbanisme import services
from urbanisme.models import (
    Contribution,
    ContributionChannel,
    Document,
    Layer,
    LayerKind,
    Phase,
    PhaseKind,
    Project,
    ProjectStatus,
    RasterStatus,
    Reply,
    Visibility,
)

pytestmark = pytest.mark.django_db

MINIMAL_PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def url(name: str, *args: Any) -> str:
    return reverse(f"web:{name}", args=args)


def square_geojson(west_m: float, south_m: float, east_m: float, north_m: float) -> dict[str, Any]:
    corners = [(west_m, south_m), (east_m, south_m), (east_m, north_m), (west_m, north_m), (west_m, south_m)]
    return {
        "type": "Polygon",
        "coordinates": [[list(offset(PARIS_LON, PARIS_LAT, e, n)) for e, n in corners]],
    }


def contribute(c: Concertation, title: str = "Une fontaine", **extra: Any) -> Contribution:
    extra.setdefault(
        "author", services.AuthorInput(name="Camille Martin", email="camille.martin@example.net")
    )
    return services.contribution_create(
        project=c.project,
        kind="idee",
        title=title,
        text="Une fontaine à boire près de l'arrêt de bus.",
        geometry=c.point(),
        pseudonym="Camille",
        **extra,
    )


@pytest.fixture
def citizen(db):  # type: ignore[no-untyped-def]
    return get_user_model().objects.create_user("habitant", password="x")


def as_(client: Client, user: Any) -> Client:
    client.logout()
    if user is not None:
        client.force_login(user)
    return client


# --- access: every view x anonymous / citizen / outsider / moderator / planner ----------------------

MANAGE = {"anonymous": 302, "citizen": 403, "outsider": 404, "moderator": 403, "planner": 200}
MODERATE = {"anonymous": 302, "citizen": 403, "outsider": 404, "moderator": 200, "planner": 200}
PAGES = [
    (
        "planning-projects",
        False,
        {"anonymous": 302, "citizen": 403, "outsider": 200, "moderator": 200, "planner": 200},
    ),
    (
        "planning-project-new",
        False,
        {"anonymous": 302, "citizen": 403, "outsider": 200, "moderator": 403, "planner": 200},
    ),
    ("planning-project", True, MANAGE),
    ("planning-calendar", True, MANAGE),
    ("planning-layers", True, MANAGE),
    ("planning-layers-status", True, MANAGE),
    ("planning-moderation", True, MODERATE),
    ("planning-entry", True, MODERATE),
    ("planning-bilan", True, MANAGE),
    ("planning-bilan-publish", True, MANAGE),
]


@pytest.mark.parametrize(("name", "with_slug", "expected"), PAGES, ids=[p[0] for p in PAGES])
def test_who_may_open_each_page(client, concertation: Concertation, citizen, name, with_slug, expected):
    c = concertation
    users = {
        "anonymous": None,
        "citizen": citizen,
        "outsider": c.outsider,
        "moderator": c.moderator,
        "planner": c.planner,
    }
    target = url(name, c.project.slug) if with_slug else url(name)
    for role, user in users.items():
        answer = as_(client, user).get(target)
        assert answer.status_code == expected[role], f"{role} on {target}: {answer.status_code}"
        if expected[role] == 302:
            assert answer["Location"].startswith(reverse("web:login") + "?next=")


def test_writes_are_refused_by_the_server_for_each_role(client, concertation: Concertation, citizen):
    c = concertation
    contribution = contribute(c)
    posts = [
        (url("planning-project-action", c.project.slug, "informations"), {"title": "Piraté"}, MANAGE),
        (url("planning-project-action", c.project.slug, "statut"), {"status": "archive"}, MANAGE),
        (url("planning-calendar", c.project.slug), {"phases-TOTAL": "0"}, MANAGE),
        (url("planning-layers-action", c.project.slug, "annotation"), {"title": "x"}, MANAGE),
        (url("planning-bilan-publish", c.project.slug), {"confirm": "oui"}, MANAGE),
        (
            url("planning-moderation-action", c.project.slug, contribution.pk, "masquer"),
            {"reason": "Hors sujet"},
            MODERATE,
        ),
        (url("planning-entry", c.project.slug), {"channel": "reunion"}, MODERATE),
    ]
    users = {"anonymous": None, "citizen": citizen, "outsider": c.outsider, "moderator": c.moderator}
    for target, data, expected in posts:
        for role, user in users.items():
            if expected[role] == 200:
                continue  # allowed (moderators moderate and enter contributions): tested below
            answer = as_(client, user).post(target, data)
            assert answer.status_code == expected[role], (role, target, answer.status_code)
    c.project.refresh_from_db()
    assert c.project.title == "Réaménagement de la place du Marché"
    assert c.project.status == ProjectStatus.PUBLISHED
    assert c.project.bilan_published_at is None
    assert c.project.phases.count() == 3
    contribution.refresh_from_db()
    assert contribution.visibility == Visibility.PUBLISHED
    assert not Contribution.objects.filter(channel=ContributionChannel.REUNION).exists()


def test_every_form_needs_its_csrf_token(concertation: Concertation):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(concertation.planner)
    answer = strict.post(
        url("planning-project-action", concertation.project.slug, "informations"), {"title": "X"}
    )
    assert answer.status_code == 403
    page = strict.get(url("planning-project", concertation.project.slug)).content.decode()
    forms = re.findall(r"<form[^>]*method=\"post\"[^>]*>(.*?)</form>", page, flags=re.S)
    assert len(forms) >= 6
    assert all("csrfmiddlewaretoken" in form for form in forms)


def test_the_navigation_offers_my_projects_to_the_team_only(client, concertation: Concertation, citizen):
    assert "Mes projets" in as_(client, concertation.planner).get(reverse("web:home")).content.decode()
    assert "Mes projets" in as_(client, concertation.moderator).get(reverse("web:home")).content.decode()
    assert "Mes projets" not in as_(client, citizen).get(reverse("web:home")).content.decode()


def test_my_projects_lists_the_organisations_projects_with_what_waits(client, concertation: Concertation):
    c = concertation
    services.project_update(project=c.project, actor=c.planner, moderation="a_priori")
    contribute(c)
    page = as_(client, c.moderator).get(url("planning-projects")).content.decode()
    assert c.project.title in page
    assert "1 en attente" in page
    assert "Créer un projet" not in page  # moderators do not create projects
    assert c.project.title not in as_(client, c.outsider).get(url("planning-projects")).content.decode()


# --- create a project ------------------------------------------------------------------------------


def new_project(c: Concertation, **overrides: Any) -> dict[str, Any]:
    return {
        "organisation": str(c.organisation.pk),
        "territory": str(c.territory.pk),
        "title": "Parc des Rives",
        "summary": "Un parc le long de l'eau.",
        "description": "",
        "moderation": "a_priori",
        "contribution_margin_m": "150",
        "themes": "Nature\nJeux\n",
        "contact_name": "Mission parc",
        "contact_email": "parc@ville-de-test.fr",
        **overrides,
    }


def test_a_planner_creates_a_project_with_a_pasted_geojson_perimeter(client, concertation: Concertation):
    c = concertation
    perimeter = square_geojson(1000, 1000, 1300, 1200)
    answer = as_(client, c.planner).post(
        url("planning-project-new"), new_project(c, perimeter_geojson=json.dumps(perimeter))
    )
    project = Project.objects.get(title="Parc des Rives")
    assert answer.status_code == 302 and answer["Location"] == url("planning-calendar", project.slug)
    assert project.status == ProjectStatus.DRAFT
    assert project.organisation == c.organisation
    assert project.moderation == "a_priori" and project.contribution_margin_m == 150
    assert [t.name for t in project.themes.all()] == ["Nature", "Jeux"]
    west, south = offset(PARIS_LON, PARIS_LAT, 1000, 1000)
    assert project.perimeter.geom_type == "MultiPolygon" and project.perimeter.srid == 4326
    assert abs(project.perimeter.extent[0] - west) < 1e-6 and abs(project.perimeter.extent[1] - south) < 1e-6
    followed = client.get(answer["Location"]).content.decode()
    assert "créé en brouillon" in followed


def test_a_perimeter_file_in_lambert93_is_read_with_the_importers(client, concertation: Concertation):
    c = concertation
    ring = [
        lambert(1000, 1000),
        lambert(1300, 1000),
        lambert(1300, 1200),
        lambert(1000, 1200),
        lambert(1000, 1000),
    ]
    content = lambert_geojson(
        [{"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [ring]}}]
    )
    upload = SimpleUploadedFile("perimetre.geojson", content, content_type="application/geo+json")
    answer = as_(client, c.planner).post(
        url("planning-project-new"), {**new_project(c), "perimeter_file": upload}
    )
    assert answer.status_code == 302
    project = Project.objects.get(title="Parc des Rives")
    west, south = offset(PARIS_LON, PARIS_LAT, 1000, 1000)
    assert abs(project.perimeter.extent[0] - west) < 1e-5 and abs(project.perimeter.extent[1] - south) < 1e-5


def test_a_zipped_shapefile_perimeter_without_crs_takes_the_given_epsg(
    client, concertation: Concertation, tmp_path: Path
):
    c = concertation
    ring = [lambert(0, 0), lambert(200, 0), lambert(200, 100), lambert(0, 0)]
    source = tmp_path / "zone.geojson"
    source.write_bytes(
        lambert_geojson(
            [
                {
                    "type": "Feature",
                    "properties": {"nom": "zone"},
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                }
            ]
        )
    )
    subprocess.run(["ogr2ogr", "-f", "ESRI Shapefile", str(tmp_path / "zone.shp"), str(source)], check=True)
    (tmp_path / "zone.prj").unlink()  # a Shapefile without its .prj: the CRS must be given
    archive = BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        for part in ("shp", "shx", "dbf"):
            zf.write(tmp_path / f"zone.{part}", f"zone.{part}")
    client = as_(client, c.planner)
    refused = client.post(
        url("planning-project-new"),
        {**new_project(c), "perimeter_file": SimpleUploadedFile("zone.zip", archive.getvalue())},
    )
    assert refused.status_code == 400
    assert 'href="#new-perimeter"' in refused.content.decode()
    answer = client.post(
        url("planning-project-new"),
        {
            **new_project(c),
            "perimeter_srid": "2154",
            "perimeter_file": SimpleUploadedFile("zone.zip", archive.getvalue()),
        },
    )
    assert answer.status_code == 302
    project = Project.objects.get(title="Parc des Rives")
    assert abs(project.perimeter.extent[0] - PARIS_LON) < 1e-5


def test_creation_without_perimeter_or_title_lists_the_errors_linked_to_their_fields(
    client, concertation: Concertation
):
    answer = as_(client, concertation.planner).post(
        url("planning-project-new"), new_project(concertation, title="")
    )
    page = answer.content.decode()
    assert answer.status_code == 400
    assert 'class="error-summary"' in page
    assert 'href="#new-perimeter"' in page and "Indiquez le périmètre" in page
    assert not Project.objects.filter(summary="Un parc le long de l'eau.").exists()
    # a perimeter, but no title: the service's error, on the title field
    answer = as_(client, concertation.planner).post(
        url("planning-project-new"),
        new_project(concertation, title="", perimeter_geojson=json.dumps(square_geojson(0, 0, 100, 100))),
    )
    page = answer.content.decode()
    assert 'href="#new-title"' in page and 'id="new-title"' in page and 'aria-invalid="true"' in page
    assert "perimeter_geojson" in page and "coordinates" in page  # the pasted perimeter is kept


def test_the_outsider_creates_only_for_their_own_organisation(client, concertation: Concertation):
    c = concertation
    answer = as_(client, c.outsider).post(
        url("planning-project-new"),
        new_project(c, perimeter_geojson=json.dumps(square_geojson(0, 0, 100, 100))),
    )
    assert answer.status_code == 400  # Ville de Test is not among their organisations
    assert not Project.objects.filter(title="Parc des Rives").exists()


# --- edit a project --------------------------------------------------------------------------------


def test_the_planner_edits_fields_status_themes_and_perimeter(client, concertation: Concertation):
    c = concertation
    client = as_(client, c.planner)
    answer = client.post(
        url("planning-project-action", c.project.slug, "informations"),
        {
            "title": "Place du Marché, nouvelle version",
            "summary": "Résumé",
            "description": "Texte",
            "contact_name": "Équipe",
            "contact_email": "equipe@ville-de-test.fr",
            "moderation": "a_priori",
            "contribution_margin_m": "300",
        },
    )
    assert answer.status_code == 302
    c.project.refresh_from_db()
    assert c.project.title == "Place du Marché, nouvelle version" and c.project.contribution_margin_m == 300
    refused = client.post(
        url("planning-project-action", c.project.slug, "informations"),
        {"title": "", "moderation": "a_priori", "contribution_margin_m": "9000"},
    )
    assert refused.status_code == 400
    assert 'href="#informations-title"' in refused.content.decode()

    assert (
        client.post(
            url("planning-project-action", c.project.slug, "themes"), {"name": "Sécurité"}
        ).status_code
        == 302
    )
    assert c.project.themes.filter(name="Sécurité").exists()
    assert (
        client.post(
            url("planning-project-action", c.project.slug, "statut"), {"status": "archive"}
        ).status_code
        == 302
    )
    c.project.refresh_from_db()
    assert c.project.status == ProjectStatus.ARCHIVED
    assert (
        client.post(
            url("planning-project-action", c.project.slug, "perimetre"),
            {"perimeter_geojson": json.dumps(square_geojson(0, 0, 500, 500))},
        ).status_code
        == 302
    )
    c.project.refresh_from_db()
    assert c.project.perimeter.extent[2] > offset(PARIS_LON, PARIS_LAT, 450, 0)[0]
    page = client.get(url("planning-project", c.project.slug)).content.decode()
    assert "Brouillon" in page and "Archivé" in page and "plus personne ne peut contribuer" in page


def test_publishing_a_draft_without_calendar_is_explained(client, concertation: Concertation):
    c = concertation
    project = services.project_create(
        actor=c.planner, territory=c.territory, organisation=c.organisation, title="Sans calendrier",
        perimeter=square_geojson(0, 0, 100, 100),
    )  # fmt: skip
    answer = as_(client, c.planner).post(
        url("planning-project-action", project.slug, "statut"), {"status": "publie"}
    )
    page = answer.content.decode()
    assert answer.status_code == 400
    assert "Ajoutez au moins une phase" in page and 'href="#statut-status"' in page
    project.refresh_from_db()
    assert project.status == ProjectStatus.DRAFT


def test_documents_are_refused_by_type_and_size_and_a_pdf_is_kept(
    client, concertation: Concertation, settings
):
    c = concertation
    client = as_(client, c.planner)
    target = url("planning-project-action", c.project.slug, "documents")
    fake = SimpleUploadedFile("plan.pdf", b"MZ\x90\x00 not a pdf at all", content_type="application/pdf")
    answer = client.post(target, {"title": "Plan", "file": fake})
    assert answer.status_code == 422
    page = answer.content.decode()
    assert "Type de document non accepté" in page and 'href="#documents-file"' in page
    settings.URBANISME_DOCUMENT_MAX_BYTES = 40
    big = SimpleUploadedFile("gros.pdf", MINIMAL_PDF + b" " * 100, content_type="application/pdf")
    answer = client.post(target, {"title": "Gros", "file": big})
    assert answer.status_code == 413 and "Fichier trop volumineux" in answer.content.decode()
    assert not Document.objects.exists()
    settings.URBANISME_DOCUMENT_MAX_BYTES = 1024 * 1024
    answer = client.post(target, {"title": "Dossier", "file": SimpleUploadedFile("d.pdf", MINIMAL_PDF)})
    assert answer.status_code == 302
    assert Document.objects.get().kind == "pdf"
    assert "Dossier" in client.get(url("planning-project", c.project.slug)).content.decode()


# --- calendar --------------------------------------------------------------------------------------


def calendar_post(rows: list[dict[str, Any]]) -> dict[str, str]:
    data = {"phases-TOTAL": str(len(rows))}
    for i, row in enumerate(rows):
        for key, value in row.items():
            if value is True:
                value = "1"
            if value not in (False, None):
                data[f"phases-{i}-{key}"] = str(value)
    return data


def test_the_calendar_editor_saves_adds_and_removes_phases(client, concertation: Concertation):
    c = concertation
    client = as_(client, c.planner)
    page = client.get(url("planning-calendar", c.project.slug)).content.decode()
    assert page.count('class="phase-row') == 3 + 3 + 1  # three phases, three blank rows, the template
    today = c.today
    rows = [
        {"id": c.info.pk, "kind": PhaseKind.INFORMATION, "start": today - timedelta(days=30), "end": today - timedelta(days=11), "delete": True},
        {"id": c.concertation.pk, "kind": PhaseKind.CONCERTATION, "title": "Grande concertation", "start": today - timedelta(days=10), "end": today + timedelta(days=5), "contributions": True, "supports": True},
        {"id": c.bilan.pk, "kind": PhaseKind.BILAN, "start": (today + timedelta(days=11)).strftime("%d/%m/%Y"), "end": today + timedelta(days=40)},
        {"kind": PhaseKind.DECISION, "start": today + timedelta(days=41), "end": today + timedelta(days=60)},
        {"kind": "", "title": "", "start": "", "end": ""},
    ]  # fmt: skip
    answer = client.post(url("planning-calendar", c.project.slug), calendar_post(rows))
    assert answer.status_code == 302
    phases = list(c.project.phases.order_by("start_date"))
    assert [p.kind for p in phases] == [PhaseKind.CONCERTATION, PhaseKind.BILAN, PhaseKind.DECISION]
    assert phases[0].title == "Grande concertation" and phases[0].allows_supports
    assert phases[0].end_date == today + timedelta(days=5)
    assert "Calendrier enregistré : 3 phases." in client.get(answer["Location"]).content.decode()


def test_overlapping_phases_are_refused_and_explained(client, concertation: Concertation):
    c = concertation
    today = c.today
    rows = [
        {"id": c.info.pk, "kind": PhaseKind.INFORMATION, "start": today - timedelta(days=30), "end": today - timedelta(days=11)},
        {"id": c.concertation.pk, "kind": PhaseKind.CONCERTATION, "start": today - timedelta(days=10), "end": today + timedelta(days=20), "contributions": True},
        {"id": c.bilan.pk, "kind": PhaseKind.BILAN, "start": today + timedelta(days=11), "end": today + timedelta(days=40)},
    ]  # fmt: skip
    answer = as_(client, c.planner).post(url("planning-calendar", c.project.slug), calendar_post(rows))
    page = answer.content.decode()
    assert answer.status_code == 400
    assert "ne doivent pas se chevaucher" in page
    assert 'href="#calendar-table"' in page
    assert page.count("phase-row is-invalid") == 2  # the two phases named in the message
    c.concertation.refresh_from_db()
    assert c.concertation.end_date == today + timedelta(days=10)


def test_row_errors_link_to_their_cells_and_a_phase_with_contributions_stays(
    client, concertation: Concertation
):
    c = concertation
    contribute(c)
    client = as_(client, c.planner)
    rows = [{"kind": PhaseKind.TRAVAUX, "start": "32/13/2030", "end": ""}]
    answer = client.post(url("planning-calendar", c.project.slug), calendar_post(rows))
    page = answer.content.decode()
    assert answer.status_code == 400
    assert 'href="#phases-0-start"' in page and 'href="#phases-0-end"' in page
    assert "date de début illisible" in page
    # removing every phase: the concertation holds a contribution
    answer = client.post(url("planning-calendar", c.project.slug), calendar_post([]))
    assert answer.status_code == 409
    assert "contient des contributions" in answer.content.decode()
    assert c.project.phases.count() == 3


# --- layers ----------------------------------------------------------------------------------------


def test_layers_vector_upload_annotation_and_style(client, concertation: Concertation):
    c = concertation
    client = as_(client, c.planner)
    upload = SimpleUploadedFile("plan_masse.geojson", lambert_geojson())
    answer = client.post(
        url("planning-layers-action", c.project.slug, "vecteur"),
        {"name": "Plan masse", "file": upload, "color": "#2e7d32", "fill_color": "#2e7d32", "weight": "3", "legend": "#2e7d32 Îlots\n"},
    )  # fmt: skip
    assert answer.status_code == 302
    layer = Layer.objects.get(name="Plan masse")
    assert layer.kind == LayerKind.VECTOR and layer.features.count() == 3
    assert layer.style["color"] == "#2e7d32" and layer.legend == [{"label": "Îlots", "color": "#2e7d32"}]
    assert "importée : 3 objets" in client.get(answer["Location"]).content.decode()

    bad = client.post(
        url("planning-layer-action", c.project.slug, layer.pk, "modifier"),
        {"name": "Plan masse", "legend": "vert Îlots", "opacity": "1"},
    )
    assert bad.status_code == 400 and f'href="#layer-{layer.pk}-legend"' in bad.content.decode()
    ok = client.post(
        url("planning-layer-action", c.project.slug, layer.pk, "modifier"),
        {"name": "Plan masse v2", "color": "#123456", "opacity": "0,8", "label_field": "nom", "legend": ""},
    )
    assert ok.status_code == 302
    layer.refresh_from_db()
    assert layer.name == "Plan masse v2" and not layer.is_published
    assert layer.style["opacity"] == 0.8 and layer.style["label_field"] == "nom"

    geometry = {"type": "Feature", "properties": {}, "geometry": c.point(100, 100)}
    answer = client.post(
        url("planning-layers-action", c.project.slug, "annotation"),
        {"layer": "", "geometry": json.dumps(geometry), "title": "Entrée du chantier", "text": ""},
    )
    assert answer.status_code == 302
    annotations = Layer.objects.get(project=c.project, kind=LayerKind.ANNOTATION)
    feature = annotations.features.get()
    assert feature.title == "Entrée du chantier" and feature.created_by == c.planner
    refused = client.post(
        url("planning-layers-action", c.project.slug, "annotation"),
        {"layer": str(annotations.pk), "geometry": "{pas du json", "title": "x"},
    )
    assert refused.status_code == 400 and 'href="#annotation-geometry"' in refused.content.decode()
    assert client.post(url("planning-annotation-delete", c.project.slug, feature.pk)).status_code == 302
    assert not annotations.features.exists()
    assert client.post(url("planning-layer-action", c.project.slug, layer.pk, "supprimer")).status_code == 302
    assert not Layer.objects.filter(pk=layer.pk).exists()


def test_a_geotiff_shows_its_conversion_status(client, concertation: Concertation, tmp_path: Path):
    c = concertation
    client = as_(client, c.planner)
    source = geotiff(tmp_path / "plan.tif")
    answer = client.post(
        url("planning-layers-action", c.project.slug, "image"),
        {
            "name": "Plan guide",
            "file": SimpleUploadedFile("plan.tif", source.read_bytes(), content_type="image/tiff"),
        },
    )
    assert answer.status_code == 302
    layer = Layer.objects.get(name="Plan guide")
    assert layer.raster_status == RasterStatus.PENDING
    page = client.get(url("planning-layers", c.project.slug)).content.decode()
    assert "Conversion en cours" in page
    status = client.get(url("planning-layers-status", c.project.slug)).json()
    assert status["layers"] == [
        {
            "id": layer.pk,
            "name": "Plan guide",
            "status": "pending",
            "label": "Conversion en cours",
            "error": "",
        }
    ]
    Layer.objects.filter(pk=layer.pk).update(
        raster_status=RasterStatus.FAILED, raster_error="Fichier illisible."
    )
    page = client.get(url("planning-layers", c.project.slug)).content.decode()
    assert "Échec de la conversion" in page and "Fichier illisible." in page
    png = SimpleUploadedFile("photo.tif", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, content_type="image/tiff")
    refused = client.post(
        url("planning-layers-action", c.project.slug, "image"), {"name": "Photo", "file": png}
    )
    assert refused.status_code == 422 and "géoréférencée" in refused.content.decode()


# --- moderation ------------------------------------------------------------------------------------


def test_the_moderator_hides_with_a_public_reason_and_reads_contacts_through_the_access_log(
    client, concertation: Concertation
):
    c = concertation
    first = contribute(c, "Propos hors sujet")
    client = as_(client, c.moderator)
    page = client.get(url("planning-moderation", c.project.slug)).content.decode()
    assert "camille.martin@example.net" in page
    row = PersonalDataAccess.objects.get()
    assert row.topic == f"contribution:{first.pk}" and row.user_id == c.moderator.pk
    assert row.fields == ["name", "email"] and row.reason == "web:planning-moderation"

    target = url("planning-moderation-action", c.project.slug, first.pk, "masquer")
    refused = client.post(target, {"reason": "", "return_query": "etat=publiee"})
    assert refused.status_code == 400
    assert "Indiquez le motif du masquage" in refused.content.decode()
    first.refresh_from_db()
    assert first.visibility == Visibility.PUBLISHED

    answer = client.post(target, {"reason": "Sans rapport avec le projet", "return_query": "etat=publiee"})
    assert answer.status_code == 302
    assert (
        answer["Location"]
        == url("planning-moderation", c.project.slug) + f"?etat=publiee#contribution-{first.pk}"
    )
    first.refresh_from_db()
    assert first.visibility == Visibility.HIDDEN and first.hidden_reason == "Sans rapport avec le projet"
    assert first.moderated_by == c.moderator
    shown = client.get(url("planning-moderation", c.project.slug) + "?etat=masquee").content.decode()
    assert "Sans rapport avec le projet" in shown
    # publishing again
    assert (
        client.post(url("planning-moderation-action", c.project.slug, first.pk, "publier")).status_code == 302
    )
    first.refresh_from_db()
    assert first.visibility == Visibility.PUBLISHED


def test_pending_contributions_come_first(client, concertation: Concertation):
    c = concertation
    contribute(c, "Publiée avant")
    services.project_update(project=c.project, actor=c.planner, moderation="a_priori")
    contribute(c, "En attente ensuite")
    page = as_(client, c.moderator).get(url("planning-moderation", c.project.slug)).content.decode()
    assert page.index("En attente ensuite") < page.index("Publiée avant")
    assert "En attente (1)" in page


def test_official_answer_theme_and_reply_moderation(client, concertation: Concertation):
    c = concertation
    contribution = contribute(c)
    reply = services.contribution_reply(contribution=contribution, text="Je suis d'accord", pseudonym="Dom")
    client = as_(client, c.moderator)
    refused = client.post(
        url("planning-moderation-action", c.project.slug, contribution.pk, "reponse"), {"text": ""}
    )
    assert refused.status_code == 400 and f'href="#c{contribution.pk}-reponse"' in refused.content.decode()
    answer = client.post(
        url("planning-moderation-action", c.project.slug, contribution.pk, "reponse"),
        {"text": "Une fontaine est prévue au plan.", "signature": ""},
    )
    assert answer.status_code == 302
    official = Reply.objects.get(is_official=True)
    assert (
        official.text == "Une fontaine est prévue au plan." and official.pseudonym == "Mission participation"
    )
    theme = c.project.themes.get(name="Espaces verts")
    assert (
        client.post(
            url("planning-moderation-action", c.project.slug, contribution.pk, "theme"),
            {"theme": str(theme.pk)},
        ).status_code
        == 302
    )
    contribution.refresh_from_db()
    assert contribution.theme == theme
    answer = client.post(
        url("planning-reply-action", c.project.slug, contribution.pk, reply.pk, "masquer"),
        {"reason": "Doublon"},
    )
    assert answer.status_code == 302
    reply.refresh_from_db()
    assert reply.visibility == Visibility.HIDDEN and reply.hidden_reason == "Doublon"
    page = client.get(url("planning-moderation", c.project.slug)).content.decode()
    assert "réponse officielle publiée" in page and "Motif public : Doublon" in page


# --- on-behalf entry -------------------------------------------------------------------------------


def entry_data(c: Concertation, **overrides: Any) -> dict[str, str]:
    lon, lat = offset(PARIS_LON, PARIS_LAT, 150, 100)
    return {
        "channel": "reunion",
        "channel_label": "Réunion publique du 12 mars",
        "phase": str(c.concertation.pk),
        "spoken_date": (c.today - timedelta(days=2)).isoformat(),
        "spoken_time": "19:30",
        "kind": "question",
        "theme": "",
        "title": "Le marché restera-t-il ?",
        "text": "Une habitante demande si le marché du samedi est maintenu pendant les travaux.",
        "pseudonym": "",
        "email": "",
        "where": "point",
        "lat": f"{lat:.6f}".replace(".", ","),
        "lon": f"{lon:.6f}",
        **overrides,
    }


def test_on_behalf_entry_creates_a_contribution_entered_by_the_moderator(client, concertation: Concertation):
    c = concertation
    client = as_(client, c.moderator)
    answer = client.post(url("planning-entry", c.project.slug), entry_data(c))
    assert answer.status_code == 302
    assert "channel_label=R%C3%A9union+publique" in answer["Location"]  # kept for the next one
    contribution = Contribution.objects.get()
    assert contribution.entered_by == c.moderator and contribution.author_user is None
    assert contribution.channel == ContributionChannel.REUNION
    assert contribution.channel_label == "Réunion publique du 12 mars"
    assert contribution.phase == c.concertation and contribution.visibility == Visibility.PUBLISHED
    spoken = timezone.localtime(contribution.created_at, ZoneInfo("Europe/Paris"))
    assert (spoken.date(), spoken.hour, spoken.minute) == (c.today - timedelta(days=2), 19, 30)
    assert contribution.geom.geom_type == "Point"
    follow = client.get(answer["Location"]).content.decode()
    assert "Réunion publique du 12 mars" in follow and "enregistrée" in follow

    whole = client.post(
        url("planning-entry", c.project.slug),
        entry_data(c, where="project", lat="", lon="", title="Avis général", channel="registre", channel_label="Registre de la mairie"),
    )  # fmt: skip
    assert whole.status_code == 302
    general = Contribution.objects.get(title="Avis général")
    assert general.geom.geom_type == "Polygon"  # the perimeter says « the whole project »
    assert general.geom.equals_exact(c.project.perimeter[0], 1e-9)


def test_on_behalf_entry_errors_are_shown_on_their_fields(client, concertation: Concertation):
    c = concertation
    client = as_(client, c.moderator)
    answer = client.post(
        url("planning-entry", c.project.slug), entry_data(c, channel_label="", lat="", lon="")
    )
    page = answer.content.decode()
    assert answer.status_code == 400
    assert 'href="#entry-where"' in page and "Placez la contribution" in page
    answer = client.post(url("planning-entry", c.project.slug), entry_data(c, channel_label=""))
    assert answer.status_code == 400
    assert 'href="#entry-channel_label"' in answer.content.decode()
    future = entry_data(c, spoken_date=(c.today + timedelta(days=3)).isoformat())
    answer = client.post(url("planning-entry", c.project.slug), future)
    assert answer.status_code == 400 and 'href="#entry-spoken_date"' in answer.content.decode()
    assert not Contribution.objects.exists()


# --- bilan -----------------------------------------------------------------------------------------


def test_the_bilan_is_written_previewed_confirmed_then_published(client, concertation: Concertation):
    c = concertation
    client = as_(client, c.planner)
    page = client.get(url("planning-bilan", c.project.slug)).content.decode()
    assert f"/projets/{c.project.slug}/bilan/" in page  # the team's preview
    answer = client.post(
        url("planning-bilan", c.project.slug), {"conclusion": "Nous gardons les arbres.", "next": "publier"}
    )
    assert answer.status_code == 302 and answer["Location"] == url("planning-bilan-publish", c.project.slug)
    c.project.refresh_from_db()
    assert c.project.bilan_conclusion == "Nous gardons les arbres." and c.project.bilan_published_at is None
    confirm = client.get(answer["Location"]).content.decode()
    assert "La publication est définitive" in confirm and "Nous gardons les arbres." in confirm
    assert (
        client.post(url("planning-bilan-publish", c.project.slug), {}).status_code == 404
    )  # no confirmation
    c.project.refresh_from_db()
    assert c.project.bilan_published_at is None
    done = client.post(url("planning-bilan-publish", c.project.slug), {"confirm": "oui"})
    assert done.status_code == 302
    c.project.refresh_from_db()
    assert c.project.bilan_published_at is not None
    assert "Bilan publié le" in client.get(done["Location"]).content.decode()
    assert client.get(f"/projets/{c.project.slug}/bilan/").status_code == 200
    client.logout()
    assert client.get(f"/projets/{c.project.slug}/bilan/").status_code == 200  # public now


def test_phase_model_untouched_by_reads(client, concertation: Concertation):
    """Opening every page changes nothing (GET is safe)."""
    c = concertation
    before = list(Phase.objects.values_list("pk", "start_date", "end_date"))
    client = as_(client, c.planner)
    for name in (
        "planning-project",
        "planning-calendar",
        "planning-layers",
        "planning-moderation",
        "planning-entry",
        "planning-bilan",
    ):
        assert client.get(url(name, c.project.slug)).status_code == 200
    assert list(Phase.objects.values_list("pk", "start_date", "end_date")) == before
