"""The pages in Debian's chromium (Playwright) against the live test server on real PostGIS.

Each test opens a browser with a fresh profile; the fixture checks at the end that no request left
for a host other than the test server (the basemap is a blank tile under /static/) and that no
script failed. Every page visited is checked with axe-core: no serious or critical violation.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from signalements.models import Channel, Follower, Report, Support, Ticket, TicketState
from tests.signalements.world import at, gps_jpeg
from tests.web.conftest import DESKTOP, PHONE, assert_accessible, file_report

pytestmark = pytest.mark.django_db(transaction=True)


def geolocated_phone(open_browser, east_m: float, north_m: float):  # type: ignore[no-untyped-def]
    lon, lat = at(east_m, north_m)
    return open_browser(
        **PHONE, geolocation={"latitude": lat, "longitude": lon, "accuracy": 8}, permissions=["geolocation"]
    )


def choose_category(page, search: str, label: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_label("Rechercher une catégorie").fill(search)
    page.get_by_text(label, exact=True).click()


def test_a_citizen_files_a_report_on_a_phone_in_under_a_minute(open_browser, world):
    browser = geolocated_phone(open_browser, -500, 100)
    page = browser.page
    started = time.monotonic()
    page.goto("/")
    assert_accessible(page)
    page.get_by_role("link", name="Signaler un problème").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Signaler un problème")
    assert_accessible(page)

    # « Me localiser »: the browser's (faked) position puts the pin
    page.get_by_role("button", name="Me localiser").click()
    expect(page.locator("#position-status")).to_contain_text("Position trouvée")
    expect(page.locator(".pin-icon")).to_be_visible()
    # the category, found by searching
    choose_category(page, "poule", "Nid de poule")
    expect(page.locator("#check-status")).to_contain_text("Voirie Ouest")
    # a photo taken with the phone's GPS offers its position
    photo_lon, photo_lat = at(-520, 90)
    page.locator("#photos").set_input_files(
        {"name": "IMG_0001.jpg", "mimeType": "image/jpeg", "buffer": gps_jpeg(photo_lon, photo_lat)}
    )
    page.get_by_role("button", name="Utiliser la position de la photo").click()
    expect(page.locator("#position-status")).to_contain_text("Position de la photo utilisée")
    page.get_by_label("Description").fill("Nid de poule profond devant l'école")
    page.get_by_label("Votre e-mail").fill("habitante@example.net")
    page.get_by_text("Me prévenir par e-mail des suites de ce signalement").click()
    page.get_by_role("button", name="Envoyer le signalement").click()

    # after sending: the reference, the service and why, the tracking link
    expect(page).to_have_url(re.compile(r"/signaler/envoye/SIG-"))
    elapsed = time.monotonic() - started
    report = Report.objects.get()
    expect(page.locator("#reference")).to_have_text(report.reference)
    expect(page.locator("#service")).to_have_text("Voirie Ouest")
    expect(page.locator("#explanation")).to_have_text(report.ticket.routing["explanation"])
    expect(page.locator("#tracking-link")).to_have_attribute(
        "href", re.compile(f"/signalements/{report.reference}/$")
    )
    assert_accessible(page)
    assert report.channel == Channel.WEB
    assert report.photos.count() == 1
    assert abs(report.location.x - photo_lon) < 1e-5 and abs(report.location.y - photo_lat) < 1e-5
    assert Follower.objects.filter(report=report, email="habitante@example.net").exists()
    assert elapsed < 60

    # the public page: state, service, why; no personal data
    page.locator("#tracking-link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Nid de poule")
    assert "habitante@example.net" not in page.content()
    assert_accessible(page)


def test_the_same_problem_nearby_is_offered_with_plus_one_and_follow(open_browser, world):
    existing = file_report(world, -500, 100, description="Trou signalé hier").report
    browser = geolocated_phone(open_browser, -505, 100)
    page = browser.page
    page.goto("/signaler/")
    page.get_by_label("Votre e-mail").fill("voisin@example.net")
    page.get_by_role("button", name="Me localiser").click()
    choose_category(page, "poule", "Nid de poule")

    duplicates = page.locator("#duplicates")
    expect(duplicates.get_by_role("heading", name="Est-ce le même problème ?")).to_be_visible()
    expect(duplicates).to_contain_text(existing.reference)
    expect(duplicates).to_contain_text("Trou signalé hier")
    assert_accessible(page)
    duplicates.get_by_role("button", name="+1 et suivre").click()
    expect(duplicates).to_contain_text("Merci : votre soutien est compté.")
    assert Support.objects.filter(report=existing).count() == 1
    assert Follower.objects.filter(report=existing, email="voisin@example.net").exists()
    assert Report.objects.count() == 1


def test_a_failed_send_keeps_everything_and_a_retry_files_once(open_browser, world):
    browser = geolocated_phone(open_browser, -500, 100)
    page = browser.page
    attempts: list[str] = []

    def flaky(route):  # type: ignore[no-untyped-def]
        if route.request.method != "POST":
            route.continue_()
            return
        attempts.append("post")
        if len(attempts) == 1:
            route.abort("connectionreset")  # the network drops before the server hears anything
        elif len(attempts) == 2:
            route.fetch()  # the server files it, but the answer is lost on the way back
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route(re.compile(r"/signaler/$"), flaky)
    page.goto("/signaler/")
    page.get_by_role("button", name="Me localiser").click()
    expect(page.locator("#position-status")).to_contain_text("Position trouvée")
    choose_category(page, "lampadaire", "Lampadaire éteint")
    page.get_by_label("Description").fill("Lampadaire éteint depuis trois jours")
    page.get_by_label("Votre e-mail").fill("patient@example.net")

    page.get_by_role("button", name="Envoyer le signalement").click()
    alert = page.locator("#send-error")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("Rien n'est perdu")
    expect(page.get_by_label("Description")).to_have_value("Lampadaire éteint depuis trois jours")
    expect(page.get_by_label("Votre e-mail")).to_have_value("patient@example.net")
    expect(page.locator("#cat-lampadaire")).to_be_checked()
    assert_accessible(page)

    page.get_by_role("button", name="Réessayer l'envoi").click()
    expect(alert).to_be_visible()
    expect(page.get_by_label("Description")).to_have_value("Lampadaire éteint depuis trois jours")
    page.get_by_role("button", name="Réessayer l'envoi").click()
    expect(page).to_have_url(re.compile(r"/signaler/envoye/SIG-"))
    expect(page.locator("#service")).to_have_text("Éclairage public")
    assert len(attempts) == 3
    assert Report.objects.count() == 1  # the idempotency key: the lost answer did not file twice


def tab_to(page, selector: str, limit: int = 120) -> None:  # type: ignore[no-untyped-def]
    """Press Tab until the element matching ``selector`` has the focus (keyboard only)."""
    for _ in range(limit):
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} never got the focus with Tab")


def test_keyboard_only_filing_without_the_map(open_browser, world):
    browser = open_browser(**DESKTOP)
    page = browser.page
    page.goto("/signaler/")
    # the skip link first
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    tab_to(page, "#address")
    page.keyboard.type("Devant le 3 rue du Test")
    tab_to(page, "#no-map > summary")
    page.keyboard.press("Enter")
    tab_to(page, "#place")
    page.keyboard.type("Secteur Ouest")
    expect(page.locator("#place")).to_have_value(re.compile(r"^zone-"))
    tab_to(page, "#category-search")
    page.keyboard.type("lampadaire")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    expect(page.locator("#cat-lampadaire")).to_be_checked()
    # the focus is visible: a yellow and black ring
    shadow = page.evaluate("getComputedStyle(document.activeElement.nextElementSibling).boxShadow")
    assert "rgb(255, 221, 0)" in shadow
    tab_to(page, "#description")
    page.keyboard.type("Le lampadaire clignote toute la nuit")
    tab_to(page, "#submit")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/signaler/envoye/SIG-"))
    report = Report.objects.get()
    assert report.address == "Devant le 3 rue du Test"
    assert report.ticket.service == world.lighting


def test_filing_works_without_scripts(open_browser, world):
    browser = open_browser(**PHONE, java_script_enabled=False)
    page = browser.page
    page.goto("/signaler/")
    lon, lat = at(-500, 100)
    page.get_by_label("Latitude").fill(f"{lat:.6f}".replace(".", ","))
    page.get_by_label("Longitude").fill(f"{lon:.6f}".replace(".", ","))
    page.get_by_text("Nid de poule", exact=True).click()
    page.get_by_label("Description").fill("Sans JavaScript")
    page.get_by_role("button", name="Envoyer le signalement").click()
    expect(page).to_have_url(re.compile(r"/signaler/envoye/SIG-"))
    expect(page.locator("#service")).to_have_text("Voirie Ouest")


def test_an_agent_works_a_ticket_through_its_transitions(open_browser, world, templates):
    filed = file_report(world, -500, 100, description="Trou devant l'école")
    reference = filed.report.reference
    browser = open_browser(**PHONE)
    page = browser.page
    page.goto(f"/agents/tickets/{reference}/")
    expect(page).to_have_url(re.compile(r"/connexion/\?next="))
    assert_accessible(page)
    page.get_by_label("Identifiant").fill("agent-ouest")
    page.get_by_label("Mot de passe").fill("x")
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(re.compile(f"/agents/tickets/{reference}/$"))
    assert_accessible(page)

    buttons = page.locator("#action-etat button[name=state]")
    expect(buttons).to_have_text(["Pris en compte", "Programmé", "En cours", "Résolu", "Rejeté"])
    expect(page.get_by_role("link", name="Itinéraire")).to_have_attribute(
        "href", re.compile(r"openstreetmap")
    )
    page.get_by_role("button", name="Pris en compte").click()
    expect(page.locator(".messages")).to_contain_text("Ticket passé à « Pris en compte »")
    expect(buttons).to_have_text(["Programmé", "En cours", "Résolu", "Rejeté"])

    # a response template fills the public message
    page.locator("#transition-template").select_option(label="Intervention programmée")
    expect(page.locator("#transition-message")).to_have_value("Une équipe interviendra cette semaine.")
    page.get_by_role("button", name="En cours").click()
    expect(page.locator(".meta .state")).to_have_text("En cours")

    # resolved with a photo of the repair
    page.locator("#transition-message").fill("Trou rebouché ce matin.")
    page.locator("#transition-photo").set_input_files(
        {"name": "apres.jpg", "mimeType": "image/jpeg", "buffer": gps_jpeg(*at(-500, 100))}
    )
    page.get_by_role("button", name="Résolu").click()
    expect(page.locator(".meta .state")).to_have_text("Résolu")
    expect(page.locator("#action-etat")).to_have_count(0)
    expect(page.locator("#history")).to_contain_text("Trou rebouché ce matin.")
    assert_accessible(page)

    ticket = Ticket.objects.get(report__reference=reference)
    assert ticket.state == TicketState.RESOLU
    assert ticket.report.photos.count() == 1

    # the queue, as a list and on the map
    page.get_by_role("link", name="Tickets", exact=True).click()
    page.get_by_label("État").select_option("resolu")
    page.get_by_role("button", name="Filtrer").click()
    expect(page.locator("#queue-list")).to_contain_text(reference)
    assert_accessible(page)
    page.get_by_role("button", name="Carte").click()
    expect(page.locator("#queue-map .leaflet-marker-icon")).to_have_count(1)
    assert_accessible(page)


def test_home_map_and_public_pages_are_accessible(open_browser, world):
    filed = file_report(world, -500, 100)
    browser = open_browser(**DESKTOP)
    page = browser.page
    with page.expect_response(re.compile(r"/tiles/reports/\d+/\d+/\d+\.mvt")) as tile:
        page.goto("/")
    assert tile.value.status in (200, 204)
    expect(page.locator("#home-map .leaflet-tile-loaded").first).to_be_attached()
    assert_accessible(page)
    page.get_by_label("État").select_option("ouverts")
    page.get_by_role("button", name="Filtrer").click()
    expect(page.locator(".cards")).to_contain_text(filed.report.reference)
    page.get_by_role("link", name=re.compile("Nid de poule")).first.click()
    expect(page).to_have_url(re.compile(f"/signalements/{filed.report.reference}/$"))
    expect(page.locator("#report-map .pin-icon")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="Projets", exact=True).click()
    assert_accessible(page)
