"""Citizens' pages: the map of the territory, a report's public page, « +1 et suivre », the tracking link.

Public pages read through ``signalements.selectors`` (public fields only, no personal data joined)
and the public serializers' helpers (history without internal notes or staff names, EXIF-free
photo copies only).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from signalements import selectors as report_selectors
from signalements import serializers, services, workflow
from signalements.errors import NotFound, ReportError, ValidationFailed
from signalements.models import Report, TicketState
from web import selectors
from web.forms import SupportForm
from web.views.common import error_json, map_config, rate_limited, wants_json

# The road most tickets travel, shown as a timeline; other states appear in the dated history.
TIMELINE = (
    TicketState.NOUVEAU,
    TicketState.PRIS_EN_COMPTE,
    TicketState.PROGRAMME,
    TicketState.EN_COURS,
    TicketState.RESOLU,
)


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    category = request.GET.get("categorie", "")
    status = request.GET.get("etat", "")
    categories = selectors.filter_categories()
    if category not in {c.code for c in categories}:
        category = ""
    if status not in selectors.STATUS_GROUPS:
        status = ""
    context = {
        "map_config": map_config(),
        "categories": categories,
        "status_groups": [
            ("ouverts", _("En cours de traitement")),
            ("resolus", _("Résolus")),
            ("clos", _("Clos (résolus, rejetés, doublons)")),
        ],
        "filters": {
            "category": category,
            "status": status,
            "status_values": ",".join(selectors.STATUS_GROUPS.get(status, [])),
        },
        "reports": selectors.reports_for_home(category=category, status=status),
    }
    return render(request, "web/home.html", context)


def _timeline(state: str, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The main road with each step done, current or to come (said in words, not only shown)."""
    reached = {item["status"] for item in history if item.get("status")}
    current = TIMELINE.index(state) if state in TIMELINE else -1
    steps = []
    for index, step in enumerate(TIMELINE):
        if index == current:
            where = "current"
        elif step in reached:
            where = "done"
        elif index < current:
            where = "skipped"
        else:
            where = "todo"
        steps.append({"state": step, "label": step.label, "where": where})
    return steps


def _history(ticket: Any) -> list[dict[str, Any]]:
    items = serializers.public_history(ticket)
    for item in items:
        item["at"] = datetime.fromisoformat(item["at"])
    return items


def report_page_context(report: Report) -> dict[str, Any]:
    ticket = report.ticket
    history = _history(ticket)
    return {
        "report": report,
        "ticket": ticket,
        "state_label": TicketState(ticket.state).label,
        "is_open": workflow.is_open(ticket.state),
        "routing": serializers.routing_public(ticket.routing),
        "history": history,
        "updates": [item for item in history if item.get("message")],
        "timeline": _timeline(ticket.state, history),
        "off_road": ticket.state not in TIMELINE,
        "photos": serializers.public_photos(report),
        "map_config": map_config(),
        "lon": report.location.x,
        "lat": report.location.y,
    }


@require_GET
def report_detail(request: HttpRequest, reference: str) -> HttpResponse:
    report = report_selectors.report_public(reference)
    if report is None:
        raise Http404(_("Signalement introuvable."))
    return render(request, "web/report_detail.html", report_page_context(report))


@require_POST
def report_support(request: HttpRequest, reference: str) -> HttpResponse:
    """« +1 et suivre »: counted once per person; following needs an e-mail."""
    if refused := rate_limited(request, "support"):
        return refused
    report = Report.objects.filter(reference=reference).first()
    form = SupportForm(request.POST)
    email = form.cleaned_data["email"] if form.is_valid() else ""
    client = f"{request.META.get('REMOTE_ADDR', '')}|{request.META.get('HTTP_USER_AGENT', '')}"
    try:
        if report is None:
            raise NotFound(_("Signalement introuvable."))
        fingerprint = services.support_fingerprint(user=request.user, email=email, client=client)
        created, count = services.report_support(
            report=report, fingerprint=fingerprint, email=email, user=request.user
        )
    except NotFound as exc:
        if wants_json(request):
            return error_json(exc.code, exc.message, status=404)
        raise Http404(exc.message) from exc
    except (ValidationFailed, ReportError) as exc:
        if wants_json(request):
            errors = getattr(exc, "errors", {})
            return error_json(exc.code, exc.message, errors, status=exc.status)
        messages.error(request, exc.message)
        return redirect("web:report-detail", reference=reference)

    text = _("Merci : votre soutien est compté.") if created else _("Votre soutien était déjà compté.")
    if email:
        text = " ".join((text, _("Vous serez prévenu par e-mail des suites.")))
    if wants_json(request):
        return JsonResponse({"reference": reference, "new": created, "support_count": count, "message": text})
    messages.success(request, text)
    return redirect("web:report-detail", reference=reference)


@require_GET
def tracking(request: HttpRequest, token: str) -> HttpResponse:
    """The private link of the confirmation e-mail: confirms the address, then shows the report."""
    try:
        report = services.report_confirm_email(token=token)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    report = selectors.report_with_supports(
        Report.objects.select_related("ticket", "ticket__service", "category", "duplicate_of").get(
            pk=report.pk
        )
    )
    context = report_page_context(report)
    context["confirmed"] = True
    return render(request, "web/report_detail.html", context)
