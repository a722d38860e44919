"""Permissions matrix: every operation x every role, one cell per test.

Rows are the operations of ``/api/schema/`` (a schema operation without a row fails
``test_every_schema_operation_has_a_row``), plus the API routes outside the schema (the bilan exports,
Open311), checked against the URL resolver by ``test_every_api_route_has_a_row``; the public routes
outside the API (``/tiles/``, ``/ogc/``, ``/opendata/``, ``/mes-donnees/``, checked by
``test_every_public_route_has_a_row``) and a few staff pages. Some operations have extra object-level
rows (a draft project, an official answer, a hidden contribution, an unpublished report or layer: 404
for everyone where existence is private). Each cell states the expected status; refusals must also
answer the one error shape ``{"code", "message"}`` and leak none of the private strings of the town
(report contact and description, internal note, draft title, author e-mail…); public routes must never
show a private object, whatever the status, and must show its public counterpart when they answer.

Columns are the roles, plus deactivated accounts (``is_active=False``) that kept a session cookie or
send their password with HTTP Basic: they must be treated exactly as anonymous visitors
(``test_deactivated_accounts_are_anonymous_on_every_row``).

The town is built once per module inside a transaction rolled back at the end; each cell runs in a
savepoint of its own (pytest-django's ``db``), so writes of one cell never reach another.
Minimal valid bodies: an "allowed" cell is a real 2xx, never a 400 after the permission check.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import pytest
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import transaction
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from geo.models import Membership, Organisation
from privacy import links as privacy_links
from privacy.models import SubjectRequest
from signalements import services as report_services
from signalements.models import Report, ReportContact, ResponseTemplate
from signalements.open311 import keys
from tests.signalements.world import at
from tests.signalements.world import world as world_fixture
from tests.urbanisme.world import build_concertation
from tiles.tilemath import tile_for_lonlat
from urbanisme import layers, notifications, services
from urbanisme.models import Contribution, Layer, LayerKind, Project, ProjectFollower, RasterStatus

ACTIVE_ROLES = (
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
# Deactivated accounts (``is_active=False``) whose session cookie survived the deactivation: an agent
# of service A, a planner of X, a superuser. Their cells are the anonymous one of the row, whatever
# the row (Django's ModelBackend.get_user drops them, so every view sees AnonymousUser).
# ``inactive_basic`` is the same agent sending its (right) password with HTTP Basic: DRF refuses the
# credentials on every API row, public ones included, with 403 ``non_authentifie`` (as for a wrong
# password; 403 rather than 401 because session authentication comes first); other views ignore it.
INACTIVE_SESSION_ROLES = ("inactive_agent", "inactive_planner", "inactive_superuser")
INACTIVE_ROLES = (*INACTIVE_SESSION_ROLES, "inactive_basic")
ROLES = (*ACTIVE_ROLES, *INACTIVE_ROLES)
OPEN311_ROLES = (*ROLES, "api_client")

SECRET_DESCRIPTION = "Trou confidentiel devant le 7"
SECRET_NAME = "Jeanne Secrète"
SECRET_EMAIL = "jeanne.secrete@example.net"
SECRET_NOTE = "Note interne confidentielle"
SECRET_DRAFT = "Projet confidentiel du quartier Nord"
SECRET_AUTHOR = "auteur.secret@example.net"
SECRET_HIDDEN = "Idée masquée confidentielle"  # a contribution hidden by the moderation
SECRET_UNPUBLISHED = "Signalement non publié confidentiel"  # an unpublished report's description
SECRET_LAYER = "Annotation confidentielle"  # features of an unpublished layer and of the draft's layer
SECRET_TEMPLATE_Y = "Procédure interne 12-B de la Ville Voisine"  # the text of organisation Y's template
# Never shown by a public route, whatever the status (the published report's description is public).
PRIVATE = (
    SECRET_NAME,
    SECRET_EMAIL,
    SECRET_NOTE,
    SECRET_DRAFT,
    SECRET_AUTHOR,
    SECRET_HIDDEN,
    SECRET_UNPUBLISHED,
    SECRET_LAYER,
    SECRET_TEMPLATE_Y,
)
SECRETS = (SECRET_DESCRIPTION, *PRIVATE)
# Response templates: of organisation X (the town's), of Y (« Autre Ville ») and shared.
TEMPLATE_X = "Réponse type de la Ville de Test"
TEMPLATE_Y = "Réponse type Autre Ville"
TEMPLATE_SHARED = "Réponse type commune"
TEMPLATE_X_READERS = ("agent_a", "agent_b", "manager", "administrator", "superuser")
NEIGHBOUR_EMAIL = "voisin.donnees@example.org"  # a citizen who opens « Mes données » with their link

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


# --- expectations ----------------------------------------------------------------------------------


def every(status: int, roles: tuple[str, ...] = ACTIVE_ROLES) -> dict[str, int]:
    """The active roles' cells (the inactive ones follow ``anonymous``, see ``Op.__post_init__``)."""
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
    kind: str = "drf"  # "drf", "django" (session views), "open311", "public" (tiles, OGC, open data,
    # « Mes données ») or "page" (server-rendered staff pages and the admin)
    params: dict[str, str] = field(default_factory=dict)
    # A body check of every cell (``CHECKS``), with its arguments: ``present`` must be shown where the
    # cell is a success, ``absent`` never (values of ``Town.values`` in ``{}``).
    check: str = ""
    present: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Deactivated accounts are anonymous on every row (unless a row says otherwise).
        inactive = dict.fromkeys(INACTIVE_SESSION_ROLES, self.expect["anonymous"])
        inactive["inactive_basic"] = 403 if self.kind == "drf" else self.expect["anonymous"]
        object.__setattr__(self, "expect", inactive | self.expect)

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}{f' [{self.variant}]' if self.variant else ''}"


P = "/api/urbanisme/projets/{slug}/"
C = P + "contributions/{id}/"
L = P + "couches/{layer}/"
T = "/api/tickets/{reference}/"

# --- routes outside the API: tiles, OGC API Features, open data, « Mes données », staff pages -------
# Public routes answer every role the same; what changes is only what they may show. Their cells also
# assert, whatever the status, that none of PRIVATE appears (hidden contribution, unpublished report,
# draft project, unpublished or draft layers, contacts, authors), and on success that the public
# counterpart of each private object does (so an empty answer cannot pass).


def public(status: int) -> dict[str, int]:
    return every(status)


TILE_ROWS: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    # layer, tile (a key of Town.values), shown, never shown ("property=value" of a decoded feature)
    ("reports", "tile_report", ("reference={reference}",), ("reference={unpublished}",)),
    ("zones", "tile_town", ("name=Secteur Ouest",), ()),
    ("territories", "tile_town", ("slug={territory}",), ()),
    ("projects", "tile_project", ("slug={slug}",), ("slug={draft}",)),
    ("contributions", "tile_project", ("id={id}",), ("id={hidden_id}",)),
    ("planning", "tile_project", ("title=Ici",), ("project={draft}", "layer={hidden_layer}")),
)
OGC_ROWS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    # collection, shown in its items, never shown
    ("reports", ('"{reference}"',), ('"{unpublished}"',)),
    ("zones", ("Secteur Ouest",), ()),
    ("territories", ('"{territory}"',), ()),
    ("projects", ('"{slug}"',), ('"{draft}"',)),
    ("contributions", ("Des arbres",), ()),
    ("planning-features", ('"Ici"',), ()),
)
OGC_OBJECTS: tuple[tuple[str, str, int], ...] = (
    # collection, object (a key of Town.values), status: a private object is 404 for everyone
    ("reports", "reference", 200),
    ("reports", "unpublished", 404),
    ("projects", "slug", 200),
    ("projects", "draft", 404),
    ("contributions", "id", 200),
    ("contributions", "hidden_id", 404),
    ("planning-features", "feature", 200),
    ("planning-features", "hidden_feature", 404),
    ("planning-features", "draft_feature", 404),
)
OPENDATA_ROWS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    # Descriptions of reports are not part of the open data (docs/OPENDATA.md).
    ("signalements", ("{reference}",), ("{unpublished}", SECRET_DESCRIPTION)),
    ("projets", ("{slug}",), ("{draft}",)),
    # Contributions are exported without title nor text: told apart by their ids.
    ("contributions", ("id={id}",), ("id={hidden_id}",)),
    ("couches-projets", ("Ici",), ()),
)
RASTERS: tuple[tuple[str, str, int], ...] = (
    # raster layer (a key of Town.values), variant, status: unpublished or of a draft project, 404
    ("raster", "published", 200),
    ("raster_unpublished", "unpublished", 404),
    ("raster_draft", "draft", 404),
)

PUBLIC_OPS: tuple[Op, ...] = (
    Op("GET", "/tiles/", "tiles:index", public(200), kind="public", present=("contributions",)),
    *(
        Op(
            "GET",
            f"/tiles/{layer}/{{{tile}}}.mvt",
            "tiles:vector-tile",
            public(200),
            kind="public",
            check="mvt",
            present=shown,
            absent=hidden,
        )
        for layer, tile, shown, hidden in TILE_ROWS
    ),
    Op("GET", "/tiles/inconnue/{tile_town}.mvt", "tiles:vector-tile", public(404), kind="public"),
    *(
        Op("GET", f"/tiles/{layer}.json", "tiles:vector-tilejson", public(200), kind="public")
        for layer, *_ in TILE_ROWS
    ),
    *(
        Op(
            "GET",
            f"/tiles/raster/{{{key}}}/{{tile_raster}}.png",
            "tiles:raster-tile",
            public(status),
            kind="public",
            check="png",
            variant=variant,
        )
        for key, variant, status in RASTERS
    ),
    *(
        Op(
            "GET",
            f"/tiles/raster/{{{key}}}.json",
            "tiles:raster-tilejson",
            public(status),
            kind="public",
            variant=variant,
            present=("Plan guide",) if status == 200 else (),
        )
        for key, variant, status in RASTERS
    ),
    Op("GET", "/tiles/nulle-part/", "tiles:unknown", public(404), kind="public"),
    # OGC API – Features.
    Op("GET", "/ogc/", "ogc:landing", public(200), kind="public"),
    Op("GET", "/ogc/conformance", "ogc:conformance", public(200), kind="public"),
    Op("GET", "/ogc/api", "ogc:openapi", public(200), kind="public"),
    Op("GET", "/ogc/collections", "ogc:collections", public(200), kind="public", present=("contributions",)),
    *(
        Op("GET", f"/ogc/collections/{name}", "ogc:collection", public(200), kind="public")
        for name, *_ in OGC_ROWS
    ),
    *(
        Op(
            "GET",
            f"/ogc/collections/{name}/items",
            "ogc:items",
            public(200),
            kind="public",
            present=shown,
            absent=hidden,
        )
        for name, shown, hidden in OGC_ROWS
    ),
    *(
        Op(
            "GET",
            f"/ogc/collections/{name}/items/{{{key}}}",
            "ogc:item",
            public(status),
            kind="public",
            # The body of a private object's 404 names no title (PRIVATE) and no other private key.
            absent=("{draft}",) if key != "draft" else (),
        )
        for name, key, status in OGC_OBJECTS
    ),
    # Open data downloads.
    Op("GET", "/opendata/", "opendata:index", public(200), kind="public", present=("contributions",)),
    *(
        Op("GET", f"/opendata/{name}.schema.json", "opendata:schema", public(200), kind="public")
        for name, *_ in OPENDATA_ROWS
    ),
    *(
        Op(
            "GET",
            f"/opendata/{name}.{fmt}",
            "opendata:export",
            public(200),
            kind="public",
            present=shown,
            absent=hidden,
            check="ids",
        )
        for name, shown, hidden in OPENDATA_ROWS
        for fmt in ("csv", "geojson")
    ),
    Op("GET", "/opendata/inconnu.csv", "opendata:export", public(404), kind="public"),
    # « Mes données »: an e-mailed link is the credential, not the session. Whoever asks gets the same
    # neutral answer; a link shows its own person's data and nobody else's; a session (even a
    # superuser's) opens nothing without a live link: 404 for everyone.
    Op("GET", "/mes-donnees/", "privacy:request", public(200), kind="public"),
    Op(
        "POST",
        "/mes-donnees/",
        "privacy:request",
        public(200),
        {"email": SECRET_EMAIL},
        kind="public",
        fmt="form",
    ),
    Op(
        "GET",
        "/mes-donnees/{privacy_token}/",
        "privacy:subject",
        public(200),
        kind="public",
        present=(NEIGHBOUR_EMAIL, "{neighbour_reference}"),
        absent=("{reference}",),
    ),
    Op(
        "GET",
        "/mes-donnees/{privacy_token}/donnees.json",
        "privacy:export",
        public(200),
        kind="public",
        present=(NEIGHBOUR_EMAIL, "{neighbour_reference}"),
        absent=("{reference}",),
    ),
    Op("GET", "/mes-donnees/{forged_token}/", "privacy:subject", public(404), kind="public"),
    Op("GET", "/mes-donnees/{forged_token}/donnees.json", "privacy:export", public(404), kind="public"),
    Op(
        "POST",
        "/mes-donnees/{forged_token}/supprimer/",
        "privacy:erase",
        public(404),
        {"confirm": "on"},
        kind="public",
        fmt="form",
    ),
    Op(
        "POST",
        "/mes-donnees/{privacy_token}/supprimer/",
        "privacy:erase",
        public(200),
        {"confirm": "on"},
        kind="public",
        fmt="form",
        check="erased",
    ),
)

PUBLIC_NAMESPACES = ("tiles", "ogc", "opendata", "privacy")
STAFF_PAGE = every(200) | {"anonymous": 302, "citizen": 403}
PLANNING_PAGE = team(200, PROJECT_MANAGERS, anonymous=302) | {"planner_y": 404}
PAGE_OPS: tuple[Op, ...] = (
    # The agents' pages: sign-in for anonymous (and deactivated) visitors, 403 without a role, the
    # ticket of service A as on the API (404 for the staff who may not see it).
    Op("GET", "/agents/", "web:queue", STAFF_PAGE, kind="page"),
    Op(
        "GET",
        "/agents/tickets/{reference}/",
        "web:ticket",
        ticket_cell(200) | {"anonymous": 302, "citizen": 403},
        kind="page",
        present=(SECRET_NAME, TEMPLATE_X),
        absent=(TEMPLATE_Y,),
    ),
    # The planners' back office of a draft project of X: 403 without a role of X (before any lookup:
    # the same answer for a slug that does not exist, next row), 404 for another organisation's staff.
    # X's moderator, who may see X's drafts (API), gets 403 on the draft and 404 on a missing slug.
    *(
        Op(
            "GET",
            f"/urbanisme/projets/{slug}/",
            "web:planning-project",
            expect,
            kind="page",
            present=(SECRET_DRAFT,) if slug == "{draft}" else (),
        )
        for slug, expect in (
            ("{draft}", PLANNING_PAGE),
            ("projet-inexistant", PLANNING_PAGE | dict.fromkeys(PROJECT_MODERATORS, 404)),
        )
    ),
    # The admin's templates: superusers only here (no other role is ``is_staff``).
    Op(
        "GET",
        "/admin/signalements/responsetemplate/",
        "admin:signalements_responsetemplate_changelist",
        every(302) | {"superuser": 200},
        kind="page",
        present=(TEMPLATE_X, TEMPLATE_Y, TEMPLATE_SHARED),
    ),
)


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
    # Templates of X (the town) for its ticket staff, Y's for nobody here but the superuser, shared
    # ones for any staff (planners and moderators hold no ticket role: the shared ones only).
    Op(
        "GET",
        "/api/response-templates/",
        "api:response-templates",
        every(200) | {"anonymous": 403, "citizen": 403},
        check="templates",
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
    # The key of a deactivated client still exists (hashed): refused like no key at all, whoever sends it.
    Op(
        "POST",
        "/open311/v2/requests.json",
        "open311:requests",
        every(403, OPEN311_ROLES),
        body="open311_inactive",
        fmt="form",
        kind="open311",
        variant="inactive key",
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
    *PUBLIC_OPS,
    *PAGE_OPS,
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
    # Deactivated accounts, with the roles they held (their sessions are opened in ``_call``).
    inactive_agent = users_model.objects.create_user("agent-desactive", password="x")
    Membership.objects.create(
        user=inactive_agent, organisation=w.organisation, service=w.west, role=Membership.Role.AGENT
    )
    inactive_planner = users_model.objects.create_user("urbaniste-desactive", password="x")
    Membership.objects.create(
        user=inactive_planner, organisation=c.organisation, role=Membership.Role.PLANNER
    )
    inactive_superuser = users_model.objects.create_superuser(
        "racine-desactivee", password="x", email="racine-desactivee@example.org"
    )
    users_model.objects.filter(pk__in=[inactive_agent.pk, inactive_planner.pk, inactive_superuser.pk]).update(
        is_active=False
    )
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
        "inactive_agent": inactive_agent,
        "inactive_planner": inactive_planner,
        "inactive_superuser": inactive_superuser,
        "inactive_basic": inactive_agent,
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
    _retired, retired_key = keys.api_client_create(name="Appli retirée", is_active=False)
    private = _build_private(w, c, file, tmp)
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
        "inactive_api_key": retired_key,
        **private,
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


def _build_private(w: Any, c: Any, file: Any, tmp: Any) -> dict[str, str]:
    """The objects public routes must hide, their public counterparts, and the tiles showing both."""
    # A report withdrawn from publication, next to the published one.
    unpublished = file(-480, 100, description=SECRET_UNPUBLISHED)["reference"]
    Report.objects.filter(reference=unpublished).update(published=False)
    # A neighbour's report with a contact: what their « Mes données » link shows.
    neighbour = file(
        -520,
        120,
        contact={"name": "Paul Voisin", "email": NEIGHBOUR_EMAIL, "consent": True},
    )["reference"]
    privacy_token = "lien-mes-donnees-du-voisin"
    SubjectRequest.objects.create(
        email=NEIGHBOUR_EMAIL,
        token_hash=privacy_links.hash_token(privacy_token),
        expires_at=timezone.now() + timedelta(hours=1),
    )
    # A contribution hidden by the moderation.
    hidden = Contribution.objects.get(
        pk=APIClient()
        .post(
            f"/api/urbanisme/projets/{c.project.slug}/contributions/",
            {"kind": "idee", "title": SECRET_HIDDEN, "text": "Masquée.", "geometry": c.point(220, 160)},
            format="json",
        )
        .json()["id"]
    )
    services.contribution_moderate(contribution=hidden, actor=c.moderator, action="hide", reason="Hors sujet")
    # An unpublished annotation layer of the published project, and a published one of the draft.
    draft = Project.objects.get(slug="projet-confidentiel")
    hidden_layer = layers.annotation_layer_create(project=c.project, actor=c.planner, name="Brouillon")
    layers.layer_update(layer=hidden_layer, actor=c.planner, is_published=False)
    hidden_feature = layers.annotation_add(
        layer=hidden_layer, actor=c.planner, geometry=c.point(230, 170), title=SECRET_LAYER
    )
    draft_layer = layers.annotation_layer_create(
        project=draft, actor=c.planner, name="Esquisses du brouillon"
    )
    layers.layer_update(layer=draft_layer, actor=c.planner, is_published=True)
    draft_feature = layers.annotation_add(
        layer=draft_layer, actor=c.planner, geometry=c.point(240, 180), title=SECRET_LAYER
    )
    # Raster layers with a real COG: published, unpublished, and published on the draft project.
    rasters = {}
    for key, project, published in (
        ("raster", c.project, True),
        ("raster_unpublished", c.project, False),
        ("raster_draft", draft, True),
    ):
        layer = Layer.objects.create(
            project=project,
            kind=LayerKind.RASTER,
            name="Plan guide",
            slug=key.replace("_", "-"),
            is_published=published,
            raster_status=RasterStatus.READY,
            raster_cog=f"rasters/cog/{key}.tif",
        )
        _write_cog(Path(layer.raster_cog.path), *c.point()["coordinates"], tmp)
        rasters[key] = f"couche-{layer.pk}"
    # Response templates of X, of Y and shared.
    ResponseTemplate.objects.create(organisation=c.organisation, title=TEMPLATE_X, text="Nous passons.")
    ResponseTemplate.objects.create(
        organisation=Organisation.objects.get(name="Autre Ville"), title=TEMPLATE_Y, text=SECRET_TEMPLATE_Y
    )
    ResponseTemplate.objects.create(title=TEMPLATE_SHARED, text="Merci.")
    return {
        "unpublished": unpublished,
        "neighbour_reference": neighbour,
        "privacy_token": privacy_token,
        "forged_token": "lien-invente-par-un-curieux",
        "hidden_id": str(hidden.pk),
        "hidden_layer": hidden_layer.slug,
        "hidden_feature": str(hidden_feature.pk),
        "draft_feature": str(draft_feature.pk),
        **rasters,
        "tile_report": str(tile_for_lonlat(*at(-500, 100), 16)),
        "tile_town": str(tile_for_lonlat(*at(-500, 100), 14)),
        "tile_project": str(tile_for_lonlat(*c.point()["coordinates"], 16)),
        "tile_raster": str(tile_for_lonlat(*c.point()["coordinates"], 17)),
    }


def _write_cog(path: Path, lon: float, lat: float, tmp: Any) -> None:
    """A 512 m x 512 m grey COG in Web Mercator centred on ``lon``/``lat`` (what the converter makes)."""
    import numpy as np
    import rasterio
    from rasterio.shutil import copy as rio_copy
    from rasterio.transform import from_origin
    from rasterio.warp import transform as warp

    (x,), (y,) = warp("EPSG:4326", "EPSG:3857", [lon], [lat])
    size, pixel = 256, 2.0
    plain = Path(tmp) / f"{path.stem}-plain.tif"
    profile = {"driver": "GTiff", "width": size, "height": size, "count": 3, "dtype": "uint8"}
    transform = from_origin(x - size, y + size, pixel, pixel)
    with rasterio.open(plain, "w", crs="EPSG:3857", transform=transform, **profile) as out:
        out.write(np.full((3, size, size), 120, dtype=np.uint8))
    path.parent.mkdir(parents=True, exist_ok=True)
    rio_copy(plain, path, driver="COG", BLOCKSIZE=256)


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
    if op.body in ("open311", "open311_inactive"):
        return {
            "api_key": town.api_key if op.body == "open311" else v["inactive_api_key"],
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
    if role == "inactive_basic":
        # The right password of a deactivated account (the lockout is not what is tested here).
        credentials = base64.b64encode(f"{user.get_username()}:x".encode()).decode()
        client.credentials(HTTP_AUTHORIZATION=f"Basic {credentials}")
        with override_settings(LOGIN_LOCKOUT_ENABLED=False):
            return _send(op, role, town, client)
    if user is not None:
        if op.kind == "drf" and role not in INACTIVE_ROLES:
            client.force_authenticate(user)
        else:
            # A real session: deactivated accounts keep the cookie they had before.
            client.force_login(user)
    return _send(op, role, town, client)


def _send(op: Op, role: str, town: Town, client: APIClient) -> Any:
    body = _body(op, town)
    if op.body == "open311" and role != "api_client":
        body = {k: val for k, val in body.items() if k != "api_key"}
    method = getattr(client, op.method.lower())
    if op.method in ("GET", "DELETE"):
        return method(_url(op, town))
    if op.fmt == "multipart":
        return method(_url(op, town), body, format="multipart")
    if op.fmt == "form":
        return method(_url(op, town), body)
    return method(_url(op, town), body if body is not None else {}, format="json")


def _shown(response: Any, op: Op) -> str:
    """What a body shows: its text, or for a vector tile one ``property=value`` line per property."""
    if op.check == "mvt":
        lines = [
            f"{key}={value}"
            for layer in mapbox_vector_tile.decode(response.content).values()
            for feature in layer["features"]
            for key, value in feature["properties"].items()
        ]
        return "\n".join(lines)
    if getattr(response, "streaming", False):
        text = b"".join(response.streaming_content).decode("utf-8", "replace")
    else:
        text = response.content.decode("utf-8", "replace")
    if op.check == "ids" and response.status_code == 200:
        # The primary keys of an export, one ``id=value`` line each, before the text itself.
        if op.path.endswith(".csv"):
            ids = [row["id"] for row in csv.DictReader(io.StringIO(text)) if "id" in row]
        else:
            ids = [str(feature["id"]) for feature in json.loads(text)["features"]]
        return "\n".join(f"id={value}" for value in ids) + "\n" + text
    return text


def _check_templates(text: str, role: str) -> None:
    """Organisation X's template for X's ticket staff, Y's for the superuser only, shared for all."""
    assert (TEMPLATE_X in text) == (role in TEMPLATE_X_READERS), (role, "X")
    assert (TEMPLATE_Y in text) == (role == "superuser"), (role, "Y")
    assert (SECRET_TEMPLATE_Y in text) == (role == "superuser"), (role, "Y's text")
    assert TEMPLATE_SHARED in text, role


@pytest.mark.django_db
@pytest.mark.parametrize(("op", "role", "expected"), _cells())
def test_cell(op: Op, role: str, expected: int, town: Town) -> None:
    response = _call(op, role, town)
    assert response.status_code == expected, (op.id, role, response.status_code, response.content[:300])
    text = _shown(response, op) if expected != 204 else ""
    values = town.values
    if op.kind == "public":
        # Public routes never show a private object, whoever asks and whatever the answer.
        for secret in PRIVATE:
            assert secret not in text, (op.id, role, secret)
    for hidden in op.absent:
        assert hidden.format(**values) not in text, (op.id, role, hidden)
    if expected == 302:
        # Signed-out (or deactivated) visitors are sent to a sign-in page, never shown the page.
        assert response["Location"].startswith(("/connexion/", "/admin/login/")), response["Location"]
    if expected < 300:
        for shown in op.present:
            assert shown.format(**values) in text, (op.id, role, shown)
        if op.check == "templates":
            _check_templates(text, role)
        if op.check == "png":
            assert response["Content-Type"] == "image/png" and response.content[:4] == b"\x89PNG"
        if op.check == "erased":
            # The link's own person only: the neighbour's contact is gone, Jeanne's is not.
            assert not ReportContact.objects.filter(email=NEIGHBOUR_EMAIL).exists()
            assert ReportContact.objects.filter(email=SECRET_EMAIL).exists()
    if expected < 400:
        return
    for secret in SECRETS:
        assert secret not in text, (op.id, role, secret)
    if op.kind == "open311":
        payload = response.json()
        assert isinstance(payload, list) and set(payload[0]) == {"code", "description"}
    elif op.kind == "drf" and response["Content-Type"].startswith("application/vnd.oai.openapi"):
        assert "code: non_authentifie" in text, text  # the schema's own renderer (YAML), same shape
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


def test_cells_are_unique() -> None:
    ids = [op.id for op in OPS]
    assert len(ids) == len(set(ids)), "two rows with one id"


def test_deactivated_accounts_are_anonymous_on_every_row() -> None:
    """The rule of the inactive columns: the anonymous cell (403 for HTTP Basic on the API)."""
    for op in OPS:
        for role in INACTIVE_SESSION_ROLES:
            assert op.expect[role] == op.expect["anonymous"], (op.id, role)
        assert op.expect["inactive_basic"] == (403 if op.kind == "drf" else op.expect["anonymous"]), op.id


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


def test_every_public_route_has_a_row() -> None:
    """Every named route of the tiles, OGC API, open data and « Mes données » is in the matrix."""
    covered = {op.name for op in OPS}
    routes = {name for _route, name in _names(get_resolver()) if name.split(":")[0] in PUBLIC_NAMESPACES}
    assert routes, "no public route found"
    assert routes - covered == set()
