"""Back office of the concertation: projects on a map, their calendar, layers and contributions.

Planners do their daily work on the pages and the API (which apply the services' rules); the admin
is for GIS administrators and support. The calendar is edited here through inline rows, and the
database's no-overlap constraint still guards it. Authors' personal data is shown on the
contribution page only, read-only.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from leaflet.admin import LeafletGeoAdmin

from urbanisme.models import (
    Contribution,
    ContributionAuthor,
    Document,
    Layer,
    Phase,
    PhaseNotice,
    Project,
    Reply,
    Theme,
)


class PhaseInline(admin.TabularInline):
    model = Phase
    extra = 0
    fields = ("kind", "title", "start_date", "end_date", "allows_contributions", "allows_supports")


class ThemeInline(admin.TabularInline):
    model = Theme
    extra = 0


class DocumentInline(admin.TabularInline):
    model = Document
    extra = 0
    fields = ("title", "kind", "file", "size", "position")
    readonly_fields = ("kind", "size")


@admin.register(Project)
class ProjectAdmin(LeafletGeoAdmin):
    list_display = ("title", "organisation", "territory", "status", "moderation", "bilan_published_at")
    list_filter = ("status", "moderation", "territory")
    search_fields = ("title", "slug")
    prepopulated_fields = {"slug": ("title",)}
    inlines = [PhaseInline, ThemeInline, DocumentInline]
    list_select_related = ("organisation", "territory")


@admin.register(Layer)
class LayerAdmin(LeafletGeoAdmin):
    list_display = ("name", "project", "kind", "is_published", "raster_status", "position")
    list_filter = ("kind", "is_published", "raster_status")
    search_fields = ("name", "project__title")
    readonly_fields = ("raster_original", "raster_cog", "raster_status", "raster_error", "crs", "source")
    list_select_related = ("project",)


class AuthorInline(admin.StackedInline):
    model = ContributionAuthor
    fk_name = "contribution"
    extra = 0
    can_delete = False
    readonly_fields = ("name", "email", "notify")
    verbose_name = _("auteur (données personnelles, jamais publiées)")


class ReplyInline(admin.TabularInline):
    model = Reply
    extra = 0
    fields = ("text", "pseudonym", "is_official", "visibility", "hidden_reason", "created_at")
    readonly_fields = ("created_at",)


@admin.register(Contribution)
class ContributionAdmin(LeafletGeoAdmin):
    list_display = ("title", "project", "kind", "visibility", "channel", "supports_count", "created_at")
    list_filter = ("visibility", "kind", "channel", "project")
    search_fields = ("title", "text", "pseudonym")
    readonly_fields = ("supports_count", "entered_by", "moderated_by", "moderated_at", "author_user")
    inlines = [AuthorInline, ReplyInline]
    list_select_related = ("project",)
    date_hierarchy = "created_at"


@admin.register(PhaseNotice)
class PhaseNoticeAdmin(admin.ModelAdmin):
    list_display = ("project", "phase", "kind", "sent_at", "recipients")
    list_filter = ("kind",)
    readonly_fields = ("project", "phase", "kind", "sent_at", "recipients")
