"""Back office of the territory model, with Leaflet map widgets for every geometry, and the outbox.

GIS administrators mostly load data with the import commands; the admin is where they look at it
on a map, fix a zone by hand, give a service its contacts, and see areas (geodesic hectares).
The outbox (notifications of every domain) is read-only, with an action to send messages again.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import FloatField, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _
from leaflet.admin import LeafletGeoAdmin

from geo.models import (
    Category,
    DefaultService,
    Membership,
    NetworkFeature,
    NetworkLayer,
    Organisation,
    OutboxMessage,
    Service,
    Territory,
    Zone,
)
from geo.srid import sql_area_m2


def _with_area(queryset: QuerySet, table: str) -> QuerySet:
    """Annotate the geodesic area in m², computed by PostGIS in the list query itself."""
    # The SQL is built from constants (a table name of this module), never from input.
    expression = RawSQL(sql_area_m2(f'"{table}"."geom"'), (), output_field=FloatField())  # noqa: S611
    return queryset.annotate(area_m2=expression)


def _hectares(value: float | None) -> str:
    return f"{number_format((value or 0) / 10_000, decimal_pos=1, use_l10n=True)} ha"


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "siren")
    list_filter = ("kind",)
    search_fields = ("name", "siren")


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ("name", "organisation", "is_active", "has_webhook")
    list_filter = ("organisation", "is_active")
    search_fields = ("name", "organisation__name")
    autocomplete_fields = ("organisation",)
    list_select_related = ("organisation",)

    @admin.display(boolean=True, description=_("webhook"))
    def has_webhook(self, obj: Service) -> bool:
        return bool(obj.webhook_url)


class ChildCategoryInline(admin.TabularInline):
    model = Category
    fk_name = "parent"
    extra = 0
    fields = ("code", "name", "icon", "default_delay", "duplicate_radius_m", "position", "is_active")


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("__str__", "code", "default_delay", "is_active")
    list_filter = ("is_active", "parent")
    search_fields = ("code", "name")
    list_select_related = ("parent",)
    inlines = [ChildCategoryInline]


class DefaultServiceInline(admin.TabularInline):
    model = DefaultService
    extra = 0
    autocomplete_fields = ("category", "service")


@admin.register(Territory)
class TerritoryAdmin(LeafletGeoAdmin):
    list_display = ("name", "slug", "organisation", "area")
    search_fields = ("name", "slug")
    autocomplete_fields = ("organisation",)
    inlines = [DefaultServiceInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return _with_area(super().get_queryset(request).select_related("organisation"), "geo_territory")

    @admin.display(description=_("surface"), ordering="area_m2")
    def area(self, obj: Territory) -> str:
        return _hectares(getattr(obj, "area_m2", None))


@admin.register(Zone)
class ZoneAdmin(LeafletGeoAdmin):
    list_display = (
        "name",
        "service",
        "priority",
        "all_categories",
        "valid_from",
        "valid_until",
        "area",
        "source",
    )
    list_filter = ("service", "categories", "priority", "all_categories", "source")
    search_fields = ("name", "service__name", "source_id")
    autocomplete_fields = ("service",)
    filter_horizontal = ("categories",)
    readonly_fields = ("source", "source_id", "attributes")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return _with_area(super().get_queryset(request).select_related("service"), "geo_zone")

    @admin.display(description=_("surface"), ordering="area_m2")
    def area(self, obj: Zone) -> str:
        return _hectares(getattr(obj, "area_m2", None))


@admin.register(NetworkLayer)
class NetworkLayerAdmin(admin.ModelAdmin):
    list_display = ("name", "default_tolerance_m")
    search_fields = ("name",)
    filter_horizontal = ("categories",)


@admin.register(NetworkFeature)
class NetworkFeatureAdmin(LeafletGeoAdmin):
    list_display = ("__str__", "layer", "service", "tolerance_m")
    list_filter = ("layer", "service")
    search_fields = ("name", "source_id")
    autocomplete_fields = ("service",)
    list_select_related = ("layer", "service")
    readonly_fields = ("source", "source_id", "attributes")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "role", "organisation", "service")
    list_filter = ("role", "organisation", "service")
    search_fields = ("user__username", "user__email")
    autocomplete_fields = ("organisation", "service")
    list_select_related = ("user", "organisation", "service")


@admin.register(DefaultService)
class DefaultServiceAdmin(admin.ModelAdmin):
    list_display = ("territory", "category", "service")
    list_filter = ("territory", "service")
    autocomplete_fields = ("category", "service")


@admin.register(OutboxMessage)
class OutboxAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "destination", "topic", "state", "attempts", "next_attempt_at", "sent_at")
    list_filter = ("state", "kind")
    search_fields = ("topic", "destination", "dedupe_key", "subject")
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]
    actions = ["retry_now"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description=_("Renvoyer maintenant (remet en attente)"))
    def retry_now(self, request: HttpRequest, queryset: QuerySet[OutboxMessage]) -> None:
        # A row being sent right now (under lease) is left to its worker: re-queuing it could send twice.
        in_flight = Q(state=OutboxMessage.State.SENDING, next_attempt_at__gt=timezone.now())
        count = (
            queryset.exclude(state=OutboxMessage.State.SENT)
            .exclude(in_flight)
            .update(state=OutboxMessage.State.PENDING, attempts=0, next_attempt_at=timezone.now())
        )
        messages.success(request, _("%(n)d notification(s) remise(s) en attente.") % {"n": count})
