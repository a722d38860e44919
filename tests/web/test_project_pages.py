"""Citizens' project pages through Django's test client: the list, a project's page (calendar,
documents, planning layers, contributions), contributing without scripts (the whole project, a
named place, coordinates, a drawn shape), errors in French next to their fields, pre-moderation,
closed phases read-only, hidden contributions by their reason only, the thread with official answers,
« +1 », following with double opt-in; never any personal data on a page."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import resolve, reverse
from django.utils.formats import date_format

from geo.images import has_metadata
from geo.models import OutboxMessage
from tests.factories import PARIS_LAT, PARIS_LON, offset
from tests.signalements.world import gps_jpeg
from tests.urbanisme.world import Concertation, build_concertation
from tests.urbanisme.world import concertation as concertation  # the fixture
from tests.web.conftest import PERSONAL_TEXTS
from urbanisme import layers, services
from urbanisme.models import (
    Contribution,
    Moderation,
    PhaseKind,
    ProjectFollower,
    ProjectStatus,
    Reply,
    Visibility,
)

pytestmark = pytest.mark.django_db
JSON = {"HTTP_ACCEPT": "application/json"}


# --- helpers ---------------------------------------------------------------------------------------


def contribute(c: Concertation, **kwargs: Any) -> Contribution:
    kwargs.setdefault("kind", "idee")
    kwargs.setdefault("title", "Des bancs à l'ombre")
    kwargs.setdefault("text", "Il manque des bancs sous les arbres côté nord.")
    kwargs.setdefault("geometry", c.point())
    return services.contribution_create(project=c.project, **kwargs)


def form(c: Concertation, **extra: Any) -> dict[str, Any]:
    data = {
        "kind": "idee",
        "title": "Un passage piéton",
        "text": "Devant l'école, côté est.",
        "where": "projet",
    }
    data.update(extra)
    return data


def url(name: str, c: Concertation, *args: Any) -> str:
    return reverse(f"web:{name}", args=[c.project.slug, *args])


def close_concertation(c: Concertation) -> None:
    """The concertation phase ended yesterday; today is in the bilan phase (no contributions)."""
    today = c.today
    services.phases_replace(
        project=c.project,
        actor=c.planner,
        phases=[
            services.PhaseInput(
                id=c.info.pk,
                kind=PhaseKind.INFORMATION,
                start_date=today - timedelta(days=30),
                end_date=today - timedelta(days=11),
            ),
            services.PhaseInput(
                id=c.concertation.pk,
                kind=PhaseKind.CONCERTATION,
                start_date=today - timedelta(days=10),
                end_date=today - timedelta(days=1),
                allows_contributions=True,
                allows_supports=True,
            ),
            services.PhaseInput(
                id=c.bilan.pk, kind=PhaseKind.BILAN, start_date=today, end_date=today + timedelta(days=40)
            ),
        ],
    )


def vector_layer(c: Concertation, tmp_path: Path, *, name: str = "Espaces verts projetés") -> Any:
    """A published vector layer with one labelled polygon inside the perimeter (« Square Pasteur »)."""
    ring = [list(offset(PARIS_LON, PARIS_LAT, e, n)) for e, n in ((50, 50), (150, 50), (150, 120), (50, 120))]
    path = tmp_path / "espaces.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"nom": "Square Pasteur"},
                        "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
                    }
                ],
            }
        )
    )
    return layers.vector_layer_import(
        project=c.project,
        actor=c.planner,
        path_or_upload=str(path),
        name=name,
        style={"color": "#1b5e20", "fill_color": "#2e7d32", "fill_opacity": 0.4},
        legend=[{"label": "Espace vert à créer", "color": "#2e7d32", "shape": "polygon"}],
        label_field="nom",
    ).layer


def page(client: Any, path: str) -> str:
    answer = client.get(path)
    assert answer.status_code == 200, (path, answer.status_code)
    return answer.content.decode()


def island(html: str, element_id: str) -> Any:
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S)
    assert match, f"no JSON island {element_id}"
    return json.loads(match.group(1))


# --- the list and a project's page ----------------------------------------------------------------


def test_the_list_shows_public_projects_with_their_phase_and_leaves_drafts_out(client, concertation):
    draft = build_concertation(slug="brouillon-secret")
    services.project_set_status(project=draft.project, actor=draft.planner, status=ProjectStatus.DRAFT)
    html = page(client, reverse("web:projects"))
    assert concertation.project.title in html
    assert reverse("web:project", args=[concertation.project.slug]) in html
    assert "brouillon-secret" not in html
    assert "Phase en cours : Concertation préalable" in html
    assert "Contributions ouvertes" in html
    # the map's island holds the perimeters, and the list says the same in words
    data = island(html, "projects-data")
    assert [f["properties"]["slug"] for f in data["features"]] == [concertation.project.slug]
    # « only open » filter
    close_concertation(concertation)
    assert "Aucun projet n'est ouvert aux contributions" in page(
        client, reverse("web:projects") + "?ouverts=1"
    )


def test_a_draft_is_a_404_for_the_public_and_a_preview_for_its_team(client, concertation):
    services.project_set_status(
        project=concertation.project, actor=concertation.planner, status=ProjectStatus.DRAFT
    )
    for path in (url("project", concertation), url("project-contribute", concertation)):
        assert client.get(path).status_code == 404
    assert client.post(url("project-contribute", concertation), form(concertation)).status_code == 404
    client.force_login(concertation.moderator)
    assert "Brouillon" in page(client, url("project", concertation))


def test_the_project_page_shows_the_calendar_in_order_with_the_current_phase_in_words(client, concertation):
    html = page(client, url("project", concertation))
    calendar = html.split('id="calendrier"')[1].split("</section>")[0]
    assert "<ol" in calendar
    positions = [calendar.index(label) for label in ("Information", "Concertation préalable", "Bilan")]
    assert positions == sorted(positions)
    current = re.search(
        r'<li class="phase-step phase-current" aria-current="step">(.*?)</li>', calendar, re.S
    )
    assert current and "Concertation préalable" in current.group(1) and "en cours" in current.group(1)
    start = date_format(concertation.concertation.start_date, "DATE_FORMAT")
    end = date_format(concertation.concertation.end_date, "DATE_FORMAT")
    assert f"du {start} au {end}" in current.group(1)
    assert calendar.count("terminée") == 1 and calendar.count("à venir") == 1
    assert f"Phase en cours : Concertation préalable, jusqu'au {end} inclus." in html
    assert "Prochaine" not in current.group(1)
    assert url("project-contribute", concertation) in html


def test_documents_say_their_type_and_size_in_text_and_the_bilan_is_linked_once_published(
    client, concertation
):
    pdf = b"%PDF-1.4\n" + b"0" * 3000 + b"\n%%EOF\n"
    services.document_add(
        project=concertation.project,
        actor=concertation.planner,
        title="Dossier de concertation",
        upload=SimpleUploadedFile("dossier.pdf", pdf, content_type="application/pdf"),
    )
    html = page(client, url("project", concertation))
    assert re.search(r"Dossier de concertation <span class=\"doc-meta\">\(PDF, 2,9\xa0Kio\)</span>", html)
    assert "Lire le bilan" not in html
    services.bilan_publish(project=concertation.project, actor=concertation.planner, conclusion="Merci.")
    html = page(client, url("project", concertation))
    assert f'href="/projets/{concertation.project.slug}/bilan/"' in html


def test_the_layer_switcher_lists_published_layers_with_their_legends(client, concertation, tmp_path):
    layer = vector_layer(concertation, tmp_path)
    hidden = vector_layer(concertation, tmp_path, name="Variante abandonnée")
    layers.layer_update(layer=hidden, actor=concertation.planner, is_published=False)
    html = page(client, url("project", concertation))
    assert f'id="layer-{layer.slug}"' in html and f'for="layer-{layer.slug}"' in html
    assert "Espaces verts projetés" in html and "Espace vert à créer" in html
    assert 'fill="#2e7d32"' in html  # the legend's swatch, drawn without inline styles
    assert "Variante abandonnée" not in html
    # what the layer shows, also without the map: its named places and its data
    assert "1 lieu nommé dans cette couche" in html and "<li>Square Pasteur</li>" in html
    assert f'href="/api/urbanisme/projets/{concertation.project.slug}/couches/{layer.slug}/"' in html
    data = island(html, "project-data")
    (found,) = data["layers"]
    assert found["slug"] == layer.slug
    assert f"/tiles/planning/{{z}}/{{x}}/{{y}}.mvt?layer={layer.pk}" in found["tiles"]["tiles"][0]


def test_a_raster_layer_is_offered_once_its_image_is_ready(
    client, concertation, tmp_path, settings, monkeypatch
):
    from tests.urbanisme.test_rasters import as_upload, geotiff
    from urbanisme import rasters

    settings.TILES_RASTER_LOOKUP = "urbanisme.rasters.raster_tile_lookup"
    monkeypatch.setattr("geo.outbox.publish_fast", lambda task, kwargs: None)
    layer = rasters.raster_upload(
        project=concertation.project,
        actor=concertation.planner,
        upload=as_upload(geotiff(tmp_path / "plan.tif")),
        name="Plan guide",
        legend=[{"label": "Bâti projeté", "color": "#b71c1c"}],
    )
    html = page(client, url("project", concertation))
    assert "Plan guide" in html and "Image en préparation" in html and "Bâti projeté" in html
    assert island(html, "project-data")["layers"] == []
    rasters.raster_to_cog(layer_id=layer.pk)
    html = page(client, url("project", concertation))
    assert "Image en préparation" not in html
    (found,) = island(html, "project-data")["layers"]
    assert found["kind"] == "raster" and "/tiles/raster/" in found["tiles"]["tiles"][0]


def test_contributions_appear_on_the_map_island_and_in_the_list_with_filters(client, concertation):
    idea = contribute(concertation, pseudonym="Camille")
    question = contribute(concertation, kind="question", title="Et les livraisons ?")
    services.official_answer(contribution=question, actor=concertation.moderator, text="Le matin.")
    html = page(client, url("project", concertation))
    features = island(html, "project-data")["contributions"]["features"]
    assert {f["id"] for f in features} == {idea.pk, question.pk}
    assert all("text" not in f["properties"] for f in features)
    assert "Par Camille" in html and "Réponse officielle" in html
    filtered = page(client, url("project", concertation) + "?nature=question")
    assert "Et les livraisons ?" in filtered and "Des bancs à l&#x27;ombre" not in filtered


# --- contributing ----------------------------------------------------------------------------------


def test_the_form_offers_every_way_to_say_where_without_a_map(client, concertation, tmp_path):
    vector_layer(concertation, tmp_path)
    html = page(client, url("project-contribute", concertation))
    for value in ("projet", "lieu", "coordonnees"):
        assert f'id="where-{value}" value="{value}"' in html and f'for="where-{value}"' in html
    assert '<optgroup label="Espaces verts projetés">' in html and "Square Pasteur" in html
    assert 'for="lat"' in html and 'for="lon"' in html
    assert 'name="site_web"' in html  # the honeypot
    assert "Mobilité" in html  # themes


def test_contributing_without_scripts_at_the_scale_of_the_project(client, concertation):
    answer = client.post(url("project-contribute", concertation), form(concertation, pseudonym="Léo"))
    contribution = Contribution.objects.get()
    assert answer.status_code == 302
    assert answer["Location"] == url("contribution", concertation, contribution.pk)
    inside = concertation.project.perimeter.point_on_surface
    assert contribution.geom.equals_exact(inside, 1e-9)
    html = page(client, answer["Location"])
    assert "Merci ! Votre contribution est publiée." in html
    assert "À l&#x27;échelle du projet" in html
    assert "Par Léo" in html


def test_contributing_at_a_named_place_or_at_typed_coordinates(client, concertation, tmp_path):
    vector_layer(concertation, tmp_path)
    html = page(client, url("project-contribute", concertation))
    key = re.search(r'<option value="(objet-\d+)"[^>]*>Square Pasteur</option>', html).group(1)
    assert (
        client.post(
            url("project-contribute", concertation), form(concertation, where="lieu", place=key)
        ).status_code
        == 302
    )
    lon, lat = offset(PARIS_LON, PARIS_LAT, 300, 200)
    typed = form(concertation, where="coordonnees", lat=f"{lat:.6f}".replace(".", ","), lon=f"{lon:.6f}")
    assert client.post(url("project-contribute", concertation), typed).status_code == 302
    at_place, at_coords = Contribution.objects.order_by("pk")
    assert at_place.geom.within(concertation.project.perimeter)
    assert abs(at_coords.geom.x - lon) < 1e-6 and abs(at_coords.geom.y - lat) < 1e-6


def test_a_drawn_polygon_and_a_photo_without_its_exif(client, concertation):
    polygon = concertation.polygon((100, 100), (200, 100), (200, 200), (100, 200))
    photo = SimpleUploadedFile("IMG_0001.jpg", gps_jpeg(PARIS_LON, PARIS_LAT), content_type="image/jpeg")
    data = form(concertation, where="carte", geometry=json.dumps(polygon), photo=photo)
    answer = client.post(url("project-contribute", concertation), data)
    assert answer.status_code == 302
    contribution = Contribution.objects.get()
    assert contribution.geom.geom_type == "Polygon"
    assert not has_metadata(contribution.photo_web.read())
    html = page(client, answer["Location"])
    assert contribution.photo_web.url in html and "Une zone de 4 sommets" in html


def test_a_drawn_line_and_the_csrf_check(client, concertation):
    from django.test import Client

    line = concertation.line((50, 50), (150, 80), (250, 60))
    data = form(concertation, where="carte", geometry=json.dumps(line))
    assert (
        Client(enforce_csrf_checks=True).post(url("project-contribute", concertation), data).status_code
        == 403
    )
    answer = client.post(url("project-contribute", concertation), data)
    assert answer.status_code == 302
    assert Contribution.objects.get().geom.geom_type == "LineString"
    assert "Un tracé de 3 points" in page(client, answer["Location"])


def test_errors_are_in_french_next_to_their_fields_and_what_was_typed_is_kept(client, concertation):
    answer = client.post(
        url("project-contribute", concertation),
        {
            "text": "Mon texte <b>gardé</b>",
            "where": "coordonnees",
            "lat": "quarante",
            "lon": "2",
            "email": "moi@",
        },
    )
    html = answer.content.decode()
    assert answer.status_code == 400
    assert re.search(r'data-error-for="kind"><p>Choisissez la nature de votre contribution.</p>', html)
    assert re.search(r'data-error-for="title"><p>Donnez un titre à votre contribution.</p>', html)
    assert re.search(r'data-error-for="lat"><p>Coordonnées illisibles', html)
    assert re.search(r'data-error-for="email"><p>Adresse e-mail invalide', html)
    assert "Mon texte &lt;b&gt;gardé&lt;/b&gt;</textarea>" in html
    assert 'value="quarante"' in html and 'id="where-coordonnees" value="coordonnees" checked' in html
    assert 'class="error-summary" role="alert"' in html and 'href="#kind"' in html
    assert Contribution.objects.count() == 0


def test_outside_the_perimeter_and_its_margin_is_refused_in_french(client, concertation):
    lon, lat = offset(PARIS_LON, PARIS_LAT, 3000, 3000)
    answer = client.post(
        url("project-contribute", concertation),
        form(concertation, where="coordonnees", lat=str(lat), lon=str(lon)),
    )
    assert answer.status_code == 422
    assert re.search(
        r'data-error-for="where"><p>La contribution doit être placée dans le périmètre',
        answer.content.decode(),
    )
    nothing = client.post(url("project-contribute", concertation), form(concertation, where=""))
    assert nothing.status_code == 400
    assert "Indiquez où s&#x27;applique votre contribution" in nothing.content.decode()


def test_the_scripts_get_json_answers(client, concertation):
    created = client.post(url("project-contribute", concertation), form(concertation), **JSON)
    assert created.status_code == 201
    assert created.json()["redirect"] == url("contribution", concertation, Contribution.objects.get().pk)
    refused = client.post(url("project-contribute", concertation), form(concertation, title=""), **JSON)
    assert refused.status_code == 400
    assert refused.json()["errors"]["title"] == ["Donnez un titre à votre contribution."]


def test_the_email_is_kept_only_for_what_was_asked_and_following_asks_for_confirmation(client, concertation):
    client.post(url("project-contribute", concertation), form(concertation, email="a@example.net"))
    client.post(
        url("project-contribute", concertation), form(concertation, email="b@example.net", follow="1")
    )
    first, second = Contribution.objects.order_by("pk")
    assert not hasattr(first, "author")
    assert second.author.email == "b@example.net"
    follower = ProjectFollower.objects.get(email="b@example.net")
    assert follower.confirmed_at is None


def test_a_pre_moderated_project_says_published_after_review(client):
    c = build_concertation(moderation=Moderation.PRE, slug="premodere")
    assert "publiées après relecture" in page(client, url("project", c))
    assert "publiée après relecture" in page(client, url("project-contribute", c))
    answer = client.post(url("project-contribute", c), form(c, title="En attente de relecture"))
    assert answer["Location"] == url("project", c) + "#contributions"
    html = page(client, answer["Location"])
    assert "Merci ! Votre contribution sera publiée après relecture par la modération." in html
    assert "En attente de relecture" not in html.split('id="contributions"')[1]
    contribution = Contribution.objects.get()
    assert contribution.visibility == Visibility.PENDING
    assert client.get(url("contribution", c, contribution.pk)).status_code == 404


# --- closed phases, hidden contributions -------------------------------------------------------------


def test_a_closed_phase_shows_its_contributions_read_only(client, concertation):
    contribution = contribute(concertation)
    close_concertation(concertation)
    html = page(client, url("project", concertation))
    assert "Contributions closes" in html and "Des bancs à l&#x27;ombre" in html
    assert url("project-contribute", concertation) not in html
    assert "Contributions closes" in page(client, url("project-contribute", concertation))
    refused = client.post(url("project-contribute", concertation), form(concertation))
    assert refused.status_code == 409 and "closes" in refused.content.decode()
    detail = page(client, url("contribution", concertation, contribution.pk))
    assert "consultable mais figée" in detail
    assert 'id="reply-form"' not in detail and 'id="support-form"' not in detail
    reply = client.post(url("contribution-reply", concertation, contribution.pk), {"text": "Trop tard ?"})
    assert reply.status_code == 409 and "figées" in reply.content.decode()
    support = client.post(url("contribution-support", concertation, contribution.pk), follow=True)
    assert "figées" in support.content.decode()
    assert Reply.objects.count() == 0 and Contribution.objects.get().supports_count == 0


def test_a_hidden_contribution_is_shown_by_its_reason_only(client, concertation):
    contribution = contribute(concertation, title="Titre injurieux", text="Texte injurieux")
    services.contribution_moderate(
        contribution=contribution, actor=concertation.moderator, action="hide", reason="propos injurieux"
    )
    for path in (url("project", concertation), url("contribution", concertation, contribution.pk)):
        html = page(client, path)
        assert "Masqué par la modération : propos injurieux" in html
        assert "injurieux" not in html.replace("propos injurieux", "")
    assert (
        island(page(client, url("project", concertation)), "project-data")["contributions"]["features"] == []
    )


# --- the thread, replies, « +1 » ----------------------------------------------------------------------


def test_the_thread_nests_one_level_and_marks_official_answers_in_words(client, concertation):
    contribution = contribute(concertation)
    first = services.contribution_reply(contribution=contribution, text="Bonne idée !", pseudonym="Nour")
    services.contribution_reply(contribution=contribution, text="D'accord avec Nour.", parent_id=first.pk)
    services.official_answer(contribution=contribution, actor=concertation.moderator, text="Nous l'étudions.")
    hidden = services.contribution_reply(contribution=contribution, text="Insulte")
    services.reply_moderate(reply=hidden, actor=concertation.moderator, action="hide", reason="hors sujet")
    html = page(client, url("contribution", concertation, contribution.pk))
    thread = html.split('id="fil"')[1].split("</section>")[0]
    assert (
        thread.index("Bonne idée !") < thread.index('class="thread-children"') < thread.index("D&#x27;accord")
    )
    official = re.search(
        r'<article class="thread-reply thread-reply-official"[^>]*>(.*?)</article>', thread, re.S
    )
    assert official and "Réponse officielle de l'équipe du projet" in official.group(1)
    assert "Nous l&#x27;étudions." in official.group(1)
    assert "Masqué par la modération : hors sujet" in thread and "Insulte" not in thread
    assert f"?parent={first.pk}#repondre" in thread


def test_replying_validates_keeps_the_text_and_posts(client, concertation):
    contribution = contribute(concertation)
    path = url("contribution-reply", concertation, contribution.pk)
    empty = client.post(path, {"text": "", "pseudonym": "Sam", "email": "pas-une-adresse"})
    html = empty.content.decode()
    assert empty.status_code == 400
    assert "Écrivez votre réponse." in html and "Adresse e-mail invalide" in html and 'value="Sam"' in html
    answer = client.post(path, {"text": "Je suis d'accord.", "pseudonym": "Sam"})
    reply = Reply.objects.get()
    assert answer.status_code == 302 and answer["Location"].endswith(f"#reponse-{reply.pk}")
    assert "Merci ! Votre réponse est publiée." in page(client, answer["Location"])
    child = client.post(path, {"text": "Moi aussi.", "parent": str(reply.pk)})
    assert child.status_code == 302 and Reply.objects.get(text="Moi aussi.").parent == reply
    # « Répondre à ce message » pre-fills the parent
    assert f'name="parent" value="{reply.pk}"' in page(
        client, url("contribution", concertation, contribution.pk) + f"?parent={reply.pk}"
    )


def test_plus_one_counts_each_person_once(client, concertation):
    contribution = contribute(concertation)
    path = url("contribution-support", concertation, contribution.pk)
    first = client.post(path, **JSON)
    again = client.post(path, **JSON)
    assert first.json()["supports_count"] == 1 and first.json()["new"] is True
    assert again.json()["new"] is False and again.json()["message"] == "Votre soutien était déjà compté."
    html = page(client, client.post(path)["Location"])
    assert "1 personne soutient cette contribution." in html


def test_the_honeypot_refuses_quietly_and_nothing_is_written(client, concertation):
    answer = client.post(url("project-contribute", concertation), form(concertation, site_web="http://spam"))
    assert answer.status_code == 400 and "Votre envoi n&#x27;a pas pu être accepté" in answer.content.decode()
    follow = client.post(url("project-follow", concertation), {"email": "x@example.net", "site_web": "x"})
    assert follow.status_code == 400
    assert Contribution.objects.count() == 0 and ProjectFollower.objects.count() == 0


# --- following ----------------------------------------------------------------------------------------


def test_following_is_a_double_opt_in_with_a_confirmation_and_an_unsubscribe_page(client, concertation):
    bad = client.post(url("project-follow", concertation), {"email": "pas-une-adresse"})
    assert bad.status_code == 400 and "Adresse e-mail invalide" in bad.content.decode()
    assert 'value="pas-une-adresse"' in bad.content.decode()
    answer = client.post(url("project-follow", concertation), {"email": "Voisine@Example.net"})
    assert answer["Location"] == url("project", concertation) + "#suivre"
    assert "Un e-mail de confirmation vous a été envoyé" in page(client, answer["Location"])
    follower = ProjectFollower.objects.get()
    assert follower.confirmed_at is None
    message = OutboxMessage.objects.get(destination="voisine@example.net")
    link = re.search(r"(/projets/abonnement/[^/\s]+/confirmer/)", message.body_text).group(1)
    assert resolve(link).url_name == "project-follow-confirm"
    html = page(client, link)
    assert "Abonnement confirmé" in html and concertation.project.title in html
    follower.refresh_from_db()
    assert follower.confirmed_at is not None
    assert client.get("/projets/abonnement/inconnu/confirmer/").status_code == 404

    from urbanisme.notifications import unsubscribe_url

    leave = unsubscribe_url(follower).split("://", 1)[1].split("/", 1)[1]
    assert resolve(f"/{leave}").url_name == "project-unfollow"
    asked = page(client, f"/{leave}")
    assert "Me désabonner" in asked and ProjectFollower.objects.exists()  # a link checker changes nothing
    done = client.post(f"/{leave}")
    assert done.status_code == 200 and "Désabonnement effectué" in done.content.decode()
    assert not ProjectFollower.objects.exists()
    assert client.post("/projets/desabonnement/faux/").status_code == 404


def test_the_email_links_are_never_read_as_a_project(concertation):
    assert resolve("/projets/abonnement/abc/confirmer/").url_name == "project-follow-confirm"
    assert resolve("/projets/desabonnement/abc/").url_name == "project-unfollow"
    assert resolve(f"/projets/{concertation.project.slug}/").url_name == "project"


# --- personal data, rate limits ---------------------------------------------------------------------


def test_no_personal_data_on_any_page(client, concertation):
    author = services.AuthorInput(
        name="Jeanne Martin", email="jeanne.martin@example.net", follow_project=True
    )
    contribution = contribute(concertation, author=author, pseudonym="Habitante")
    services.contribution_reply(
        contribution=contribution,
        text="Précision",
        author=services.AuthorInput(name="Jeanne Martin", email="jeanne.martin@example.net"),
    )
    paths = [
        reverse("web:projects"),
        url("project", concertation),
        url("project-contribute", concertation),
        url("contribution", concertation, contribution.pk),
    ]
    for path in paths:
        html = page(client, path)
        for text in PERSONAL_TEXTS:
            assert text not in html, f"{path}: personal data shown: {text!r}"


def test_rate_limited_form_posts_get_the_html_page(client, concertation, monkeypatch):
    from config import ratelimit

    monkeypatch.setattr(ratelimit, "check", lambda *a, **k: ratelimit.Verdict(False, retry_after=42))
    contribution = contribute(concertation)
    for path in (
        url("project-contribute", concertation),
        url("project-follow", concertation),
        url("contribution-reply", concertation, contribution.pk),
        url("contribution-support", concertation, contribution.pk),
    ):
        answer = client.post(path, {})
        assert answer.status_code == 429 and answer["Retry-After"] == "42"
        assert "Trop de requêtes" in answer.content.decode()
    assert client.post(url("contribution-support", concertation, contribution.pk), **JSON).json()["code"] == (
        "trop_de_requetes"
    )


def test_the_project_page_reads_in_a_bounded_number_of_queries(
    client, concertation, django_assert_max_num_queries
):
    for n in range(25):
        contribute(concertation, title=f"Contribution {n}")
    with django_assert_max_num_queries(30):
        page(client, url("project", concertation))
