"""Back-office views of reports, tickets and Open311 clients (the outbox is in ``geo.admin``).

Tickets change state only through ``signalements.services`` (the workflow table and its events),
so the admin shows state, service and history read-only; staff work tickets through the API and
pages.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from leaflet.admin import LeafletGeoAdmin

from geo.models import Organisation
from signalements.models import (
    ApiClient,
    Photo,
    Report,
    ReportContact,
    ResponseTemplate,
    Ticket,
    TicketEvent,
    ticket_organisation_ids,
)
from signalements.open311 import keys


class ContactInline(admin.StackedInline):
    model = ReportContact
    extra = 0
    can_delete = False
    readonly_fields = ("name", "email", "phone", "consent_to_contact", "confirmed_at")
    exclude = ("tracking_token_hash",)


class PhotoInline(admin.TabularInline):
    model = Photo
    extra = 0
    can_delete = False
    fields = ("position", "web", "thumbnail", "width", "height", "processed_at")
    readonly_fields = fields


@admin.register(Report)
class ReportAdmin(LeafletGeoAdmin):
    list_display = ("reference", "category", "state", "service", "created_at", "published", "channel")
    list_filter = ("category", "ticket__state", "ticket__service", "published", "channel")
    search_fields = ("reference", "description", "address")
    readonly_fields = ("reference", "idempotency_key", "created_at", "updated_at", "duplicate_of")
    list_select_related = ("category", "category__parent", "ticket", "ticket__service")
    inlines = [ContactInline, PhotoInline]
    date_hierarchy = "created_at"

    @admin.display(description=_("état"))
    def state(self, obj: Report) -> str:
        return obj.ticket.get_state_display()

    @admin.display(description=_("service"))
    def service(self, obj: Report) -> str:
        return obj.ticket.service.name


class EventInline(admin.TabularInline):
    model = TicketEvent
    extra = 0
    can_delete = False
    fields = (
        "at",
        "kind",
        "actor",
        "from_state",
        "to_state",
        "to_service",
        "public_message",
        "internal_note",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ("report", "service", "state", "priority", "assigned_to", "due_at", "ambiguous")
    list_filter = ("state", "service", "priority", "ambiguous")
    search_fields = ("report__reference",)
    readonly_fields = (
        "report",
        "service",
        "state",
        "routing",
        "ambiguous",
        "created_at",
        "updated_at",
        "closed_at",
    )
    fields = (*readonly_fields[:3], "assigned_to", "priority", "due_at", *readonly_fields[3:])
    list_select_related = ("report", "service", "assigned_to")
    inlines = [EventInline]


@admin.register(ResponseTemplate)
class ResponseTemplateAdmin(admin.ModelAdmin):
    """Templates of the user's organisations only (superusers: all, and the shared ones).

    A non-superuser lists their organisations' templates and the shared ones, may edit only their
    organisations' (shared wording is the platform's) and must give one of them to a new template,
    so that no one writes into, or reads from, another organisation's templates.
    """

    list_display = ("title", "organisation", "category", "state", "is_active")
    list_filter = ("organisation", "category", "state", "is_active")
    search_fields = ("title", "text")
    list_select_related = ("organisation", "category", "category__parent")

    def get_queryset(self, request: HttpRequest) -> QuerySet[ResponseTemplate]:
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(
            Q(organisation__isnull=True) | Q(organisation_id__in=ticket_organisation_ids(request.user))
        )

    def get_list_filter(self, request: HttpRequest) -> Any:
        # The organisation filter would list every organisation's name.
        return self.list_filter if request.user.is_superuser else self.list_filter[1:]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "organisation" and not request.user.is_superuser:
            kwargs["queryset"] = Organisation.objects.filter(pk__in=ticket_organisation_ids(request.user))
            kwargs["required"] = True
            kwargs["empty_label"] = None
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _own(self, request: HttpRequest, obj: ResponseTemplate | None) -> bool:
        return obj is None or request.user.is_superuser or obj.organisation_id is not None

    def has_change_permission(self, request: HttpRequest, obj: ResponseTemplate | None = None) -> bool:
        return self._own(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: ResponseTemplate | None = None) -> bool:
        return self._own(request, obj) and super().has_delete_permission(request, obj)


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    """Open311 clients. The key is made on creation and shown once in a message; only its hash is kept."""

    list_display = ("name", "key_prefix", "is_active", "created_at", "last_used_at")
    list_filter = ("is_active",)
    search_fields = ("name", "key_prefix")
    readonly_fields = ("key_prefix", "created_at", "last_used_at")
    filter_horizontal = ("jurisdictions",)
    actions = ["new_key"]

    def save_model(self, request: HttpRequest, obj: ApiClient, form: Any, change: bool) -> None:
        key = None if change else keys.api_key_assign(obj)
        super().save_model(request, obj, form, change)
        if key:
            self._show_key(request, obj, key)

    @admin.action(description=_("Générer une nouvelle clé (l'ancienne cesse de fonctionner)"))
    def new_key(self, request: HttpRequest, queryset: QuerySet[ApiClient]) -> None:
        for client in queryset:
            key = keys.api_key_assign(client)
            client.save(update_fields=["key_hash", "key_prefix"])
            self._show_key(request, client, key)

    def _show_key(self, request: HttpRequest, client: ApiClient, key: str) -> None:
        messages.warning(
            request,
            _("Clé d'API de « %(name)s », affichée une seule fois (copiez-la maintenant) : %(key)s")
            % {"name": client.name, "key": key},
        )
