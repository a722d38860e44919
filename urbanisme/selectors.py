"""Reads of the urbanisme domain: what the public may see, and what the team works on.

Public reads never select ``ContributionAuthor`` nor followers; moderation decides visibility:
a hidden contribution stays listed by its reason only (« masqué par la modération : … »), so that
the public sees that something was removed and why, without its content.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.gis.geos import Polygon
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from urbanisme import permissions
from urbanisme.models import Contribution, Phase, Project, ProjectStatus, Reply, Visibility
from urbanisme.phases import current_phase, next_phase
from urbanisme.services import phase_dates


def projects_public() -> QuerySet[Project]:
    return (
        Project.objects.filter(status__in=[ProjectStatus.PUBLISHED, ProjectStatus.ARCHIVED])
        .select_related("organisation", "territory")
        .prefetch_related("phases")
        .order_by("title")
    )


def project_visible(slug: str, user: Any = None) -> Project | None:
    """A published or archived project; a draft only for its team (preview)."""
    project = (
        Project.objects.select_related("organisation", "territory")
        .prefetch_related("phases", "themes", "documents")
        .filter(slug=slug)
        .first()
    )
    if project is None:
        return None
    if project.status == ProjectStatus.DRAFT and not permissions.can_moderate_project(user, project):
        return None
    return project


@dataclass(frozen=True)
class Calendar:
    phases: list[Phase]
    current: Phase | None
    upcoming: Phase | None

    @property
    def contributions_open(self) -> bool:
        return self.current is not None and self.current.allows_contributions

    @property
    def supports_open(self) -> bool:
        return self.current is not None and self.current.allows_supports


def project_calendar(project: Project, now: datetime | None = None) -> Calendar:
    now = now or timezone.now()
    phases = sorted(project.phases.all(), key=lambda p: p.start_date)
    dates = phase_dates(phases)
    found, coming = current_phase(dates, now), next_phase(dates, now)
    by_pk = {p.pk: p for p in phases}
    return Calendar(
        phases=phases,
        current=by_pk.get(found.key) if found else None,
        upcoming=by_pk.get(coming.key) if coming else None,
    )


def _answered() -> Exists:
    return Exists(
        Reply.objects.filter(contribution=OuterRef("pk"), is_official=True, visibility=Visibility.PUBLISHED)
    )


def contributions_public(
    project: Project,
    *,
    kind: str | None = None,
    theme_id: int | None = None,
    phase_id: int | None = None,
    bbox: Polygon | None = None,
    answered: bool | None = None,
    include_hidden: bool = True,
    order: str = "recent",
) -> QuerySet[Contribution]:
    """Published contributions, plus hidden ones (shown only by their moderation reason)."""
    visible = [Visibility.PUBLISHED, Visibility.HIDDEN] if include_hidden else [Visibility.PUBLISHED]
    qs = (
        Contribution.objects.filter(project=project, visibility__in=visible)
        .select_related("theme", "phase")
        .annotate(is_answered=_answered())
        .annotate(reply_count=Count("replies", filter=Q(replies__visibility=Visibility.PUBLISHED)))
    )
    if kind:
        qs = qs.filter(kind=kind)
    if theme_id:
        qs = qs.filter(theme_id=theme_id)
    if phase_id:
        qs = qs.filter(phase_id=phase_id)
    if bbox is not None:
        qs = qs.filter(geom__intersects=bbox)
    if answered is not None:
        qs = qs.filter(is_answered=answered)
    return (
        qs.order_by("-supports_count", "-created_at") if order == "supports" else qs.order_by("-created_at")
    )


def contribution_public(project: Project, contribution_id: int) -> Contribution | None:
    replies = Reply.objects.filter(visibility__in=[Visibility.PUBLISHED, Visibility.HIDDEN]).order_by(
        "created_at"
    )
    return (
        Contribution.objects.filter(
            project=project, pk=contribution_id, visibility__in=[Visibility.PUBLISHED, Visibility.HIDDEN]
        )
        .select_related("theme", "phase")
        .annotate(is_answered=_answered())
        .prefetch_related(Prefetch("replies", queryset=replies))
        .first()
    )


def moderation_queue(project: Project) -> QuerySet[Contribution]:
    """Everything the moderators must look at: pending first, then the newest."""
    return (
        Contribution.objects.filter(project=project)
        .select_related("theme", "phase", "author")
        .annotate(is_answered=_answered())
        .order_by("visibility", "-created_at")
    )
