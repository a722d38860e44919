"""Admin pages that show citizens' personal data write to the staff access log.

The admin's change pages of a report (its reporter's contact, inline), a contribution (its
author, inline) and an outbox message (its address and body), and the outbox list (addresses)
are found by route name after the view answered 200 to a GET, and one row is written through
``geo.access_log`` — the admin classes stay as they are. Other pages (the API's ticket detail,
the moderation queue, the staff pages) call ``personal_data_accessed`` themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from geo.access_log import personal_data_accessed
from geo.models import OutboxMessage
from signalements.models import ReportContact
from urbanisme.models import ContributionAuthor

CONTACT_FIELDS = ("name", "email", "phone")
AUTHOR_FIELDS = ("name", "email")


def _report_change(object_id: int) -> tuple[str, tuple[str, ...]] | None:
    if ReportContact.objects.filter(report_id=object_id).exists():
        return f"report:{object_id}", CONTACT_FIELDS
    return None


def _contribution_change(object_id: int) -> tuple[str, tuple[str, ...]] | None:
    if ContributionAuthor.objects.filter(contribution_id=object_id).exists():
        return f"contribution:{object_id}", AUTHOR_FIELDS
    return None


def _outbox_change(object_id: int) -> tuple[str, tuple[str, ...]] | None:
    topic = OutboxMessage.objects.filter(pk=object_id).values_list("topic", flat=True).first()
    if topic is None:
        return None
    return topic or f"outbox:{object_id}", ("destination", "body_text", "body_html")


CHANGE_PAGES: dict[str, Callable[[int], tuple[str, tuple[str, ...]] | None]] = {
    "admin:signalements_report_change": _report_change,
    "admin:urbanisme_contribution_change": _contribution_change,
    "admin:geo_outboxmessage_change": _outbox_change,
}
LIST_PAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "admin:geo_outboxmessage_changelist": ("outbox:list", ("destination",)),
}


class AdminPersonalDataAccessMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.method == "GET" and response.status_code == 200:
            match = getattr(request, "resolver_match", None)
            user = getattr(request, "user", None)
            if match is not None and getattr(user, "is_authenticated", False):
                self._log(match.view_name, match.kwargs, user)
        return response

    @staticmethod
    def _log(route: str, kwargs: dict[str, Any], user: Any) -> None:
        if route in LIST_PAGES:
            topic, fields = LIST_PAGES[route]
            personal_data_accessed(user=user, topic=topic, fields=fields, reason=route)
            return
        finder = CHANGE_PAGES.get(route)
        raw = str(kwargs.get("object_id", ""))
        if finder is None or not raw.isdigit():
            return
        found = finder(int(raw))
        if found is not None:
            topic, fields = found
            personal_data_accessed(user=user, topic=topic, fields=fields, reason=route)
