"""Reads for Open311: services (leaf categories), public requests, public updates, territories.

Like ``signalements.selectors``, nothing here joins ``ReportContact``: the querysets select public
fields only, so that an answer cannot carry a name, an e-mail or a phone number by mistake. Each
list is one query for its rows (plus one for photos); spatial filters compare the untouched
``location`` column with the territory's geometry, so the GiST index is used.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.gis.geos import Point
from django.db.models import F, OuterRef, Prefetch, Q, QuerySet, Subquery

from geo.models import Category, Territory
from signalements import workflow
from signalements.models import ApiClient, Photo, Report, TicketEvent

# Events a citizen may see in the trail (never internal notes, assignments or priorities).
PUBLIC_EVENT_KINDS = (
    TicketEvent.Kind.TRANSITION,
    TicketEvent.Kind.PUBLIC_UPDATE,
    TicketEvent.Kind.REROUTE,
    TicketEvent.Kind.MERGE,
)


def services_available() -> QuerySet[Category]:
    """Active leaf categories, the ones a report can be filed under (as ``report_create`` requires)."""
    return (
        Category.objects.filter(is_active=True)
        .exclude(children__is_active=True)
        .select_related("parent")
        .order_by("parent__position", "parent__name", "position", "name")
    )


def service_get(code: str) -> Category | None:
    return services_available().filter(code=code).first()


def territory_get(slug: str) -> Territory | None:
    return Territory.objects.filter(slug=slug).only("id", "name", "slug").first()


def territory_covers(territory: Territory, point: Point) -> bool:
    return Territory.objects.filter(pk=territory.pk, geom__intersects=point).exists()


def point_covered(point: Point) -> bool:
    return Territory.objects.filter(geom__intersects=point).exists()


def client_may_file_at(client: ApiClient, point: Point) -> bool:
    """A client restricted to some territories may only file inside them."""
    allowed = client.jurisdictions.all()
    return not allowed.exists() or allowed.filter(geom__intersects=point).exists()


def client_allows(client: ApiClient, territory: Territory) -> bool:
    allowed = client.jurisdictions.all()
    return not allowed.exists() or allowed.filter(pk=territory.pk).exists()


def _territory_geom(territory: Territory) -> Subquery:
    """The territory's outline as a subquery: it stays in the database instead of travelling as a parameter."""
    return Subquery(Territory.objects.filter(pk=territory.pk).values("geom")[:1])


def _public_messages() -> QuerySet[TicketEvent]:
    return (
        TicketEvent.objects.filter(ticket=OuterRef("ticket"), kind__in=PUBLIC_EVENT_KINDS)
        .exclude(public_message="")
        .order_by("-at", "-pk")
    )


def requests_public() -> QuerySet[Report]:
    """Published reports with what a GeoReport ``request`` shows, the last public message and photos."""
    messages = _public_messages()
    return (
        Report.objects.filter(published=True)
        .select_related("category", "ticket", "ticket__service")
        .only(
            "id",
            "reference",
            "location",
            "category",
            "description",
            "address",
            "created_at",
            "updated_at",
            "category__code",
            "category__name",
            "ticket__report",
            "ticket__state",
            "ticket__service__name",
            "ticket__routing",
            "ticket__due_at",
            "ticket__updated_at",
            "ticket__closed_at",
        )
        .annotate(
            last_public_message=Subquery(messages.values("public_message")[:1]),
            last_public_at=Subquery(messages.values("at")[:1]),
        )
        .prefetch_related(
            Prefetch(
                "photos",
                queryset=Photo.objects.filter(processed_at__isnull=False)
                .exclude(web="")
                .only("id", "report", "web", "position")
                .order_by("position", "pk"),
                to_attr="public_photos",
            )
        )
        .order_by("-created_at", "-pk")
    )


def requests_filter(
    qs: QuerySet[Report],
    *,
    territory: Territory | None = None,
    service_codes: list[str] | None = None,
    statuses: set[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> QuerySet[Report]:
    if territory is not None:
        qs = qs.filter(location__intersects=_territory_geom(territory))
    if service_codes:
        qs = qs.filter(category__code__in=service_codes)
    if statuses and len(statuses) == 1:
        states = workflow.OPEN_STATES if "open" in statuses else workflow.CLOSED_STATES
        qs = qs.filter(ticket__state__in=sorted(states))
    if start is not None:
        qs = qs.filter(created_at__gte=start)
    if end is not None:
        qs = qs.filter(created_at__lte=end)
    return qs


def report_for_token(token: str, *, client: ApiClient | None) -> Report | None:
    """A token is a request id, or the ``Idempotency-Key`` this client sent with its POST."""
    if client is not None:
        found = (
            Report.objects.filter(idempotency_key=idempotency_key(client, token)).only("reference").first()
        )
        if found is not None:
            return found
    return Report.objects.filter(reference=token, published=True).only("reference").first()


def idempotency_key(client: ApiClient, key: str) -> str:
    """Keys are per client, so that two applications choosing the same key never meet."""
    return f"open311:{client.pk}:{key}"


def updates_public(
    *, territory: Territory | None = None, start: datetime | None = None, end: datetime | None = None
) -> QuerySet[TicketEvent]:
    """Public updates of published reports: a public message, or a change of state. Oldest first.

    ``state_then`` is the ticket's state at the time of an event that did not change it (a message).
    """
    state_then = (
        TicketEvent.objects.filter(ticket=OuterRef("ticket"))
        .exclude(to_state="")
        .filter(Q(at__lt=OuterRef("at")) | Q(at=OuterRef("at"), pk__lte=OuterRef("pk")))
        .order_by("-at", "-pk")
        .values("to_state")[:1]
    )
    qs = (
        TicketEvent.objects.filter(kind__in=PUBLIC_EVENT_KINDS, ticket__report__published=True)
        .filter(~Q(public_message="") | (~Q(to_state="") & ~Q(to_state=F("from_state"))))
        .select_related("ticket", "ticket__report")
        .only(
            "id",
            "kind",
            "at",
            "from_state",
            "to_state",
            "public_message",
            "ticket__state",
            "ticket__report__reference",
        )
        .annotate(state_then=Subquery(state_then))
        .order_by("at", "pk")
    )
    if territory is not None:
        qs = qs.filter(ticket__report__location__intersects=_territory_geom(territory))
    if start is not None:
        qs = qs.filter(at__gte=start)
    if end is not None:
        qs = qs.filter(at__lte=end)
    return qs
