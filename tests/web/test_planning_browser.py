"""The planners' back office in Debian's chromium (Playwright) against the live test server on PostGIS.

The ``open_browser`` fixture checks at the end that no request left for another host and that no
script failed; these tests also refuse any Content-Security-Policy violation (leaflet-geoman runs
under the strict policy), and every page visited is checked with axe-core (no serious or critical
violation).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.urbanisme.world import Concertation, build_concertation
from tests.web.conftest import DESKTOP, assert_accessible
from urbanisme import services
from urbanisme.models import (
    Contribution,
    ContributionChannel,
    PhaseKind,
    Project,
    ProjectStatus,
    Reply,
    Visibility,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def concertation(transactional_db) -> Concertation:  # type: ignore[no-untyped-def]
    return build_concertation()


def open_desktop(open_browser: Any) -> Any:
    browser = open_browser(**DESKTOP)
    violations: list[str] = []
    browser.page.on(
        "console",
        lambda message: (
            violations.append(message.text)
            if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text
            else None
        ),
    )
    browser.csp_violations = violations
    return browser


def sign_in(page: Any, username: str, next_path: str = "/urbanisme/") -> None:
    page.goto(f"/connexion/?next={next_path}")
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill("x")
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(re.compile(re.escape(next_path) + "$"))


def test_a_planner_creates_a_project_drawing_its_perimeter_and_sets_its_calendar(open_browser, concertation):
    c = concertation
    browser = open_desktop(open_browser)
    page = browser.page
    sign_in(page, c.planner.username)
    expect(page.get_by_role("heading", level=1)).to_have_text("Mes projets")
    assert_accessible(page)

    page.get_by_role("link", name="Créer un projet").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Créer un projet")
    assert_accessible(page)
    page.get_by_label("Titre", exact=True).fill("Jardin partagé des Lilas")
    page.get_by_label("Résumé").fill("Un jardin ouvert à tous.")

    # the perimeter, drawn with leaflet-geoman: four corners, then the first one again to close
    board = page.locator("#perimeter-map")
    expect(board.locator(".leaflet-pm-icon-polygon")).to_be_visible()
    board.locator(".leaflet-pm-icon-polygon").click()
    box = board.bounding_box()
    corners = [(0.4, 0.35), (0.6, 0.35), (0.6, 0.65), (0.4, 0.65), (0.4, 0.35)]
    for x, y in corners:
        page.mouse.click(box["x"] + box["width"] * x, box["y"] + box["height"] * y)
    expect(page.locator("#perimeter-status")).to_contain_text("Périmètre dessiné : 1 polygone")
    drawn = json.loads(page.locator("#new-perimeter_geojson").input_value())
    assert drawn["type"] == "MultiPolygon" and len(drawn["coordinates"][0][0]) == 5
    assert_accessible(page)
    page.get_by_role("button", name="Créer le projet (brouillon)").click()

    # next step: the calendar
    expect(page).to_have_url(re.compile(r"/urbanisme/projets/jardin-partage-des-lilas/calendrier/$"))
    expect(page.locator(".messages")).to_contain_text("créé en brouillon")
    project = Project.objects.get(slug="jardin-partage-des-lilas")
    assert project.status == ProjectStatus.DRAFT
    assert project.perimeter.num_coords == 5
    assert_accessible(page)

    today = c.today
    page.get_by_label("Type de la phase 1").select_option(label="Information")
    page.get_by_label("Début de la phase 1").fill((today - timedelta(days=5)).isoformat())
    page.get_by_label("Fin de la phase 1 (incluse)").fill((today - timedelta(days=1)).isoformat())
    page.get_by_role("button", name="Ajouter une phase").click()
    expect(page.get_by_label("Type de la phase 4")).to_be_focused()
    page.get_by_label("Type de la phase 4").select_option(label="Concertation préalable")
    page.get_by_label("Titre de la phase 4 (facultatif)").fill("Ateliers et carte")
    page.get_by_label("Début de la phase 4").fill(today.isoformat())
    page.get_by_label("Fin de la phase 4 (incluse)").fill((today + timedelta(days=30)).isoformat())
    page.get_by_label("Contributions ouvertes pendant la phase 4").check()
    page.get_by_label("Soutiens ouverts pendant la phase 4").check()
    page.get_by_role("button", name="Ajouter une phase").click()
    page.get_by_label("Type de la phase 5").select_option(label="Travaux")
    page.get_by_role("button", name="Retirer la ligne 5").click()
    expect(page.locator("#calendar-status")).to_have_text("Ligne retirée du calendrier.")

    # an overlap first: refused, explained, nothing saved
    page.get_by_label("Fin de la phase 1 (incluse)").fill(today.isoformat())
    page.get_by_role("button", name="Enregistrer le calendrier").click()
    expect(page.locator("#error-summary")).to_contain_text("ne doivent pas se chevaucher")
    assert_accessible(page)
    assert project.phases.count() == 0
    page.get_by_label("Fin de la phase 1 (incluse)").fill((today - timedelta(days=1)).isoformat())
    page.get_by_role("button", name="Enregistrer le calendrier").click()
    expect(page.locator(".messages")).to_contain_text("Calendrier enregistré : 2 phases.")
    phases = list(project.phases.order_by("start_date"))
    assert [p.kind for p in phases] == [PhaseKind.INFORMATION, PhaseKind.CONCERTATION]
    assert (
        phases[1].title == "Ateliers et carte"
        and phases[1].allows_contributions
        and phases[1].allows_supports
    )

    # publish it, then the other pages of the back office
    page.get_by_role("link", name="Projet", exact=True).click()
    expect(page.locator("#perimeter-map .leaflet-interactive")).to_have_count(1)  # the perimeter to edit
    assert_accessible(page)
    page.get_by_label("Publié").check()
    page.get_by_role("button", name="Changer le statut").click()
    expect(page.locator(".messages")).to_contain_text("Statut du projet : Publié.")
    project.refresh_from_db()
    assert project.status == ProjectStatus.PUBLISHED
    # a team annotation, drawn with geoman's marker tool in the middle of the perimeter
    page.locator(".planning-tabs").get_by_role("link", name="Couches", exact=True).click()
    assert_accessible(page)
    board = page.locator("#annotation-map")
    board.locator(".leaflet-pm-icon-marker").click()
    box = board.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(page.locator("#annotation-status")).to_contain_text("Forme dessinée (point)")
    assert json.loads(page.locator("#annotation-geometry").input_value())["type"] == "Point"
    expect(page.locator("#annotation-title")).to_be_focused()
    page.locator("#annotation-title").fill("Entrée du jardin")
    page.get_by_role("button", name="Ajouter l'annotation").click()
    expect(page.locator(".messages")).to_contain_text("Annotation « Entrée du jardin » ajoutée")
    assert project.layers.get().features.get().geom.within(project.perimeter)
    page.locator(".planning-tabs").get_by_role("link", name="Bilan", exact=True).click()
    expect(page.locator(".planning-tabs [aria-current=page]")).to_have_text("Bilan")
    assert_accessible(page)
    assert not browser.csp_violations, browser.csp_violations


def test_a_moderator_hides_one_contribution_answers_another_and_enters_a_meeting_contribution(
    open_browser, concertation
):
    c = concertation
    offensive = services.contribution_create(
        project=c.project, kind="autre", title="Message hors sujet", text="Publicité pour un garage.",
        geometry=c.point(), author=services.AuthorInput(name="Camille Martin", email="camille@example.net"),
    )  # fmt: skip
    question = services.contribution_create(
        project=c.project, kind="question", title="Où iront les bus ?", text="L'arrêt sera-t-il déplacé ?",
        geometry=c.point(300, 200), pseudonym="Dom",
    )  # fmt: skip
    browser = open_desktop(open_browser)
    page = browser.page
    sign_in(page, c.moderator.username)
    assert_accessible(page)
    page.get_by_role("link", name="Modération").first.click()
    expect(page.get_by_role("heading", level=2)).to_have_text("Modération des contributions")
    expect(page.locator(".confidential")).to_contain_text("camille@example.net")  # the team only
    assert_accessible(page)

    card = page.locator(f"#contribution-{offensive.pk}")
    card.get_by_label("Motif du masquage (affiché publiquement)").fill(
        "Publicité sans rapport avec le projet"
    )
    card.get_by_role("button", name="Masquer").click()
    expect(page.locator(".messages")).to_contain_text("masquée")
    expect(page.locator(f"#contribution-{offensive.pk}")).to_contain_text(
        "Publicité sans rapport avec le projet"
    )

    card = page.locator(f"#contribution-{question.pk}")
    card.get_by_text("Réponse officielle de l'équipe").click()
    card.get_by_label("Réponse", exact=True).fill("L'arrêt reste en place pendant les travaux.")
    card.get_by_role("button", name="Publier la réponse officielle").click()
    expect(page.locator(".messages")).to_contain_text("Réponse officielle publiée")
    assert_accessible(page)
    offensive.refresh_from_db()
    assert offensive.visibility == Visibility.HIDDEN
    assert offensive.hidden_reason == "Publicité sans rapport avec le projet"
    assert Reply.objects.get(contribution=question).is_official

    # a contribution heard at the public meeting, placed with a click on the map
    page.locator(".planning-tabs").get_by_role("link", name="Saisie de contributions").click()
    assert_accessible(page)
    page.get_by_label("Recueillie lors de").select_option(label="Réunion publique")
    page.get_by_label("Précision").fill("Réunion publique du 12 mars")
    page.get_by_label("Question").check()
    page.get_by_label("Titre", exact=True).fill("Stationnement des riverains")
    page.get_by_label("Texte", exact=True).fill("Où les riverains se gareront-ils pendant le chantier ?")
    board = page.locator("#entry-map")
    board.click(position={"x": 200, "y": 120})
    expect(page.locator("#entry-map-status")).to_contain_text("Emplacement choisi")
    expect(page.get_by_label("Latitude")).not_to_have_value("")
    # the click landed where the map shows the project; put it inside the perimeter exactly
    lon, lat = c.point(120, 120)["coordinates"]
    page.get_by_label("Latitude").fill(f"{lat:.6f}")
    page.get_by_label("Longitude").fill(f"{lon:.6f}")
    page.get_by_role("button", name="Enregistrer la contribution").click()
    expect(page.locator(".messages")).to_contain_text("Stationnement des riverains")
    expect(page.get_by_label("Précision")).to_have_value("Réunion publique du 12 mars")  # kept for the next
    entered = Contribution.objects.get(title="Stationnement des riverains")
    assert entered.entered_by == c.moderator and entered.channel == ContributionChannel.REUNION
    assert_accessible(page)

    # « à l'échelle du projet »: no place needed, the map folds away
    page.get_by_label("Idée").check()
    page.get_by_label("À l'échelle du projet (sans endroit précis)").check()
    expect(page.locator("#entry-map")).to_be_hidden()
    page.get_by_label("Titre", exact=True).fill("Plus d'arbres")
    page.get_by_label("Texte", exact=True).fill("Planter des arbres sur toute la place.")
    page.get_by_role("button", name="Enregistrer la contribution").click()
    expect(page.locator(".messages")).to_contain_text("Plus d'arbres")
    assert Contribution.objects.get(title="Plus d'arbres").geom.geom_type == "Polygon"
    assert not browser.csp_violations, browser.csp_violations
