"""The staff access log and the citizens' requests, read-only (nobody edits an audit trail).

``geo.PersonalDataAccess`` is registered here rather than in ``geo.admin``: the log is the privacy
app's concern, and ``geo`` only provides the table every domain writes to.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from geo.models import PersonalDataAccess
from privacy.models import SubjectRequest


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # retention deletes old rows; nobody else does


@admin.register(PersonalDataAccess)
class PersonalDataAccessAdmin(ReadOnlyAdmin):
    list_display = ("at", "username", "topic", "field_names", "reason", "request_id")
    list_filter = (("user", admin.RelatedOnlyFieldListFilter), "at")
    search_fields = ("topic", "username", "reason", "request_id")
    date_hierarchy = "at"
    list_select_related = ("user",)

    @admin.display(description=_("champs"))
    def field_names(self, obj: PersonalDataAccess) -> str:
        return ", ".join(obj.fields or [])


@admin.register(SubjectRequest)
class SubjectRequestAdmin(ReadOnlyAdmin):
    # The address is deliberately not shown: staff need to know that requests are honoured, not who made them.
    list_display = ("created_at", "expires_at", "exported_at", "erased_at", "erased_counts")
    fields = list_display
    list_filter = ("erased_at",)
    date_hierarchy = "created_at"
