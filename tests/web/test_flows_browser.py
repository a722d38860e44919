"""End-to-end flows in Debian's chromium (Playwright) against the live test server, one screenshot per
step: a citizen's report resolved by the right service and seen on the private tracking page; a
citizen's drawn contribution answered officially by the project team and shown publicly.

Screenshots go to ``$CONCERTO_SCREENSHOTS`` (default ``var/screenshots/`` in the repository, which
git ignores), named ``<test>-<nn>-<step>.png``. The ``open_browser`` fixture (conftest) checks that no
request left for another host and that no script failed.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from geo.models import OutboxMessage
from signalements.models import Report, Ticket, TicketState
from tests.signalements.world import at
from tests.urbanisme.world import concertation as concertation  # the fixture
from tests.web.conftest import DESKTOP, PHONE, assert_accessible, file_report
from urbanisme import services as urbanisme
from urbanisme.models import Contribution, Reply

pytestmark = pytest.mark.django_db(transaction=True)

REPO = Path(__file__).resolve().parents[2]


def screenshots_dir() -> Path:
    folder = Path(os.environ.get("CONCERTO_SCREENSHOTS") or REPO / "var" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Steps:
    """``steps.shot(page, "name")`` saves ``<test>-<nn>-<name>.png``, numbering the steps in order."""

    def __init__(self, test: str) -> None:
        self.test = test
        self.count = 0
        self.folder = screenshots_dir()

    def shot(self, page: Any, step: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.test}-{self.count:02d}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def steps(request: Any) -> Steps:
    return Steps(request.node.name.removeprefix("test_"))


def sign_in(page: Any, username: str) -> None:
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill("x")
    page.get_by_role("button", name="Se connecter").click()


def test_a_report_filed_on_a_phone_is_resolved_and_tracked(open_browser, world, steps):
    # 1. the citizen, on a phone, files a report
    lon, lat = at(-500, 100)
    citizen = open_browser(
        **PHONE, geolocation={"latitude": lat, "longitude": lon, "accuracy": 8}, permissions=["geolocation"]
    )
    page = citizen.page
    page.goto("/signaler/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Signaler un problème")
    page.get_by_role("button", name="Me localiser").click()
    expect(page.locator("#position-status")).to_contain_text("Position trouvée")
    page.get_by_label("Rechercher une catégorie").fill("poule")
    page.get_by_text("Nid de poule", exact=True).click()
    expect(page.locator("#check-status")).to_contain_text("Voirie Ouest")
    page.get_by_label("Description").fill("Nid de poule profond devant l'école")
    page.get_by_label("Votre e-mail").fill("habitante@example.net")
    steps.shot(page, "formulaire")
    page.get_by_role("button", name="Envoyer le signalement").click()
    expect(page).to_have_url(re.compile(r"/signaler/envoye/SIG-"))
    report = Report.objects.get()
    expect(page.locator("#reference")).to_have_text(report.reference)
    expect(page.locator("#service")).to_have_text("Voirie Ouest")
    steps.shot(page, "envoye")

    # the private tracking link, from the confirmation e-mail waiting in the outbox
    mail = OutboxMessage.objects.get(destination="habitante@example.net")
    tracking = re.search(r"/suivi/([^/\s]+)/", mail.body_text)
    assert tracking, mail.body_text

    # 2. an agent of the right service signs in, takes the ticket and resolves it
    agent = open_browser(**DESKTOP)
    desk = agent.page
    desk.goto(f"/agents/tickets/{report.reference}/")
    expect(desk).to_have_url(re.compile(r"/connexion/\?next="))
    steps.shot(desk, "connexion-agent")
    sign_in(desk, "agent-ouest")
    expect(desk).to_have_url(re.compile(f"/agents/tickets/{report.reference}/$"))
    steps.shot(desk, "ticket")
    desk.locator("summary", has_text="Attribution").click()
    desk.get_by_role("button", name="Me l'attribuer").click()
    expect(desk.locator(".messages")).to_be_visible()
    desk.get_by_role("button", name="Pris en compte").click()
    expect(desk.locator(".messages")).to_contain_text("Ticket passé à « Pris en compte »")
    steps.shot(desk, "pris-en-compte")
    desk.locator("#transition-message").fill("Trou rebouché ce matin, merci de votre signalement.")
    desk.get_by_role("button", name="Résolu").click()
    expect(desk.locator(".meta .state")).to_have_text("Résolu")
    steps.shot(desk, "resolu")
    report.ticket.refresh_from_db()
    assert report.ticket.state == TicketState.RESOLU
    assert report.ticket.assigned_to.username == "agent-ouest"

    # 3. the citizen's tracking page shows « Résolu » and the public message
    page.goto(f"/suivi/{tracking.group(1)}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Nid de poule")
    expect(page.locator("main")).to_contain_text("Résolu")
    expect(page.locator("main")).to_contain_text("Trou rebouché ce matin, merci de votre signalement.")
    assert_accessible(page)
    steps.shot(page, "suivi")
    assert len(list(steps.folder.glob("a_report_filed_on_a_phone_is_resolved_and_tracked-*.png"))) >= 7


def test_a_drawn_contribution_is_answered_officially(open_browser, concertation, steps):
    c = concertation
    # 1. the citizen draws a zone on the project's contribution map and sends it
    citizen = open_browser(**PHONE)
    page = citizen.page
    page.goto(f"/projets/{c.project.slug}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(c.project.title)
    steps.shot(page, "projet")
    page.get_by_role("link", name="Contribuer", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Contribuer")
    page.get_by_role("button", name="Dessiner une zone").click()
    page.locator("#contribute-map").scroll_into_view_if_needed()
    box = page.locator("#contribute-map").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for dx, dy in ((-40, -30), (40, -30), (40, 30), (-40, 30)):
        page.mouse.click(cx + dx, cy + dy)
    expect(page.locator("#draw-status")).to_contain_text("4 points placés")
    page.get_by_role("button", name="Terminer le tracé").click()
    expect(page.locator("#draw-status")).to_contain_text("Zone dessinée (4 sommets)")
    steps.shot(page, "zone-dessinee")
    page.get_by_text("Question", exact=True).click()
    page.get_by_label("Titre").fill("Un abri pour le marché ?")
    page.get_by_label("Votre texte").fill("Les jours de pluie, le marché manque d'un abri ici.")
    page.get_by_label("Pseudonyme").fill("Maya")
    page.get_by_role("button", name="Envoyer ma contribution").click()
    expect(page).to_have_url(re.compile(rf"/projets/{c.project.slug}/contributions/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Un abri pour le marché ?")
    steps.shot(page, "envoyee")
    contribution = Contribution.objects.get()
    assert contribution.geom.geom_type == "Polygon"

    # 2. a planner answers it officially from the moderation page
    team = open_browser(**DESKTOP)
    desk = team.page
    desk.goto(f"/urbanisme/projets/{c.project.slug}/moderation/")
    expect(desk).to_have_url(re.compile(r"/connexion/\?next="))
    sign_in(desk, c.planner.username)
    expect(desk).to_have_url(re.compile(rf"/urbanisme/projets/{c.project.slug}/moderation/$"))
    steps.shot(desk, "moderation")
    card = desk.locator(f"#contribution-{contribution.pk}")
    card.get_by_text("Réponse officielle de l'équipe").click()
    card.get_by_label("Réponse", exact=True).fill("Un auvent est prévu côté nord de la place.")
    card.get_by_role("button", name="Publier la réponse officielle").click()
    expect(desk.locator(".messages")).to_contain_text("Réponse officielle publiée")
    steps.shot(desk, "reponse-publiee")
    assert Reply.objects.get(contribution=contribution).is_official

    # 3. the public contribution page shows the official answer
    page.reload()
    official = page.locator(".thread-reply-official")
    expect(official).to_contain_text("Réponse officielle de l'équipe du projet")
    expect(official).to_contain_text("Un auvent est prévu côté nord de la place.")
    assert_accessible(page)
    steps.shot(page, "reponse-visible")


def test_a_manager_reads_the_organisation_dashboard(open_browser, world, concertation, steps):
    tickets = [
        file_report(world, east, north).ticket for east, north in ((-500, 100), (-600, 150), (500, 100))
    ]
    file_report(world, -500, -100, category="lampadaire", description="Éteint")
    now = timezone.now()
    Ticket.objects.filter(pk=tickets[0].pk).update(
        state=TicketState.RESOLU, created_at=now - timedelta(days=3), closed_at=now - timedelta(days=1)
    )
    Ticket.objects.filter(pk=tickets[2].pk).update(due_at=now - timedelta(days=1))
    urbanisme.contribution_create(
        project=concertation.project,
        kind="idee",
        title="Des bancs",
        text="Texte",
        geometry=concertation.point(),
    )
    browser = open_browser(**DESKTOP)
    page = browser.page
    page.goto("/agents/tableau-de-bord/")
    sign_in(page, "responsable")
    with page.expect_response(re.compile(r"/tiles/reports/\d+/\d+/\d+\.mvt")) as tile:
        expect(page).to_have_url(re.compile(r"/agents/tableau-de-bord/$"))
    assert tile.value.status in (200, 204)
    expect(page.get_by_role("heading", level=1)).to_have_text("Tableau de bord — Ville de Test")
    expect(page.locator("nav [aria-current=page]")).to_have_text("Tableau de bord")
    expect(page.locator("#chart-categories-table")).to_contain_text("Voirie › Nid de poule")
    expect(page.locator("#chart-zones-table")).to_contain_text("Secteur Ouest")
    expect(page.locator("#services-table")).to_contain_text("2,0 j")  # the median resolution
    expect(page.locator("#chart-overdue-table")).to_contain_text("Voirie Est")
    expect(page.locator("#chart-channels-table")).to_contain_text("En ligne")
    expect(page.locator("#dashboard-map .leaflet-tile-loaded").first).to_be_attached()
    assert_accessible(page)
    steps.shot(page, "tableau-de-bord")
