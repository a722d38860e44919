"""Permissions matrix of the API: every operation x every role, one cell per test.

Rows are the operations of ``/api/schema/`` (a schema operation without a row fails
``test_every_schema_operation_has_a_row``), plus the API routes outside the schema (the bilan exports,
Open311), checked against the URL resolver by ``test_every_api_route_has_a_row``. Some operations have
extra object-level rows (a draft project, an official answer). Each cell states the expected status;
refusals must also answer the one error shape ``{"code", "message"}`` and leak none of the private
strings of the town (report contact and description, internal note, draft title, author e-mail).

The town is built once per module inside a transaction rolled back at the end; each cell runs in a
savepoint of its own (pytest-django's ``db``), so writes of one cell never reach another.
Minimal valid bodies: an "allowed" cell is a real 2xx, never a 400 after the permission check.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import transaction
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from geo.models import Membership
from signalements import services as report_services
from signalements.models import Report, ReportContact
from signalements.open311 import keys
from tests.signalements.world import at
from tests.signalements.world import world as world_fixture
from tests.urbanisme.world import build_concertation
from urbanisme import layers, notifications, services
from urbanisme.models import ProjectFollower

ROLES = (
    "anonymous",
    "citizen",
    "agent_a",
    "agent_b",
    "manager",
    "planner_x",
    "planner_y",
    "moderator",
    "administrator",
    "superuser",
)
OPEN311_ROLES = (*ROLES, "api_client")

SECRET_DESCRIPTION = "Trou confidentiel devant le 7"
SECRET_NAME = "Jeanne Secrète"
SECRET_EMAIL = "jeanne.secrete@example.net"
SECRET_NOTE = "Note interne confidentielle"
SECRET_DRAFT = "Projet confidentiel du quartier Nord"
SECRET_AUTHOR = "auteur.secret@example.net"
SECRETS = (SECRET_DESCRIPTION, SECRET_NAME, SECRET_EMAIL, SECRET_NOTE, SECRET_DRAFT, SECRET_AUTHOR)

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


# --- expectations ----------------------------------------------------------------------------------


def every(status: int, roles: tuple[str, ...] = ROLES) -> dict[str, int]:
    return dict.fromkeys(roles, status)


def but(base: dict[str, int], **changes: int) -> dict[str, int]:
    return base | changes


TICKET_ALLOWED = ("agent_a", "manager", "administrator", "superuser")
PROJECT_MANAGERS = ("planner_x", "administrator", "superuser")
PROJECT_MODERATORS = (*PROJECT_MANAGERS, "moderator")


def ticket_cell(ok: int) -> dict[str, int]:
    """A ticket of service A: its staff works it; other staff get 404 (existence is private)."""
    return every(404) | {"anonymous": 403, "citizen": 403} | dict.fromkeys(TICKET_ALLOWED, ok)


def team(ok: int, roles: tuple[str, ...], *, refused: int = 403, anonymous: int = 403) -> dict[str, int]:
    return every(refused) | {"anonymous": anonymous} | dict.fromkeys(roles, ok)


@dataclass(frozen=True)
class Op:
    method: str
    path: str  # as in the schema, with {placeholders}
    name: str  # URL name ("namespace:name"), for the resolver check
    expect: dict[str, int]
    body: Any = None
    variant: str = ""  # object-level variant of a schema operation
    fmt: str = "json"  # "json", "multipart" or "form"
    kind: str = "drf"  # "drf", "django" (session views) or "open311"
    params: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}{f' [{self.variant}]' if self.variant else ''}"


P = "/api/urbanisme/projets/{slug}/"
C = P + "contributions/{id}/"
L = P + "couches/{layer}/"
T = "/api/tickets/{reference}/"

OPS: tuple[Op, ...] = (
    Op("GET", "/api/schema/", "api-schema", every(200)),
    # Signalements, public.
    Op("GET", "/api/signalements/", "api:report-list", every(200)),
    Op("POST", "/api/signalements/", "api:report-list", every(201), body="report"),
    Op("GET", "/api/signalements/{reference}/", "api:report-detail", every(200)),
    Op("POST", "/api/signalements/{reference}/support/", "api:report-support", every(200), body={}),
    Op("GET", "/api/signalements/nearby/", "api:report-nearby", every(200), params={"nearby": "1"}),
    Op("GET", "/api/suivi/{token}/", "api:tracking", every(200)),
    # Signalements, staff (the ticket belongs to service A; planners and moderators hold a role but
    # no service: the queue answers them an empty page, any ticket a 404).
    Op("GET", "/api/tickets/", "api:ticket-list", every(200) | {"anonymous": 403, "citizen": 403}),
    Op("GET", T, "api:ticket-detail", ticket_cell(200)),
    Op("POST", T + "transition/", "api:ticket-transition", ticket_cell(200), {"state": "pris_en_compte"}),
    Op("POST", T + "assign/", "api:ticket-assign", ticket_cell(200), body="assign"),
    Op("POST", T + "priority/", "api:ticket-priority", ticket_cell(200), {"priority": 3}),
    Op("POST", T + "updates/", "api:ticket-update", ticket_cell(200), {"message": "Intervention prévue."}),
    Op("POST", T + "notes/", "api:ticket-note", ticket_cell(200), {"note": "Vu sur place."}),
    Op("POST", T + "reroute/", "api:ticket-reroute", ticket_cell(200), body="reroute"),
    Op("POST", T + "merge/", "api:ticket-merge", ticket_cell(200), body="merge"),
    Op(
        "GET",
        "/api/response-templates/",
        "api:response-templates",
        every(200) | {"anonymous": 403, "citizen": 403},
    ),
    # Urbanisme: projects (the published project and the draft belong to organisation X).
    Op("GET", "/api/urbanisme/projets/", "urbanisme-api:project-list", every(200)),
    Op(
        "POST",
        "/api/urbanisme/projets/",
        "urbanisme-api:project-list",
        # Anonymous: 404 « Projet introuvable » (the view refuses before the service: same answer
        # as a project one may not see).
        team(201, PROJECT_MANAGERS, anonymous=404),
        body="project",
    ),
    Op("GET", P, "urbanisme-api:project-detail", every(200)),
    Op(
        "GET",
        P,
        "urbanisme-api:project-detail",
        team(200, PROJECT_MODERATORS, refused=404, anonymous=404),
        variant="draft",
    ),
    Op("PATCH", P, "urbanisme-api:project-detail", team(200, PROJECT_MANAGERS), {"summary": "Résumé revu."}),
    Op(
        "PATCH",
        P,
        "urbanisme-api:project-detail",
        # The moderator sees the draft (200 on GET) but may not edit it: 403.
        team(200, PROJECT_MANAGERS, refused=404, anonymous=404) | {"moderator": 403},
        {"summary": "Résumé revu."},
        variant="draft",
    ),
    Op("GET", P + "phases/", "urbanisme-api:project-phases", every(200)),
    Op(
        "GET",
        P + "phases/",
        "urbanisme-api:project-phases",
        team(200, PROJECT_MODERATORS, refused=404, anonymous=404),
        variant="draft",
    ),
    Op("PUT", P + "phases/", "urbanisme-api:project-phases", team(200, PROJECT_MANAGERS), body="phases"),
    Op(
        "POST",
        P + "documents/",
        "urbanisme-api:project-documents",
        team(201, PROJECT_MANAGERS),
        body="document",
        fmt="multipart",
    ),
    Op("POST", P + "suivre/", "urbanisme-api:project-follow", every(202), {"email": "voisin@example.org"}),
    Op("POST", "/api/urbanisme/abonnement/{token}/confirmer/", "urbanisme-api:follow-confirm", every(200)),
    Op("POST", "/api/urbanisme/desabonnement/{token}/", "urbanisme-api:unfollow", every(204)),
    # Contributions.
    Op("GET", P + "contributions/", "urbanisme-api:contribution-list", every(200)),
    Op(
        "GET",
        P + "contributions/",
        "urbanisme-api:contribution-list",
        team(200, PROJECT_MODERATORS, refused=404, anonymous=404),
        variant="draft",
    ),
    Op("POST", P + "contributions/", "urbanisme-api:contribution-list", every(201), body="contribution"),
    Op("GET", C, "urbanisme-api:contribution-detail", every(200)),
    Op("POST", C + "reponses/", "urbanisme-api:contribution-replies", every(201), {"text": "Bonne idée."}),
    Op(
        "POST",
        C + "reponses/",
        "urbanisme-api:contribution-replies",
        team(201, PROJECT_MODERATORS),
        {"text": "Réponse de l'équipe.", "official": True},
        variant="official",
    ),
    Op("POST", C + "soutien/", "urbanisme-api:contribution-support", every(200), {}),
    Op(
        "POST",
        C + "moderation/",
        "urbanisme-api:contribution-moderate",
        team(200, PROJECT_MODERATORS),
        {"action": "hide", "reason": "Hors sujet"},
    ),
    Op(
        "POST",
        C + "reponses/{reply_pk}/moderation/",
        "urbanisme-api:reply-moderate",
        team(200, PROJECT_MODERATORS),
        {"action": "hide", "reason": "Hors sujet"},
    ),
    # The queue of a published project: 404 for signed-in outsiders, as for a draft.
    Op(
        "GET", P + "moderation/", "urbanisme-api:moderation-queue", team(200, PROJECT_MODERATORS, refused=404)
    ),
    Op(
        "POST",
        P + "bilan/publier/",
        "urbanisme-api:bilan-publish",
        team(200, PROJECT_MANAGERS),
        {"conclusion": "Merci."},
    ),
    # Layers (an annotation layer, published, with one feature).
    Op("GET", P + "couches/", "urbanisme-api:layer-list", every(200)),
    Op(
        "GET",
        P + "couches/",
        "urbanisme-api:layer-list",
        team(200, PROJECT_MANAGERS, refused=404, anonymous=404) | {"moderator": 404},
        variant="draft",
    ),
    Op(
        "POST",
        P + "couches/",
        "urbanisme-api:layer-list",
        team(201, PROJECT_MANAGERS),
        {"kind": "annotation", "name": "Esquisses"},
    ),
    Op("GET", L, "urbanisme-api:layer-detail", every(200)),
    Op("PATCH", L, "urbanisme-api:layer-detail", team(200, PROJECT_MANAGERS), {"name": "Esquisses 2"}),
    Op("DELETE", L, "urbanisme-api:layer-detail", team(204, PROJECT_MANAGERS)),
    Op("POST", L + "objets/", "urbanisme-api:layer-features", team(201, PROJECT_MANAGERS), body="annotation"),
    Op("DELETE", L + "objets/{feature}/", "urbanisme-api:layer-feature-detail", team(204, PROJECT_MANAGERS)),
    # Outside the schema: the bilan exports (Django views, session), before publication: team preview.
    *(
        Op("GET", P + suffix, name, team(200, PROJECT_MODERATORS, refused=404, anonymous=404), kind="django")
        for suffix, name in (
            ("bilan/", "urbanisme-bilan-json"),
            ("bilan.csv", "urbanisme-bilan-csv"),
            ("bilan.geojson", "urbanisme-bilan-geojson"),
        )
    ),
    # Open311: filing needs an API key, whatever the session; reads are public.
    Op(
        "POST",
        "/open311/v2/requests.json",
        "open311:requests",
        every(403, OPEN311_ROLES) | {"api_client": 200},
        body="open311",
        fmt="form",
        kind="open311",
    ),
    Op("GET", "/open311/v2/requests.json", "open311:requests", every(200, OPEN311_ROLES), kind="open311"),
    Op(
        "GET",
        "/open311/v2/requests/{reference}.json",
        "open311:request",
        every(200, OPEN311_ROLES),
        kind="open311",
    ),
    Op("GET", "/open311/v2/services.json", "open311:services", every(200, OPEN311_ROLES), kind="open311"),
    Op(
        "GET",
        "/open311/v2/services/nid-de-poule.json",
        "open311:service",
        every(200, OPEN311_ROLES),
        kind="open311",
    ),
    Op("GET", "/open311/v2/discovery.json", "open311:discovery", every(200, OPEN311_ROLES), kind="open311"),
    Op(
        "GET",
        "/open311/v2/tokens/{reference}.json",
        "open311:token",
        every(200, OPEN311_ROLES),
        kind="open311",
    ),
    Op(
        "GET",
        "/open311/v2/servicerequestupdates.json",
        "open311:updates",
        every(200, OPEN311_ROLES),
        kind="open311",
    ),
)

# Cells that show a defect: (operation id, role) -> reason; they run as strict xfail.
DEFECTS: dict[tuple[str, str], str] = {}


def _cells() -> list[Any]:
    cells = []
    for op in OPS:
        for role, status in op.expect.items():
            marks = []
            if (op.id, role) in DEFECTS:
                marks.append(pytest.mark.xfail(strict=True, reason=f"defect: {DEFECTS[op.id, role]}"))
            cells.append(pytest.param(op, role, status, id=f"{op.id} | {role} -> {status}", marks=marks))
    return cells


# --- the town, once per module ---------------------------------------------------------------------


@dataclass
class Town:
    users: dict[str, Any]
    values: dict[str, str]
    api_key: str
    original: str  # a second report of service A, the original of a merge


def _build(tmp: Any) -> Town:
    w = world_fixture._get_wrapped_function()(None)
    c = build_concertation()
    users_model = get_user_model()
    administrator = users_model.objects.create_user("administratrice", password="x")
    Membership.objects.create(
        user=administrator, organisation=c.organisation, role=Membership.Role.ADMINISTRATOR
    )
    superuser = users_model.objects.create_superuser("racine", password="x", email="racine@example.org")
    users = {
        "anonymous": None,
        "citizen": w.outsider,
        "agent_a": w.agent_west,
        "agent_b": w.agent_east,
        "manager": w.manager,
        "planner_x": c.planner,
        "planner_y": c.outsider,
        "moderator": c.moderator,
        "administrator": administrator,
        "superuser": superuser,
    }
    anonymous = APIClient()

    def file(east: float, north: float, **extra: Any) -> dict[str, Any]:
        lon, lat = at(east, north)
        body = {"lon": lon, "lat": lat, "category": "nid-de-poule", "description": "Un trou.", **extra}
        answer = anonymous.post("/api/signalements/", body, format="json")
        assert answer.status_code == 201, answer.content
        return answer.json()

    filed = file(
        -500,
        100,
        description=SECRET_DESCRIPTION,
        contact={"name": SECRET_NAME, "email": SECRET_EMAIL, "consent": True},
    )
    reference = filed["reference"]
    token = "jeton-de-suivi-du-test"  # the e-mail's link; only its hash is stored
    ReportContact.objects.filter(report__reference=reference).update(
        tracking_token_hash=report_services._hash_token(token)
    )
    original = file(-900, -300)["reference"]
    ticket = Report.objects.get(reference=reference).ticket
    report_services.ticket_internal_note(ticket=ticket, actor=w.agent_west, note=SECRET_NOTE)

    draft = services.project_create(
        actor=c.planner,
        territory=c.territory,
        organisation=c.organisation,
        title=SECRET_DRAFT,
        slug="projet-confidentiel",
        perimeter=c.project.perimeter,
    )
    contribution = anonymous.post(
        f"/api/urbanisme/projets/{c.project.slug}/contributions/",
        {
            "kind": "idee",
            "title": "Des arbres",
            "text": "Plus d'ombre.",
            "geometry": c.point(),
            "email": SECRET_AUTHOR,
            "name": SECRET_NAME,
        },
        format="json",
    )
    assert contribution.status_code == 201, contribution.content
    contribution_id = contribution.json()["id"]
    reply = anonymous.post(
        f"/api/urbanisme/projets/{c.project.slug}/contributions/{contribution_id}/reponses/",
        {"text": "D'accord."},
        format="json",
    )
    assert reply.status_code == 201, reply.content
    layer = layers.annotation_layer_create(project=c.project, actor=c.planner, name="Esquisses")
    layers.layer_update(layer=layer, actor=c.planner, is_published=True)
    feature = layers.annotation_add(layer=layer, actor=c.planner, geometry=c.point(), title="Ici")
    follow_token = "jeton-de-confirmation-du-test"
    follower = ProjectFollower.objects.create(
        project=c.project, email="suiveur@example.org", confirm_token_hash=services._hash_token(follow_token)
    )
    _client, key = keys.api_client_create(name="Appli citoyenne")
    lon, lat = at(-500, 100)
    values = {
        "reference": reference,
        "token": token,
        "slug": c.project.slug,
        "draft": draft.slug,
        "id": str(contribution_id),
        "reply_pk": str(reply.json()["id"]),
        "layer": layer.slug,
        "feature": str(feature.pk),
        "follow_token": follow_token,
        "unfollow_token": signing.dumps(follower.pk, salt=notifications.UNSUBSCRIBE_SALT),
        "organisation": str(c.organisation.pk),
        "territory": c.territory.slug,
        "lon": str(lon),
        "lat": str(lat),
        "east_lon": str(at(900, 100)[0]),
        "agent": str(w.agent_west.pk),
    }
    town = Town(users=users, values=values, api_key=key, original=original)
    town.calendar = [  # type: ignore[attr-defined]
        {
            "id": p.pk,
            "kind": p.kind,
            "start_date": p.start_date.isoformat(),
            "end_date": p.end_date.isoformat(),
            "allows_contributions": p.allows_contributions,
            "allows_supports": p.allows_supports,
        }
        for p in (c.info, c.concertation, c.bilan)
    ]
    town.point = c.point()  # type: ignore[attr-defined]
    town.polygon = c.polygon((0, 0), (100, 0), (100, 100))  # type: ignore[attr-defined]
    return town


@pytest.fixture(scope="module")
def town(django_db_setup, django_db_blocker, tmp_path_factory):  # type: ignore[no-untyped-def]
    media = tmp_path_factory.mktemp("media")
    with (
        override_settings(MEDIA_ROOT=media / "public", PRIVATE_MEDIA_ROOT=media / "private"),
        django_db_blocker.unblock(),
    ):
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield _build(media)
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def _body(op: Op, town: Town) -> Any:
    v = town.values
    if op.body == "report":
        return {
            "lon": float(v["lon"]),
            "lat": float(v["lat"]),
            "category": "nid-de-poule",
            "description": "Un trou.",
        }
    if op.body == "assign":
        return {"assignee": int(v["agent"])}
    if op.body == "reroute":
        return {"lon": float(v["east_lon"]), "lat": float(v["lat"]), "reason": "Côté est."}
    if op.body == "merge":
        return {"original": town.original}
    if op.body == "project":
        return {
            "territory": v["territory"],
            "organisation": int(v["organisation"]),
            "title": "Nouveau projet",
            "perimeter": town.polygon,  # type: ignore[attr-defined]
        }
    if op.body == "phases":
        return {"phases": town.calendar}  # type: ignore[attr-defined]
    if op.body == "document":
        return {"title": "Plan", "file": io.BytesIO(PDF)}
    if op.body == "contribution":
        return {"kind": "question", "title": "Et les vélos ?", "text": "Un parking ?", "geometry": town.point}  # type: ignore[attr-defined]
    if op.body == "annotation":
        return {"geometry": town.point, "title": "Banc"}  # type: ignore[attr-defined]
    if op.body == "open311":
        return {
            "api_key": town.api_key,
            "jurisdiction_id": "test",
            "service_code": "nid-de-poule",
            "lat": v["lat"],
            "long": v["lon"],
            "description": "Trou",
        }
    return op.body


def _url(op: Op, town: Town) -> str:
    v = dict(town.values)
    if op.variant == "draft":
        v["slug"] = v["draft"]
    if "abonnement" in op.path:
        v["token"] = v["follow_token"]
    if "desabonnement" in op.path:
        v["token"] = v["unfollow_token"]
    url = op.path.format(**v)
    if op.params.get("nearby"):
        url += f"?lon={v['lon']}&lat={v['lat']}&category=nid-de-poule"
    return url


def _call(op: Op, role: str, town: Town) -> Any:
    client = APIClient()
    user = town.users.get(role)
    if user is not None:
        if op.kind == "drf":
            client.force_authenticate(user)
        else:
            client.force_login(user)
    body = _body(op, town)
    if op.kind == "open311" and op.method == "POST" and role != "api_client":
        body = {k: val for k, val in body.items() if k != "api_key"}
    method = getattr(client, op.method.lower())
    if op.method in ("GET", "DELETE"):
        return method(_url(op, town))
    if op.fmt == "multipart":
        return method(_url(op, town), body, format="multipart")
    if op.fmt == "form":
        return method(_url(op, town), body)
    return method(_url(op, town), body if body is not None else {}, format="json")


@pytest.mark.django_db
@pytest.mark.parametrize(("op", "role", "expected"), _cells())
def test_cell(op: Op, role: str, expected: int, town: Town) -> None:
    response = _call(op, role, town)
    assert response.status_code == expected, (op.id, role, response.status_code, response.content[:300])
    if expected < 400:
        return
    text = response.content.decode("utf-8", "replace")
    for secret in SECRETS:
        assert secret not in text, (op.id, role, secret)
    if op.kind == "open311":
        payload = response.json()
        assert isinstance(payload, list) and set(payload[0]) == {"code", "description"}
    elif op.kind == "drf":
        payload = response.json()
        assert set(payload) == {"code", "message"}, payload
        assert isinstance(payload["code"], str) and isinstance(payload["message"], str)


# --- completeness ----------------------------------------------------------------------------------


def test_every_schema_operation_has_a_row() -> None:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    declared = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
    rows = {(op.method, op.path) for op in OPS if op.kind == "drf"}
    assert declared - rows == set(), "operations without a row in the permissions matrix"
    assert {r for r in rows if r[1].startswith("/api/")} - declared == set(), "rows of no operation"


def test_every_role_has_a_cell_in_every_row() -> None:
    for op in OPS:
        roles = OPEN311_ROLES if op.kind == "open311" else ROLES
        assert set(op.expect) == set(roles), op.id


def _names(resolver: URLResolver, prefix: str = "", namespace: str = "") -> set[tuple[str, str]]:
    found = set()
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            found |= _names(entry, route, ns)
        elif isinstance(entry, URLPattern) and entry.name:
            found.add((route, namespace + entry.name))
    return found


def test_every_api_route_has_a_row() -> None:
    """Every named route under /api/ and /open311/ (bar the documentation) is in the matrix."""
    covered = {op.name for op in OPS}
    routes = {
        name
        for route, name in _names(get_resolver())
        if route.lstrip("^").startswith(("api/", "open311/"))
        and name not in ("api-docs", "open311:not-found")
    }
    assert routes - covered == set()
