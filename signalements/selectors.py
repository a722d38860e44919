"""Reads of the signalements domain: public listings, nearby duplicates, staff queues.

Public selectors never select personal data (``ReportContact`` is not joined), so that a public
serializer cannot leak it even by mistake.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.gis.geos import Point
from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from config.db_router import replica_alias
from geo.models import Category
from geo.srid import STORAGE_SRID, degrees_margin, sql_distance_m, sql_dwithin_m
from signalements import permissions, workflow
from signalements.models import Report, Ticket

PUBLIC_REPORT_FIELDS = (
    "id",
    "reference",
    "location",
    "category",
    "description",
    "address",
    "channel",
    "duplicate_of",
    "created_at",
    "updated_at",
)


def reports_public() -> QuerySet[Report]:
    """Published reports with their public fields, ticket state and service, and support count."""
    return (
        Report.objects.filter(published=True)
        .select_related("category", "category__parent", "ticket", "ticket__service", "duplicate_of")
        .only(
            *PUBLIC_REPORT_FIELDS,
            "category__code",
            "category__name",
            "category__parent__name",
            "ticket__state",
            "ticket__service__name",
            "ticket__created_at",
            "ticket__updated_at",
            "ticket__closed_at",
            "ticket__routing",
            "ticket__ambiguous",
            "ticket__report",
            "duplicate_of__reference",
        )
        .annotate(support_count=Count("supports", distinct=True))
    )


def reports_public_listing() -> QuerySet[Report]:
    """:func:`reports_public` on the read replica when there is one (config/db_router.py).

    For listings only: a report filed a second ago may be missing for a second. A report's own
    page (:func:`report_public`) stays on the primary: its author reads it right after filing.
    """
    return reports_public().using(replica_alias())


def report_public(reference: str) -> Report | None:
    return reports_public().filter(reference=reference).first()


@dataclass(frozen=True)
class Nearby:
    report: Report
    distance_m: float


_NEARBY_SQL = f"""
SELECT r.id, {sql_distance_m("r.location", "pt.g")} AS distance
FROM signalements_report r
JOIN signalements_ticket t ON t.report_id = r.id
CROSS JOIN (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), {STORAGE_SRID}) AS g) pt
WHERE r.category_id = %(category)s
  AND r.published AND r.duplicate_of_id IS NULL
  AND r.created_at >= %(since)s
  AND t.state = ANY(%(open_states)s)
  AND {sql_dwithin_m("r.location", "pt.g", "%(radius)s", "%(margin)s")}
ORDER BY distance, r.created_at DESC
LIMIT %(limit)s
"""


def reports_nearby(
    *,
    point: Point,
    category: Category,
    radius_m: float | None = None,
    days: int | None = None,
    limit: int = 10,
) -> list[Nearby]:
    """Open public reports of the same category close by, nearest first: « Est-ce le même problème ? »."""
    radius = radius_m or category.duplicate_radius_m or settings.REPORTS_NEARBY_RADIUS_M
    window = days or settings.REPORTS_NEARBY_DAYS
    params: dict[str, Any] = {
        "lon": point.x,
        "lat": point.y,
        "category": category.pk,
        "since": timezone.now() - timedelta(days=window),
        "open_states": sorted(workflow.OPEN_STATES),
        "radius": radius,
        "margin": degrees_margin(point.y, radius),
        "limit": limit,
    }
    with connection.cursor() as cursor:
        cursor.execute(_NEARBY_SQL, params)
        rows = cursor.fetchall()
    reports = reports_public().in_bulk([pk for pk, _distance in rows])
    return [Nearby(reports[pk], round(distance, 1)) for pk, distance in rows if pk in reports]


def tickets_queue(user: Any, *, filters: dict[str, Any] | None = None) -> QuerySet[Ticket]:
    """The staff queue: tickets of the user's services, most urgent first (priority, then due date)."""
    filters = filters or {}
    qs = (
        permissions.tickets_visible_to(user)
        .select_related("report", "report__category", "service", "assigned_to")
        .order_by("-priority", "due_at", "created_at")
    )
    if state := filters.get("state"):
        qs = qs.filter(state__in=state if isinstance(state, list | tuple) else [state])
    elif not filters.get("include_closed"):
        qs = qs.filter(state__in=workflow.OPEN_STATES)
    if category := filters.get("category"):
        qs = qs.filter(Q(report__category__code=category) | Q(report__category__parent__code=category))
    if service := filters.get("service"):
        qs = qs.filter(service_id=service)
    if filters.get("assigned_to_me"):
        qs = qs.filter(assigned_to=user)
    if filters.get("overdue"):
        qs = qs.filter(due_at__lt=timezone.now(), state__in=workflow.OPEN_STATES)
    return qs


def is_overdue(ticket: Ticket) -> bool:
    return bool(ticket.due_at and workflow.is_open(ticket.state) and ticket.due_at < timezone.now())
