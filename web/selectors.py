"""Reads the pages need that the domains do not offer as such: places to choose without a map, the
territory's extent, the category tree, the public list of the home page.

Only public models and selectors are used; nothing here joins personal data (``ReportContact``).
Everything that decides (routing, permissions, the workflow) stays in ``geo`` and ``signalements``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.gis.db.models import Extent
from django.contrib.gis.db.models.functions import PointOnSurface
from django.contrib.gis.geos import Point
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from geo.models import Category, Membership, Service, Territory, Zone
from signalements import selectors, workflow
from signalements.models import Report, ResponseTemplate, Ticket, TicketState

# Citizens filter by what they understand: open, solved, or everything.
STATUS_GROUPS: dict[str, list[str]] = {
    "ouverts": sorted(workflow.OPEN_STATES),
    "resolus": [TicketState.RESOLU],
    "clos": sorted(workflow.CLOSED_STATES),
}


@dataclass(frozen=True)
class Place:
    """A named place a citizen can pick instead of a map position: a zone or a territory."""

    key: str
    name: str
    lon: float
    lat: float


@dataclass
class CategoryGroup:
    parent: Category | None
    leaves: list[Category] = field(default_factory=list)


def places() -> list[Place]:
    """Zones valid today and territories, by name, each with a point inside it (``ST_PointOnSurface``).

    Zones sharing a name (the same neighbourhood for several categories) appear once.
    """
    found: dict[str, Place] = {}
    zones = (
        Zone.objects.valid_on(timezone.localdate())
        .annotate(inside=PointOnSurface("geom"))
        .only("id", "name")
        .order_by("name", "id")
    )
    for zone in zones:
        found.setdefault(zone.name, Place(f"zone-{zone.pk}", zone.name, zone.inside.x, zone.inside.y))
    for territory in Territory.objects.annotate(inside=PointOnSurface("geom")).only("id", "name"):
        found.setdefault(
            territory.name,
            Place(f"territoire-{territory.pk}", territory.name, territory.inside.x, territory.inside.y),
        )
    return sorted(found.values(), key=lambda place: _natural(place.name))


def place_point(key: str) -> Point | None:
    """The point of a place chosen by its key (``zone-12``, ``territoire-1``), or None."""
    kind, _sep, raw = (key or "").partition("-")
    if not raw.isdigit():
        return None
    model: Any = {"zone": Zone, "territoire": Territory}.get(kind)
    if model is None:
        return None
    row = model.objects.filter(pk=int(raw)).annotate(inside=PointOnSurface("geom")).first()
    return row.inside if row is not None else None


def _natural(name: str) -> tuple[Any, ...]:
    """« Paris 2e » before « Paris 10e »."""
    import re

    return tuple(int(part) if part.isdigit() else part.casefold() for part in re.split(r"(\d+)", name))


def territory_bounds() -> tuple[float, float, float, float] | None:
    """West, south, east, north of all territories (storage SRID, degrees), or None without any."""
    return Territory.objects.aggregate(extent=Extent("geom"))["extent"]


def category_groups() -> list[CategoryGroup]:
    """Active leaf categories grouped under their parent; parentless leaves come last, together."""
    categories = list(Category.objects.filter(is_active=True).select_related("parent"))
    with_children = {c.parent_id for c in categories if c.parent_id}
    groups: dict[int | None, CategoryGroup] = {}
    for category in categories:
        if category.pk in with_children:
            groups.setdefault(category.pk, CategoryGroup(parent=category))
    for category in categories:
        if category.pk in with_children:
            continue
        if category.parent_id and category.parent_id in groups:
            groups[category.parent_id].leaves.append(category)
        elif category.parent_id is None:
            groups.setdefault(None, CategoryGroup(parent=None)).leaves.append(category)
    ordered = [g for key, g in groups.items() if key is not None and g.leaves]
    ordered.sort(key=lambda g: (g.parent.position, g.parent.name) if g.parent else (0, ""))
    if None in groups:
        ordered.append(groups[None])
    return ordered


def filter_categories() -> list[Category]:
    """Every active category, parents first then their children (filters accept both)."""
    return list(Category.objects.filter(is_active=True).select_related("parent").order_by("position", "name"))


def reports_for_home(*, category: str = "", status: str = "", limit: int = 20) -> QuerySet[Report]:
    """The newest public reports matching the home page's filters (the map's text alternative)."""
    qs = (
        selectors.reports_public_listing()
        .filter(duplicate_of__isnull=True)
        .annotate(category_icon=F("category__icon"))
    )
    if category:
        qs = qs.filter(Q(category__code=category) | Q(category__parent__code=category))
    if status in STATUS_GROUPS:
        qs = qs.filter(ticket__state__in=STATUS_GROUPS[status])
    return qs.order_by("-created_at", "-pk")[:limit]


def report_filed_with_key(key: str) -> bool:
    """Whether a report was already filed under this idempotency key (a retry after a lost answer)."""
    return Report.objects.filter(idempotency_key=key.strip()[:128]).exists()


def report_with_supports(report: Report) -> Report:
    """A report for a private page (the tracking link): the public queryset when published, else itself."""
    public = selectors.reports_public().filter(pk=report.pk).first()
    if public is not None:
        return public
    report.support_count = report.supports.count()  # type: ignore[attr-defined]
    return report


def ticket_for_page(user: Any, reference: str) -> Ticket | None:
    """The ticket if ``user`` may see it (their services), else None: absent and forbidden look alike."""
    from signalements import permissions

    return (
        permissions.tickets_visible_to(user)
        .select_related("report", "report__category", "report__category__parent", "service", "assigned_to")
        .filter(report__reference=reference)
        .first()
    )


def response_templates(ticket: Ticket, user: Any) -> QuerySet[ResponseTemplate]:
    """The templates offered on ``ticket``'s page to ``user``: those of the ticket's organisation
    (or shared) and category that ``user`` may use — never another organisation's, even by id."""
    return ResponseTemplate.objects.usable_by(user).for_ticket(ticket)


def transfer_targets(ticket: Ticket) -> QuerySet[Service]:
    return (
        Service.objects.filter(is_active=True)
        .exclude(pk=ticket.service_id)
        .select_related("organisation")
        .order_by("organisation__name", "name")
    )


def service_staff(service: Service) -> list[Any]:
    """Users holding a staff role on ``service`` (its own members), by name, for assignment."""
    from django.contrib.auth import get_user_model

    ids = Membership.objects.filter(service=service, role__in=workflow.STAFF).values("user_id")
    return list(get_user_model().objects.filter(pk__in=ids, is_active=True).order_by("username"))


@dataclass
class FilingCheck:
    """What the filing page shows before sending: who would receive it, whether the position is
    ambiguous, and the open reports of the same category close by (« Est-ce le même problème ? »)."""

    decision: Any = None  # geo.routing.Decision
    nearby: list[selectors.Nearby] = field(default_factory=list)
    error_code: str = ""
    error_message: str = ""

    @property
    def ambiguous(self) -> bool:
        return bool(self.decision is not None and self.decision.ambiguous)


def filing_check(point: Point, category_code: str) -> FilingCheck:
    """The router's decision (one query) and the nearby open reports (one query) for a draft report."""
    from geo.errors import GeoError
    from geo.routing import route

    category = Category.objects.filter(code=category_code, is_active=True).select_related("parent").first()
    if category is None:
        return FilingCheck()
    try:
        decision = route(point, category)
    except GeoError as exc:
        return FilingCheck(error_code=exc.code, error_message=exc.message)
    return FilingCheck(decision=decision, nearby=selectors.reports_nearby(point=point, category=category))
