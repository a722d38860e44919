"""Who may do what on a project: predicates used by services, API permission classes and pages.

Rights come from ``geo.Membership`` rows on the project's organisation: planners and
administrators manage the project (calendar, layers, documents, official answers, bilan);
moderators moderate and answer. Citizens need no account to contribute.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from geo.models import Membership, Organisation
from urbanisme.models import Project

MANAGER_ROLES = frozenset({Membership.Role.PLANNER, Membership.Role.ADMINISTRATOR})
MODERATOR_ROLES = MANAGER_ROLES | {Membership.Role.MODERATOR}


def _roles(user: Any, organisation_id: int) -> set[str]:
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return set()
    return set(
        Membership.objects.filter(user=user, organisation_id=organisation_id).values_list("role", flat=True)
    )


def can_create_project(user: Any, organisation: Organisation) -> bool:
    return bool(getattr(user, "is_superuser", False)) or bool(_roles(user, organisation.pk) & MANAGER_ROLES)


def can_manage_project(user: Any, project: Project) -> bool:
    return bool(getattr(user, "is_superuser", False)) or bool(
        _roles(user, project.organisation_id) & MANAGER_ROLES
    )


def can_moderate_project(user: Any, project: Project) -> bool:
    return bool(getattr(user, "is_superuser", False)) or bool(
        _roles(user, project.organisation_id) & MODERATOR_ROLES
    )


def can_view_personal_data(user: Any, project: Project) -> bool:
    """The team reads authors' e-mails to answer them; nobody else ever does."""
    return can_moderate_project(user, project)


def projects_managed_by(user: Any) -> QuerySet[Project]:
    if getattr(user, "is_superuser", False):
        return Project.objects.all()
    if not getattr(user, "is_authenticated", False):
        return Project.objects.none()
    organisations = Membership.objects.filter(user=user, role__in=MODERATOR_ROLES).values("organisation_id")
    return Project.objects.filter(organisation_id__in=organisations)
