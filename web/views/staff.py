"""Field services' pages: the queue of my services' tickets (list and map) and the ticket page.

Access: signed in with a staff role (``permissions.is_staff_user``), else the sign-in page or 403;
a ticket outside the user's services is a 404, as in the API. Every action calls one service of
``signalements.services``, which checks the user's roles again and applies the workflow table; the
page only offers the transitions ``workflow.allowed_transitions`` lists for the user's roles.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from geo.access_log import personal_data_accessed
from geo.models import Service
from signalements import permissions, serializers, services, workflow
from signalements import selectors as report_selectors
from signalements.errors import NotFound, ReportError, ValidationFailed
from signalements.models import ReportContact, ResponseTemplate, Ticket, TicketState
from web import selectors
from web.forms import AssignForm, MessageForm, NoteForm, PriorityForm, QueueFilterForm, TransitionForm
from web.views.common import map_config, staff_required

PAGE_SIZE = 50


@require_GET
@staff_required
def queue(request: HttpRequest) -> HttpResponse:
    form = QueueFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    state = data.get("state") or ""
    filters: dict[str, Any] = {
        "category": data.get("category") or None,
        "overdue": bool(data.get("overdue")),
        "assigned_to_me": bool(data.get("mine")),
    }
    if state == "clos":
        filters["state"] = sorted(workflow.CLOSED_STATES)
    elif state:
        filters["state"] = [state]
    tickets = report_selectors.tickets_queue(request.user, filters=filters)
    page = Paginator(tickets, PAGE_SIZE).get_page(data.get("page") or 1)
    rows: list[dict[str, Any]] = [
        {"ticket": t, "overdue": report_selectors.is_overdue(t), "state_label": TicketState(t.state).label}
        for t in page.object_list
    ]
    features = [
        {
            "reference": row["ticket"].report.reference,
            "lon": row["ticket"].report.location.x,
            "lat": row["ticket"].report.location.y,
            "state": row["state_label"],
            "category": str(row["ticket"].report.category),
            "overdue": row["overdue"],
            "url": reverse("web:ticket", args=[row["ticket"].report.reference]),
        }
        for row in rows
    ]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "web/staff/queue.html",
        {
            "form": form,
            "page": page,
            "rows": rows,
            "features": features,
            "query": query.urlencode(),
            "map_config": map_config(),
            "nav": "staff",
        },
    )


def ticket_context(request: HttpRequest, ticket: Ticket, **extra: Any) -> dict[str, Any]:
    user = request.user
    report = ticket.report
    roles = permissions.roles_for_service(user, ticket.service)
    transitions = workflow.allowed_transitions(ticket.state, roles)
    contact = None
    if permissions.can_view_personal_data(user, ticket):
        contact = ReportContact.objects.filter(report=report).first()
        if contact is not None and (contact.name or contact.email or contact.phone):
            personal_data_accessed(
                user=user, topic=f"report:{report.pk}", fields=["name", "email", "phone"], reason="web:ticket"
            )
    lon, lat = report.location.x, report.location.y
    return {
        "ticket": ticket,
        "report": report,
        "state_label": TicketState(ticket.state).label,
        "overdue": report_selectors.is_overdue(ticket),
        "is_open": workflow.is_open(ticket.state),
        "transitions": [t for t in transitions if not t.needs_original and not t.needs_service],
        "transition_labels": {t.target: TicketState(t.target).label for t in transitions},
        "can_mark_duplicate": any(t.needs_original for t in transitions),
        "can_transfer": any(t.needs_service for t in transitions),
        "events": ticket.events.select_related("actor", "from_service", "to_service").order_by("at", "pk"),
        "contact": contact,
        "photos": serializers.public_photos(report),
        "photos_pending": report.photos.filter(processed_at__isnull=True).count(),
        "support_count": report.supports.count(),
        "routing": ticket.routing,
        "templates": list(selectors.response_templates(ticket, request.user)),
        "services": selectors.transfer_targets(ticket),
        "staff": selectors.service_staff(ticket.service),
        "priorities": Ticket.Priority.choices,
        "lon": lon,
        "lat": lat,
        "directions_url": settings.DIRECTIONS_URL.format(lat=f"{lat:.6f}", lon=f"{lon:.6f}"),
        "geo_uri": f"geo:{lat:.6f},{lon:.6f}",
        "map_config": map_config(),
        "nav": "staff",
        "errors": {},
        "posted": {},
        **extra,
    }


@require_GET
@staff_required
def ticket_detail(request: HttpRequest, reference: str) -> HttpResponse:
    ticket = selectors.ticket_for_page(request.user, reference)
    if ticket is None:
        raise Http404(_("Ticket introuvable."))
    return render(request, "web/staff/ticket.html", ticket_context(request, ticket))


# --- actions ---------------------------------------------------------------------------------------


def _template_text(template_id: int | None, ticket: Ticket, user: Any) -> str:
    """The text of a posted template id, only if ``user`` may use it on ``ticket`` (else nothing)."""
    if not template_id:
        return ""
    found = selectors.response_templates(ticket, user).filter(pk=template_id).first()
    if not isinstance(found, ResponseTemplate):
        # Unknown, inactive or another organisation's: the same refusal, which says nothing of it.
        raise ValidationFailed({"template": [_("Réponse type introuvable.")]})
    return found.text


def _invalid(form: Any) -> ValidationFailed:
    return ValidationFailed({field: [str(e) for e in errs] for field, errs in form.errors.items()})


def _transition(request: HttpRequest, ticket: Ticket) -> str:
    form = TransitionForm(request.POST)
    if not form.is_valid():
        raise _invalid(form)
    data = form.cleaned_data
    to_service = None
    if data["service"]:
        to_service = Service.objects.filter(pk=data["service"]).first()
        if to_service is None:
            raise ValidationFailed({"service": [_("Service inconnu.")]})
    kwargs: dict[str, Any] = {
        "ticket": ticket,
        "actor": request.user,
        "to_state": data["state"],
        "public_message": data["public_message"] or _template_text(data["template"], ticket, request.user),
        "internal_note": data["internal_note"],
        "original_reference": data["original"].strip() or None,
        "to_service": to_service,
    }
    services.ticket_transition(photo=request.FILES.get("photo"), **kwargs)
    label = TicketState(data["state"]).label
    if to_service is not None:
        return _("Ticket transféré à « %(service)s ».") % {"service": to_service.name}
    return _("Ticket passé à « %(state)s ».") % {"state": label}


def _public_message(request: HttpRequest, ticket: Ticket) -> str:
    form = MessageForm(request.POST)
    if not form.is_valid():
        raise _invalid(form)
    text = form.cleaned_data["message"] or _template_text(form.cleaned_data["template"], ticket, request.user)
    services.ticket_public_update(ticket=ticket, actor=request.user, message=text)
    return _("Message public publié.")


def _internal_note(request: HttpRequest, ticket: Ticket) -> str:
    form = NoteForm(request.POST)
    if not form.is_valid():
        raise _invalid(form)
    services.ticket_internal_note(ticket=ticket, actor=request.user, note=form.cleaned_data["note"])
    return _("Note interne ajoutée.")


def _assign(request: HttpRequest, ticket: Ticket) -> str:
    form = AssignForm(request.POST)
    if not form.is_valid():
        raise _invalid(form)
    assignee = None
    if form.cleaned_data["assignee"]:
        assignee = get_user_model().objects.filter(pk=form.cleaned_data["assignee"], is_active=True).first()
        if assignee is None:
            raise ValidationFailed({"assignee": [_("Agent inconnu.")]})
    services.ticket_assign(ticket=ticket, actor=request.user, assignee=assignee)
    if assignee is None:
        return _("Le ticket n'est plus attribué.")
    return _("Ticket attribué à %(name)s.") % {"name": assignee.get_username()}


def _priority(request: HttpRequest, ticket: Ticket) -> str:
    form = PriorityForm(request.POST)
    if not form.is_valid():
        raise _invalid(form)
    services.ticket_set_priority(ticket=ticket, actor=request.user, priority=form.cleaned_data["priority"])
    return _("Priorité mise à jour.")


ACTIONS: dict[str, Callable[[HttpRequest, Ticket], str]] = {
    "etat": _transition,
    "message": _public_message,
    "note": _internal_note,
    "attribution": _assign,
    "priorite": _priority,
}


@require_POST
@staff_required
def ticket_action(request: HttpRequest, reference: str, action: str) -> HttpResponse:
    handler = ACTIONS.get(action)
    ticket = selectors.ticket_for_page(request.user, reference)
    if handler is None or ticket is None:
        raise Http404(_("Ticket introuvable."))
    try:
        done = handler(request, ticket)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except ReportError as exc:
        errors = getattr(exc, "errors", None) or {"__all__": [exc.message]}
        ticket = selectors.ticket_for_page(request.user, reference) or ticket
        context = ticket_context(request, ticket, errors={action: errors}, posted=request.POST, failed=action)
        return render(request, "web/staff/ticket.html", context, status=exc.status)
    if selectors.ticket_for_page(request.user, reference) is None:
        # Transferred to a service the user does not belong to: back to the queue.
        messages.success(request, done)
        return redirect("web:queue")
    messages.success(request, done)
    return redirect(reverse("web:ticket", args=[reference]) + "#etat")
