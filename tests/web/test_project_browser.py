"""The project pages in Debian's chromium (Playwright) against the live test server on real PostGIS.

The fixture of tests/web/conftest.py checks at the end of each test that no request left for another
host (the basemap is a blank tile under /static/) and that no script failed; every page visited is
checked with axe-core (no serious or critical violation).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.urbanisme.world import concertation as concertation  # the fixture
from tests.web.conftest import DESKTOP, PHONE, assert_accessible
from tests.web.test_project_pages import contribute, vector_layer
from urbanisme import services
from urbanisme.models import Contribution, Reply

pytestmark = pytest.mark.django_db(transaction=True)


def tab_to(page: Any, selector: str, *, limit: int = 80) -> None:
    """Press Tab (only the keyboard) until the element matching ``selector`` has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_on_a_phone_a_citizen_draws_a_zone_and_sends_it(open_browser, concertation):
    browser = open_browser(**PHONE)
    page = browser.page
    page.goto("/projets/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Projets en concertation")
    assert_accessible(page)
    page.get_by_role("link", name=concertation.project.title).click()
    expect(page.locator("li[aria-current=step]")).to_contain_text("en cours")
    assert_accessible(page)
    page.get_by_role("link", name="Contribuer", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Contribuer")
    assert_accessible(page)

    # draw a zone: four taps on the map, then « Terminer le tracé »
    page.get_by_role("button", name="Dessiner une zone").click()
    expect(page.get_by_role("button", name="Dessiner une zone")).to_have_attribute("aria-pressed", "true")
    page.locator("#contribute-map").scroll_into_view_if_needed()
    box = page.locator("#contribute-map").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for dx, dy in ((-40, -30), (40, -30), (40, 30), (-40, 30)):
        page.mouse.click(cx + dx, cy + dy)
    expect(page.locator("#draw-status")).to_contain_text("4 points placés")
    page.get_by_role("button", name="Terminer le tracé").click()
    expect(page.locator("#draw-status")).to_contain_text("Zone dessinée (4 sommets)")
    expect(page.locator("#where-carte")).to_be_checked()
    assert_accessible(page)  # with the drawn zone's movable vertices

    page.get_by_text("Idée", exact=True).click()
    page.get_by_label("Titre").fill("Une zone de jeux ombragée")
    page.get_by_label("Votre texte").fill("Ici, des arbres et des jeux pour les petits.")
    page.get_by_label("Pseudonyme").fill("Maya")
    page.get_by_role("button", name="Envoyer ma contribution").click()

    contribution_url = re.compile(rf"/projets/{concertation.project.slug}/contributions/\d+/$")
    expect(page).to_have_url(contribution_url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Une zone de jeux ombragée")
    expect(page.locator(".messages")).to_contain_text("Votre contribution est publiée")
    expect(page.locator("#where-text")).to_contain_text("Une zone de 4 sommets")
    assert_accessible(page)
    contribution = Contribution.objects.get()
    assert contribution.geom.geom_type == "Polygon" and contribution.geom.num_points == 5
    assert contribution.geom.within(concertation.project.perimeter)
    assert contribution.pseudonym == "Maya"


def test_contributing_without_a_map_with_the_keyboard_only(open_browser, concertation, tmp_path):
    vector_layer(concertation, tmp_path)
    browser = open_browser(**DESKTOP)
    page = browser.page
    page.goto(f"/projets/{concertation.project.slug}/contribuer/")

    # « Un lieu du projet »: the radio group, then the list of places, with arrows only
    tab_to(page, "input[name=where]")
    page.keyboard.press("ArrowDown")  # « Sur la carte » -> « À l'échelle du projet »
    page.keyboard.press("ArrowDown")  # -> « Un lieu du projet »
    expect(page.locator("#where-lieu")).to_be_checked()
    tab_to(page, "#place")
    page.keyboard.press("ArrowDown")
    expect(page.locator("#place option:checked")).to_have_text("Square Pasteur")
    # the nature (a radio group), the title and the text
    tab_to(page, "input[name=kind]")
    page.keyboard.press("ArrowDown")  # Idée -> Question
    expect(page.locator("#kind-question")).to_be_checked()
    tab_to(page, "#title")
    page.keyboard.type("Traverser le square la nuit")
    tab_to(page, "#text")
    page.keyboard.type("L'éclairage manque le long de l'allée.")
    tab_to(page, "#submit")
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"/contributions/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Traverser le square la nuit")
    contribution = Contribution.objects.get()
    assert contribution.kind == "question"
    square = concertation.project.layers.get().features.get().geom
    assert contribution.geom.geom_type == "Point" and contribution.geom.within(square)


def test_a_citizen_replies_and_supports(open_browser, concertation):
    contribution = contribute(concertation, pseudonym="Camille")
    services.official_answer(
        contribution=contribution, actor=concertation.moderator, text="Nous étudions cette demande."
    )
    browser = open_browser(**PHONE)
    page = browser.page
    page.goto(f"/projets/{concertation.project.slug}/contributions/{contribution.pk}/")
    expect(page.locator(".thread-reply-official")).to_contain_text("Réponse officielle de l'équipe du projet")
    assert_accessible(page)

    page.get_by_role("button", name="+1 Je soutiens").click()
    expect(page.locator("#support-count")).to_have_text("1 personne soutient cette contribution.")
    expect(page.locator("#support-status")).to_have_text("Merci : votre soutien est compté.")

    page.get_by_label("Votre réponse").fill("Oui, surtout le soir.")
    page.get_by_role("button", name="Envoyer ma réponse").click()
    expect(page.locator(".messages")).to_contain_text("Merci ! Votre réponse est publiée.")
    expect(page.locator("#fil")).to_contain_text("Oui, surtout le soir.")
    assert_accessible(page)
    assert Contribution.objects.get().supports_count == 1
    assert Reply.objects.filter(is_official=False).count() == 1


def test_the_layer_switcher_shows_and_hides_a_planning_layer(open_browser, concertation, tmp_path):
    layer = vector_layer(concertation, tmp_path)
    browser = open_browser(**DESKTOP)
    page = browser.page
    page.goto(f"/projets/{concertation.project.slug}/")
    switcher = page.locator("#layers")
    expect(switcher).to_contain_text("Espace vert à créer")  # the legend, in words
    checkbox = page.get_by_role("checkbox", name="Espaces verts projetés")
    expect(checkbox).not_to_be_checked()

    with page.expect_response(lambda r: "/tiles/planning/" in r.url and f"layer={layer.pk}" in r.url) as tile:
        checkbox.check()
    assert tile.value.status in (200, 204)  # 204: a tile of the view without any feature
    expect(page.locator("#layer-status")).to_have_text(
        "Couche « Espaces verts projetés » affichée sur la carte."
    )
    expect(page.locator(".leaflet-planning-pane path").first).to_be_attached()
    assert_accessible(page)
    checkbox.uncheck()
    expect(page.locator("#layer-status")).to_have_text(
        "Couche « Espaces verts projetés » retirée de la carte."
    )
    expect(page.locator(".leaflet-planning-pane path")).to_have_count(0)
