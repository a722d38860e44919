"""The collections served by the OGC API: a small declared registry.

Each collection says where its rows come from (a queryset of public fields only), how one row
becomes GeoJSON properties, which column is its geometry, how ``datetime`` filters it and how an
item is looked up. The views never name a model. The urbanisme collections (projects,
contributions, planning-features) share their public fields and their anonymisation with the
exports (``opendata.exports``): one definition of what is public.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Exists, Model, OuterRef, Q, QuerySet
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from config.db_router import replica_alias
from geo.models import Territory, Zone
from opendata import exports
from signalements.models import Report
from signalements.selectors import reports_public_listing
from signalements.serializers import report_properties
from urbanisme.bilan import public_channel_label
from urbanisme.models import Contribution, LayerFeature, Project, Reply, Visibility

# An interval: either bound may be open (None). Bounds are aware datetimes.
Interval = tuple[datetime | None, datetime | None]


@dataclass(frozen=True)
class Collection:
    id: str
    title: Promise | str
    description: Promise | str
    queryset: Callable[[], QuerySet[Any]]
    properties: Callable[[Any], dict[str, Any]]
    feature_id: Callable[[Any], str]
    lookup: Callable[[QuerySet[Any], str], QuerySet[Any]]
    geometry_field: str = "geom"
    # Cheap queryset (no annotations) for numberMatched and the extent; defaults to ``queryset``.
    count_queryset: Callable[[], QuerySet[Any]] | None = None
    datetime_filter: Callable[[QuerySet[Any], Interval], QuerySet[Any]] | None = None
    # Column of the temporal extent (min/max), if any.
    temporal_field: str | None = None
    ordering: tuple[str, ...] = ("pk",)
    extra: dict[str, Any] = field(default_factory=dict)

    def counting(self) -> QuerySet[Any]:
        return (self.count_queryset or self.queryset)()


def _interval_on(column: str) -> Callable[[QuerySet[Any], Interval], QuerySet[Any]]:
    """Instants of ``column`` inside the closed interval."""

    def apply(qs: QuerySet[Any], interval: Interval) -> QuerySet[Any]:
        start, end = interval
        if start is not None:
            qs = qs.filter(**{f"{column}__gte": start})
        if end is not None:
            qs = qs.filter(**{f"{column}__lte": end})
        return qs

    return apply


def _zones_valid_during(qs: QuerySet[Any], interval: Interval) -> QuerySet[Any]:
    """Zones whose validity period (open bounds allowed) meets the interval."""
    start, end = interval
    if start is not None:
        qs = qs.filter(Q(valid_until__isnull=True) | Q(valid_until__gte=start.date()))
    if end is not None:
        qs = qs.filter(Q(valid_from__isnull=True) | Q(valid_from__lte=end.date()))
    return qs


# --- Reports ---------------------------------------------------------------------------------------


def _reports() -> QuerySet[Report]:
    # Open data tolerates replication lag (config/db_router.py).
    return reports_public_listing()


def _reports_count() -> QuerySet[Report]:
    return Report.objects.using(replica_alias()).filter(published=True)


# --- Zones -----------------------------------------------------------------------------------------


def _zones() -> QuerySet[Zone]:
    return (
        Zone.objects.select_related("service")
        .prefetch_related("categories")
        .only(
            "id",
            "name",
            "geom",
            "priority",
            "all_categories",
            "valid_from",
            "valid_until",
            "service__id",
            "service__name",
        )
    )


def _zone_properties(zone: Zone) -> dict[str, Any]:
    return {
        "name": zone.name,
        "service_id": zone.service_id,
        "service": zone.service.name,
        "priority": zone.priority,
        "all_categories": zone.all_categories,
        "categories": sorted(c.code for c in zone.categories.all()),
        "valid_from": zone.valid_from.isoformat() if zone.valid_from else None,
        "valid_until": zone.valid_until.isoformat() if zone.valid_until else None,
    }


def _by_int_pk(qs: QuerySet[Any], value: str) -> QuerySet[Any]:
    return qs.filter(pk=int(value)) if value.isdigit() else qs.none()


# --- Territories -----------------------------------------------------------------------------------


def _territories() -> QuerySet[Territory]:
    return Territory.objects.select_related("organisation").only(
        "id", "name", "slug", "geom", "organisation__id", "organisation__name"
    )


def _territory_properties(territory: Territory) -> dict[str, Any]:
    return {"name": territory.name, "slug": territory.slug, "organisation": territory.organisation.name}


def _pk(obj: Model) -> str:
    return str(obj.pk)


# --- Urbanisme -------------------------------------------------------------------------------------


def _projects() -> QuerySet[Project]:
    return (
        exports.public_projects()
        .select_related("organisation", "territory")
        .prefetch_related("phases")
        .only(
            "id",
            "slug",
            "title",
            "summary",
            "status",
            "perimeter",
            "published_at",
            "bilan_published_at",
            "organisation__id",
            "organisation__name",
            "territory__id",
            "territory__slug",
        )
    )


def _contributions() -> QuerySet[Contribution]:
    answered = Reply.objects.filter(
        contribution=OuterRef("pk"), is_official=True, visibility=Visibility.PUBLISHED
    )
    return (
        exports.public_contributions()
        .select_related("project", "phase", "theme")
        .only(
            "id",
            "kind",
            "title",
            "text",
            "geom",
            "channel",
            "channel_label",
            "supports_count",
            "created_at",
            "project__id",
            "project__slug",
            "phase__id",
            "phase__kind",
            "phase__title",
            "theme__id",
            "theme__name",
        )
        .annotate(answered=Exists(answered))
    )


def _contribution_properties(contribution: Contribution) -> dict[str, Any]:
    """The public fields, with the title and the text (as on the public page) but never the
    pseudonym, the author, the account or the agent who entered it (docs/OPENDATA.md)."""
    phase = contribution.phase
    return {
        "project": contribution.project.slug,
        "phase": phase.kind,
        "phase_label": phase.label,
        "kind": contribution.kind,
        "kind_label": str(contribution.get_kind_display()),
        "theme": contribution.theme.name if contribution.theme else None,
        "channel": contribution.channel,
        "channel_name": str(contribution.get_channel_display()),
        "channel_detail": public_channel_label(contribution.channel, contribution.channel_label) or None,
        "title": contribution.title,
        "text": contribution.text,
        "supports": contribution.supports_count,
        "answered": bool(contribution.answered),  # type: ignore[attr-defined]
        "created_date": exports.paris_date(contribution.created_at),
    }


def _layer_features() -> QuerySet[LayerFeature]:
    return (
        exports.public_layer_features()
        .select_related("layer__project")
        .only(
            "id",
            "geom",
            "title",
            "text",
            "properties",
            "layer__id",
            "layer__slug",
            "layer__name",
            "layer__kind",
            "layer__project__id",
            "layer__project__slug",
        )
    )


REGISTRY: dict[str, Collection] = {}


def register(collection: Collection) -> Collection:
    REGISTRY[collection.id] = collection
    return collection


register(
    Collection(
        id="reports",
        title=_("Signalements"),
        description=_("Signalements publiés par les habitants : catégorie, état, service, dates."),
        queryset=_reports,
        count_queryset=_reports_count,
        properties=report_properties,
        feature_id=lambda report: report.reference,
        lookup=lambda qs, value: qs.filter(reference=value),
        geometry_field="location",
        datetime_filter=_interval_on("created_at"),
        temporal_field="created_at",
    )
)
register(
    Collection(
        id="zones",
        title=_("Zones de compétence"),
        description=_("Secteurs où un service traite les signalements, par catégorie."),
        queryset=_zones,
        count_queryset=lambda: Zone.objects.all(),
        properties=_zone_properties,
        feature_id=_pk,
        lookup=_by_int_pk,
        datetime_filter=_zones_valid_during,
    )
)
register(
    Collection(
        id="territories",
        title=_("Territoires"),
        description=_("Territoires desservis par l'instance."),
        queryset=_territories,
        count_queryset=lambda: Territory.objects.all(),
        properties=_territory_properties,
        feature_id=lambda territory: territory.slug,
        lookup=lambda qs, value: qs.filter(slug=value),
    )
)
register(
    Collection(
        id="projects",
        title=_("Projets urbains"),
        description=_(
            "Projets publiés en concertation : titre, résumé, statut, organisation, périmètre et phase "
            "en cours."
        ),
        queryset=_projects,
        count_queryset=exports.public_projects,
        properties=exports.project_properties,
        feature_id=lambda project: project.slug,
        lookup=lambda qs, value: qs.filter(slug=value),
        geometry_field="perimeter",
        datetime_filter=_interval_on("published_at"),
        temporal_field="published_at",
    )
)
register(
    Collection(
        id="contributions",
        title=_("Contributions aux concertations"),
        description=_(
            "Contributions publiées des projets : nature, thème, canal, titre, texte, soutiens, "
            "réponse officielle ; sans pseudonyme ni auteur."
        ),
        queryset=_contributions,
        count_queryset=exports.public_contributions,
        properties=_contribution_properties,
        feature_id=_pk,
        lookup=_by_int_pk,
        datetime_filter=_interval_on("created_at"),
        temporal_field="created_at",
    )
)
register(
    Collection(
        id="planning-features",
        title=_("Couches des projets urbains"),
        description=_("Objets des couches publiées des projets : plans, phasage, annotations de l'équipe."),
        queryset=_layer_features,
        count_queryset=exports.public_layer_features,
        properties=exports.layer_feature_properties,
        feature_id=_pk,
        lookup=_by_int_pk,
    )
)
