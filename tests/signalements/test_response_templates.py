"""Response templates belong to an organisation: its staff see and insert them, others never do.

Organisation X is the world's town (agents of « Voirie Ouest »/« Voirie Est », a manager); Y is a
neighbouring town with its own service and agent. Each has one template, and one is shared (no
organisation). An agent of X must neither list Y's template (API, ticket page, admin) nor insert it by
posting its id.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps as global_apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse
from rest_framework.test import APIClient

from geo.models import DefaultService, Membership, Organisation
from signalements.models import ResponseTemplate, Ticket, TicketEvent, TicketState
from signalements.services import report_create
from tests.factories import CategoryFactory, OrganisationFactory, ServiceFactory, ZoneFactory, square
from tests.signalements.world import World, at

pytestmark = pytest.mark.django_db

TEXT_X = "Texte de la Ville de Test : nos équipes passent."
TEXT_Y = "Texte confidentiel de la Ville Voisine : procédure interne 12-B."
TEXT_SHARED = "Merci pour votre signalement."


@dataclass
class Templates:
    x: ResponseTemplate
    y: ResponseTemplate
    shared: ResponseTemplate
    other_y: Organisation
    agent_y: Any


@pytest.fixture
def tpl(world: World) -> Templates:
    other = OrganisationFactory(name="Ville Voisine")
    service_y = ServiceFactory(organisation=other, name="Voirie Voisine")
    agent_y = get_user_model().objects.create_user("agent-voisin", password="x")
    Membership.objects.create(user=agent_y, organisation=other, service=service_y, role=Membership.Role.AGENT)
    return Templates(
        x=ResponseTemplate.objects.create(
            organisation=world.organisation, category=world.voirie, title="Passage X", text=TEXT_X
        ),
        y=ResponseTemplate.objects.create(
            organisation=other, category=world.voirie, title="Procédure Y", text=TEXT_Y
        ),
        shared=ResponseTemplate.objects.create(title="Commun", text=TEXT_SHARED),
        other_y=other,
        agent_y=agent_y,
    )


def _ticket(world: World) -> Ticket:
    lon, lat = at(-500, 100)
    return report_create(category="nid-de-poule", lon=lon, lat=lat, description="Un trou.").ticket


# --- who may use which -----------------------------------------------------------------------------


def test_staff_use_their_organisations_and_the_shared_templates(world: World, tpl: Templates) -> None:
    def usable(user: Any) -> set[str]:
        return set(ResponseTemplate.objects.usable_by(user).values_list("title", flat=True))

    assert usable(world.agent_west) == usable(world.manager) == {"Passage X", "Commun"}
    assert usable(tpl.agent_y) == {"Procédure Y", "Commun"}
    superuser = get_user_model().objects.create_superuser("racine", "racine@example.org", "x")
    assert usable(superuser) == {"Passage X", "Procédure Y", "Commun"}
    # A citizen, a planner (no ticket role) and a deactivated agent: nothing of any organisation.
    assert usable(world.outsider) == {"Commun"}
    planner = get_user_model().objects.create_user("urbaniste", password="x")
    Membership.objects.create(user=planner, organisation=world.organisation, role=Membership.Role.PLANNER)
    assert usable(planner) == {"Commun"}
    world.agent_east.is_active = False
    world.agent_east.save()
    assert usable(world.agent_east) == set()


def test_inactive_templates_are_never_offered(world: World, tpl: Templates) -> None:
    ResponseTemplate.objects.filter(pk=tpl.x.pk).update(is_active=False)
    assert not ResponseTemplate.objects.usable_by(world.agent_west).filter(pk=tpl.x.pk).exists()


# --- the API ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("category", ["", "nid-de-poule", "voirie"])
def test_the_api_lists_only_the_agents_organisation(world: World, tpl: Templates, category: str) -> None:
    api = APIClient()
    api.force_login(world.agent_west)
    answer = api.get("/api/response-templates/", {"category": category} if category else {})
    assert answer.status_code == 200
    assert {t["title"] for t in answer.json()} == {"Passage X", "Commun"}
    assert TEXT_Y not in answer.content.decode()
    api.force_login(tpl.agent_y)
    assert {t["title"] for t in api.get("/api/response-templates/").json()} == {"Procédure Y", "Commun"}


def test_a_template_of_another_category_is_not_listed_for_a_category(world: World, tpl: Templates) -> None:
    ResponseTemplate.objects.create(organisation=world.organisation, category=world.lampadaire, title="Lampe")
    api = APIClient()
    api.force_login(world.agent_west)
    titles = {t["title"] for t in api.get("/api/response-templates/", {"category": "nid-de-poule"}).json()}
    assert titles == {"Passage X", "Commun"}


# --- the ticket page -------------------------------------------------------------------------------


def _url(ticket: Ticket, action: str | None = None) -> str:
    if action:
        return reverse("web:ticket-action", args=[ticket.report.reference, action])
    return reverse("web:ticket", args=[ticket.report.reference])


def test_the_ticket_page_offers_only_the_tickets_organisation_templates(
    client: Any, world: World, tpl: Templates
) -> None:
    ticket = _ticket(world)
    client.force_login(world.agent_west)
    html = client.get(_url(ticket)).content.decode()
    assert "Passage X" in html and "Commun" in html
    assert "Procédure Y" not in html and TEXT_Y not in html
    # Even a superuser is offered the ticket's organisation's templates only (it is their answer).
    client.force_login(get_user_model().objects.create_superuser("racine", "racine@example.org", "x"))
    html = client.get(_url(ticket)).content.decode()
    assert "Passage X" in html and "Procédure Y" not in html


@pytest.mark.parametrize(
    ("action", "extra"),
    [("message", {}), ("etat", {"state": TicketState.PRIS_EN_COMPTE, "form": "transition"})],
)
def test_posting_another_organisations_template_id_inserts_nothing(
    client: Any, world: World, tpl: Templates, action: str, extra: dict[str, str]
) -> None:
    ticket = _ticket(world)
    client.force_login(world.agent_west)
    refused = client.post(_url(ticket, action), {"template": tpl.y.pk, **extra})
    assert refused.status_code == 400
    assert TEXT_Y not in refused.content.decode()
    assert "Réponse type introuvable." in refused.content.decode()
    ticket.refresh_from_db()
    assert ticket.state == TicketState.NOUVEAU
    assert not TicketEvent.objects.filter(public_message__contains="12-B").exists()
    # Its own organisation's template goes through.
    assert client.post(_url(ticket, action), {"template": tpl.x.pk, **extra}).status_code == 302
    assert TicketEvent.objects.filter(ticket=ticket, public_message=TEXT_X).count() == 1


# --- the admin -------------------------------------------------------------------------------------


@pytest.fixture
def manager_admin(client: Any, world: World) -> Any:
    """The service manager of X with Django admin access and every right on templates."""
    manager = world.manager
    manager.is_staff = True
    manager.save()
    manager.user_permissions.set(Permission.objects.filter(codename__endswith="_responsetemplate"))
    client.force_login(manager)
    return client


def test_the_admin_lists_and_opens_only_the_users_organisation(
    manager_admin: Any, world: World, tpl: Templates
) -> None:
    listing = manager_admin.get("/admin/signalements/responsetemplate/").content.decode()
    assert "Passage X" in listing and "Commun" in listing
    assert "Procédure Y" not in listing and "Ville Voisine" not in listing
    other = manager_admin.get(f"/admin/signalements/responsetemplate/{tpl.y.pk}/change/")
    assert other.status_code == 302 and TEXT_Y not in other.content.decode()
    assert manager_admin.get(f"/admin/signalements/responsetemplate/{tpl.x.pk}/change/").status_code == 200
    # The shared wording is the platform's: readable, not editable, not deletable.
    shared = manager_admin.get(f"/admin/signalements/responsetemplate/{tpl.shared.pk}/change/")
    assert shared.status_code == 200 and 'name="title"' not in shared.content.decode()
    assert (
        manager_admin.post(
            f"/admin/signalements/responsetemplate/{tpl.shared.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )


def test_the_admin_creates_templates_for_the_users_organisation_only(
    manager_admin: Any, world: World, tpl: Templates
) -> None:
    form = manager_admin.get("/admin/signalements/responsetemplate/add/").content.decode()
    assert "Ville de Test" in form and "Ville Voisine" not in form
    body = {"title": "Nouvelle", "text": "Bonjour.", "state": "", "category": "", "is_active": "on"}
    for organisation in (tpl.other_y.pk, ""):  # another organisation's, or shared: refused
        answer = manager_admin.post(
            "/admin/signalements/responsetemplate/add/", {**body, "organisation": organisation}
        )
        assert answer.status_code == 200 and "errornote" in answer.content.decode()
    assert not ResponseTemplate.objects.filter(title="Nouvelle").exists()
    answer = manager_admin.post(
        "/admin/signalements/responsetemplate/add/", {**body, "organisation": world.organisation.pk}
    )
    assert answer.status_code == 302
    assert ResponseTemplate.objects.get(title="Nouvelle").organisation == world.organisation


def test_a_superuser_manages_every_template_and_the_shared_ones(client: Any, tpl: Templates) -> None:
    client.force_login(get_user_model().objects.create_superuser("racine", "racine@example.org", "x"))
    listing = client.get("/admin/signalements/responsetemplate/").content.decode()
    assert "Passage X" in listing and "Procédure Y" in listing and "Commun" in listing
    body = {"title": "Commune à tous", "text": "Merci.", "state": "", "category": "", "is_active": "on"}
    assert client.post("/admin/signalements/responsetemplate/add/", body).status_code == 302
    assert ResponseTemplate.objects.get(title="Commune à tous").organisation is None


# --- the migration ---------------------------------------------------------------------------------

migration = importlib.import_module("signalements.migrations.0006_responsetemplate_organisation")


def test_the_migration_gives_each_template_the_one_organisation_routing_its_category(world: World) -> None:
    # Voirie (and its child) is routed to X alone; « Propreté » to services of X and of Y.
    proprete = CategoryFactory(code="proprete", name="Propreté")
    other = OrganisationFactory(name="Ville Voisine")
    ZoneFactory(
        name="Chez Y",
        service=ServiceFactory(organisation=other),
        categories=[proprete],
        geom=square(2000, 2000, 3000, 3000),
    )
    DefaultService.objects.create(territory=world.territory, category=proprete, service=world.west)
    ResponseTemplate.objects.create(category=world.voirie, title="a", text="a")
    ResponseTemplate.objects.create(category=world.nid, title="b", text="b")
    ResponseTemplate.objects.create(category=world.lampadaire, title="c", text="c")
    ResponseTemplate.objects.create(category=proprete, title="d", text="d")
    ResponseTemplate.objects.create(title="e", text="e")
    ResponseTemplate.objects.create(organisation=other, category=world.voirie, title="f", text="f")
    migration.assign_organisations(global_apps, None)
    owners = dict(ResponseTemplate.objects.values_list("title", "organisation_id"))
    x = world.organisation.pk
    assert owners == {"a": x, "b": x, "c": x, "d": None, "e": None, "f": other.pk}


def test_the_migration_gives_general_templates_to_a_single_organisation(world: World) -> None:
    general = ResponseTemplate.objects.create(title="e", text="e")
    migration.assign_organisations(global_apps, None)
    general.refresh_from_db()
    assert general.organisation == world.organisation
