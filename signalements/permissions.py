"""Who may see and act on which ticket: predicates read from ``geo.Membership``.

Services call these before writing; API permission classes and querysets call them before reading.
A refusal on an object the user may not even see is a 404, never a 403, so that existence leaks
nothing.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from geo.models import Membership, Service
from signalements.models import Ticket

R = Membership.Role
ORGANISATION_WIDE_ROLES = frozenset({R.SERVICE_MANAGER, R.ADMINISTRATOR})


def _memberships(user: Any) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user, user__is_active=True)


def is_staff_user(user: Any) -> bool:
    """Signed in, active, and holding at least one role, or a superuser.

    Authentication already drops inactive accounts; checking here too keeps a deactivated account
    powerless if some code ever sets ``request.user`` another way (a test, a future auth backend).
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return bool(user.is_superuser or _memberships(user).exists())


def roles_for_service(user: Any, service: Service) -> set[str]:
    """The roles ``user`` holds on ``service``: its own, plus organisation-wide ones of managers."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return set()
    if user.is_superuser:
        return {R.ADMINISTRATOR}
    rows = _memberships(user).filter(
        Q(service=service)
        | Q(service__isnull=True, organisation_id=service.organisation_id, role__in=ORGANISATION_WIDE_ROLES)
    )
    return set(rows.values_list("role", flat=True))


def visible_service_ids(user: Any) -> QuerySet[Any] | None:
    """Services whose tickets ``user`` may see; ``None`` means all (superusers), none when inactive."""
    if not getattr(user, "is_active", False):
        return Service.objects.none().values("pk")
    if user.is_superuser:
        return None
    memberships = _memberships(user)
    return Service.objects.filter(
        Q(pk__in=memberships.filter(service__isnull=False).values("service_id"))
        | Q(
            organisation_id__in=memberships.filter(
                service__isnull=True, role__in=ORGANISATION_WIDE_ROLES
            ).values("organisation_id")
        )
    ).values("pk")


def tickets_visible_to(user: Any) -> QuerySet[Ticket]:
    """The tickets ``user`` may see: those of their services (all for a superuser)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Ticket.objects.none()
    services = visible_service_ids(user)
    qs = Ticket.objects.all()
    return qs if services is None else qs.filter(service_id__in=services)


def can_view_ticket(user: Any, ticket: Ticket) -> bool:
    return bool(roles_for_service(user, ticket.service))


def can_work_ticket(user: Any, ticket: Ticket) -> bool:
    """Transitions, assignment, updates and notes: staff roles of the ticket's service."""
    from signalements.workflow import STAFF

    return bool(roles_for_service(user, ticket.service) & STAFF)


def can_reroute(user: Any, ticket: Ticket) -> bool:
    """Moving a ticket elsewhere: any staff role of its current service."""
    return can_work_ticket(user, ticket)


def can_view_personal_data(user: Any, ticket: Ticket) -> bool:
    """The reporter's contact: staff of the ticket's service only (and logged by the caller)."""
    return can_work_ticket(user, ticket)
