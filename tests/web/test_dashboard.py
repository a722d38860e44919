"""The organisation dashboard through Django's test client: who may open it, and its figures checked
against a known town (``world``) and concertation, with another organisation's data never shown."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from geo.models import Membership, Organisation, Service
from signalements.models import Ticket, TicketState
from tests.factories import ZoneFactory, square
from tests.signalements.world import World
from tests.urbanisme.world import Concertation, build_concertation
from tests.urbanisme.world import concertation as concertation  # the fixture
from tests.web.conftest import file_report
from urbanisme import services as urbanisme
from urbanisme.models import Contribution, ContributionChannel, Project

pytestmark = pytest.mark.django_db

URL = reverse("web:dashboard")


def user_with(username: str, organisation: Organisation, role: str, service: Service | None = None) -> Any:
    user = get_user_model().objects.create_user(username=username, password="x")
    Membership.objects.create(user=user, organisation=organisation, service=service, role=role)
    return user


def resolve(ticket: Ticket, *, opened_days_ago: float, resolved_days_ago: float) -> None:
    now = timezone.now()
    Ticket.objects.filter(pk=ticket.pk).update(
        state=TicketState.RESOLU,
        created_at=now - timedelta(days=opened_days_ago),
        closed_at=now - timedelta(days=resolved_days_ago),
    )


@pytest.fixture
def other(world: World) -> dict[str, Any]:
    """Another organisation with its own service, zone, manager, one ticket and one project."""
    organisation = Organisation.objects.create(name="Ville Voisine", kind="commune")
    service = Service.objects.create(organisation=organisation, name="Voirie Voisine")
    ZoneFactory(
        name="Secteur Voisin", service=service, categories=[world.voirie], geom=square(0, -2000, 2000, 2000)
    )
    ticket = file_report(world, 700, 100, description="Chez les voisins").ticket
    Ticket.objects.filter(pk=ticket.pk).update(service=service, due_at=timezone.now() - timedelta(days=3))
    manager = user_with("responsable-voisin", organisation, Membership.Role.SERVICE_MANAGER)
    return {"organisation": organisation, "service": service, "manager": manager}


@pytest.fixture
def town(world: World, concertation: Concertation, other: dict[str, Any]) -> World:
    """Known figures: Voirie Ouest resolved two tickets (in 2 and 6 days: median 4), Voirie Est has one
    overdue ticket, lighting one open ticket on time; four contributions to the organisation's project,
    one to another organisation's."""
    r1 = file_report(world, -500, 100).ticket
    r2 = file_report(world, -600, 100).ticket
    resolve(r1, opened_days_ago=4, resolved_days_ago=2)
    resolve(r2, opened_days_ago=10, resolved_days_ago=4)
    r3 = file_report(world, 500, 100).ticket
    Ticket.objects.filter(pk=r3.pk).update(due_at=timezone.now() - timedelta(days=1))
    file_report(world, -500, -100, category="lampadaire", description="Éteint")
    c = concertation
    for title in ("Des bancs", "Des arbres"):
        urbanisme.contribution_create(
            project=c.project, kind="idee", title=title, text="Texte", geometry=c.point()
        )
    urbanisme.contribution_create(
        project=c.project, kind="question", title="Le marché ?", text="Où ira le marché ?",
        geometry=c.point(), actor=c.planner, channel=ContributionChannel.REUNION, channel_label="Réunion du 12 mars",
    )  # fmt: skip
    register = urbanisme.contribution_create(
        project=c.project, kind="idee", title="Au registre", text="Une fontaine.", geometry=c.point(),
        actor=c.planner, channel=ContributionChannel.REGISTRE, channel_label="Registre",
    )  # fmt: skip
    Contribution.objects.filter(pk=register.pk).update(phase=c.info)  # written during the information phase
    elsewhere = build_concertation(slug="chez-les-voisins")
    urbanisme.contribution_create(
        project=elsewhere.project, kind="idee", title="Ailleurs", text="Texte", geometry=elsewhere.point()
    )
    Project.objects.filter(pk=elsewhere.project.pk).update(organisation=other["organisation"])
    return world


# --- access ---------------------------------------------------------------------------------------


def test_signed_out_visitors_are_sent_to_sign_in(client, world):
    answer = client.get(URL)
    assert answer.status_code == 302
    assert answer["Location"].startswith(reverse("web:login") + "?next=")


@pytest.mark.parametrize("who", ["citizen", "agent", "planner"])
def test_citizens_agents_and_planners_are_refused(client, world, concertation, who):
    user = {"citizen": world.outsider, "agent": world.agent_west, "planner": concertation.planner}[who]
    client.force_login(user)
    answer = client.get(URL)
    assert answer.status_code == 403
    assert "Tableau de bord" not in answer.content.decode()


def test_a_service_manager_with_a_service_is_admitted(client, world):
    client.force_login(
        user_with("chef-ouest", world.organisation, Membership.Role.SERVICE_MANAGER, world.west)
    )
    assert client.get(URL).status_code == 200


@pytest.mark.parametrize("who", ["manager", "administrator"])
def test_managers_and_administrators_see_their_organisation_and_the_nav_link(client, world, who):
    user = (
        world.manager
        if who == "manager"
        else user_with("admin-ville", world.organisation, Membership.Role.ADMINISTRATOR)
    )
    client.force_login(user)
    answer = client.get(URL)
    assert answer.status_code == 200
    assert answer.context["organisation"] == world.organisation
    html = answer.content.decode()
    assert f'href="{URL}" aria-current="page"' in html  # the staff navigation
    assert "Tableau de bord — Ville de Test" in html


def test_the_nav_link_is_only_for_those_who_may_open_it(client, world):
    client.force_login(world.agent_west)
    assert URL not in client.get(reverse("web:queue")).content.decode()
    client.force_login(world.manager)
    assert URL in client.get(reverse("web:queue")).content.decode()


def test_another_organisation_is_out_of_reach(client, town, other):
    client.force_login(other["manager"])
    answer = client.get(URL)
    assert answer.status_code == 200
    assert answer.context["organisation"] == other["organisation"]
    tickets = answer.context["tickets"]
    assert tickets["total"] == 1 and tickets["overdue"] == 1
    assert [s["name"] for s in tickets["services"]] == ["Voirie Voisine"]
    assert answer.context["contributions"]["total"] == 1
    html = answer.content.decode()
    for foreign in ("Voirie Ouest", "Voirie Est", "Éclairage public", "Secteur Ouest", "Ville de Test"):
        assert foreign not in html
    # asking for the other organisation by id answers as if it did not exist
    assert client.get(URL, {"organisation": town.organisation.pk}).status_code == 404


def test_a_superuser_picks_any_organisation(client, town, other):
    admin = get_user_model().objects.create_superuser("racine", password="x")
    client.force_login(admin)
    answer = client.get(URL, {"organisation": other["organisation"].pk})
    assert answer.status_code == 200
    assert answer.context["organisation"] == other["organisation"]
    assert 'name="organisation"' in answer.content.decode()


# --- figures --------------------------------------------------------------------------------------


def test_figures_match_the_known_town(client, town, other):
    client.force_login(town.manager)
    answer = client.get(URL)
    assert answer.status_code == 200
    tickets = answer.context["tickets"]
    assert tickets["total"] == 4
    assert tickets["open"] == 2
    assert tickets["overdue"] == 1
    assert {c["label"]: c["count"] for c in tickets["categories"]} == {
        "Voirie › Nid de poule": 3,
        "Éclairage › Lampadaire éteint": 1,
    }
    assert {s["code"]: s["count"] for s in tickets["states"]} == {"nouveau": 2, "resolu": 2}
    services = {s["name"]: s for s in tickets["services"]}
    assert set(services) == {"Voirie Ouest", "Voirie Est", "Éclairage public"}
    west, east, lighting = services["Voirie Ouest"], services["Voirie Est"], services["Éclairage public"]
    assert (west["total"], west["open"], west["overdue"], west["resolved"]) == (2, 0, 0, 2)
    assert west["median_days"] == pytest.approx(4.0, abs=1e-3)  # percentile_cont of 2 and 6 days
    assert (east["total"], east["overdue"], east["median_days"]) == (1, 1, None)
    assert (lighting["total"], lighting["overdue"], lighting["median_days"]) == (1, 0, None)
    # by zone: geometry only, the other organisation's zone and ticket left out
    assert answer.context["zones"] == [
        {"name": "Secteur Ouest", "count": 3},
        {"name": "Secteur Est", "count": 1},
    ]
    contributions = answer.context["contributions"]
    assert contributions["total"] == 4
    assert {p["label"]: p["count"] for p in contributions["phases"]} == {
        "Information": 1,
        "Concertation préalable": 3,
    }
    assert {c["label"]: c["count"] for c in contributions["channels"]} == {
        "En ligne": 2,
        "Réunion publique": 1,
        "Registre papier": 1,
    }
    # the map is fitted to the organisation's territories
    assert answer.context["map_config"]["bounds"] == answer.context["bounds"]


def test_charts_are_inline_svg_with_values_as_text_and_a_table(client, town):
    client.force_login(town.manager)
    html = client.get(URL).content.decode()
    assert html.count('<svg class="bar-chart"') == 8
    assert "style=" not in html.split("<main", 1)[1].split("</main>", 1)[0]  # classes, no inline styles
    assert "<script" not in html.split("<main", 1)[1].split("</main>", 1)[0]
    # a bar's value is written beside it, and the same figure is in the chart's table
    assert '<text class="bar-value" x="366.0" y="17">3</text>' in html  # the longest bar: 170 + 190 + 6
    assert '<th scope="row">Voirie › Nid de poule</th><td class="num">3</td>' in html
    assert "4,0 j" in html  # the median, written in the services' table
    assert (
        'id="chart-zones-table"' in html
        and '<th scope="row">Secteur Ouest</th><td class="num">3</td>' in html
    )
    assert 'id="dashboard-map"' in html and "pages/dashboard.js" in html


def test_the_number_of_queries_does_not_grow_with_the_data(client, world, concertation):
    client.force_login(world.manager)
    client.get(URL)  # warm caches (sessions, content types)
    with CaptureQueriesContext(connection) as few:
        assert client.get(URL).status_code == 200
    for east in (-900, -700, 300, 600, 900):
        resolve(file_report(world, east, 50).ticket, opened_days_ago=3, resolved_days_ago=1)
    urbanisme.contribution_create(
        project=concertation.project, kind="idee", title="Encore", text="Texte", geometry=concertation.point()
    )
    with CaptureQueriesContext(connection) as many:
        assert client.get(URL).status_code == 200
    assert len(many) == len(few)
    assert len(few) <= 15
