"""Filing a report: one form that works without scripts, enhanced by ``static/web/js/pages/report-form.js``.

Without scripts the browser posts the form; the server checks the position (ambiguity) and the
nearby reports first and shows them on the same form, then files through
``signalements.services.report_create``. With scripts the same form is posted by ``fetch`` with
``Accept: application/json``, so that a failed send keeps everything typed and can be retried; the
hidden ``idempotency_key`` makes a retry after a lost answer return the first report.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.gis.geos import Point
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from geo.srid import InvalidGeometry, point_from_lonlat
from signalements import serializers, services
from signalements.errors import ReportError, ValidationFailed
from signalements.models import Channel, Report, ReportContact, TicketState
from web import geocoding, selectors
from web.forms import ReportForm
from web.views.common import error_json, map_config, rate_limited, wants_json

FILED_SESSION_KEY = "web_filed_reports"
FILED_SESSION_MAX = 20
# The services' error keys, as the form's fields (where the message is shown).
FIELD_OF = {
    "location": "where",
    "contact.email": "email",
    "contact.phone": "email",
    "contact.name": "email",
}


def _form_context(request: HttpRequest, values: Any, **extra: Any) -> dict[str, Any]:
    return {
        "v": values,
        "groups": selectors.category_groups(),
        "places": selectors.places(),
        "geocoder": geocoding.enabled(),
        "map_config": map_config(),
        "nav": "report",
        "steps": [],
        "check": None,
        "errors": {},
        **extra,
    }


def _errors_from_form(form: ReportForm) -> dict[str, list[str]]:
    return {field: [str(e) for e in errs] for field, errs in form.errors.items()}


def _summary(errors: dict[str, list[str]]) -> list[tuple[str, str]]:
    return [(field, message) for field, messages in errors.items() for message in messages]


def _answer_errors(
    request: HttpRequest, values: Any, errors: dict[str, list[str]], *, status: int, code: str, **extra: Any
) -> HttpResponse:
    if "__all__" in errors:
        errors = {**errors, "form": errors["__all__"]}
        del errors["__all__"]
    if wants_json(request):
        first = next(iter(errors.values()))[0] if errors else ""
        return error_json(code, first, errors, status=status)
    context = _form_context(request, values, errors=errors, error_summary=_summary(errors), **extra)
    return render(request, "web/report_form.html", context, status=status)


def _point(data: dict[str, Any], errors: dict[str, list[str]]) -> tuple[Point | None, str]:
    """The position from typed or picked coordinates, else a chosen place, else the address searched."""
    lon, lat = data.get("lon_value"), data.get("lat_value")
    if lon is not None and lat is not None:
        try:
            return point_from_lonlat(lon, lat), ""
        except InvalidGeometry as exc:
            errors.setdefault("lat", []).append(str(exc))
            return None, ""
    if data.get("place"):
        point = selectors.place_point(data["place"])
        if point is None:
            errors.setdefault("place", []).append(_("Lieu inconnu : choisissez-en un dans la liste."))
        return point, ""
    if data.get("address") and geocoding.enabled():
        found = geocoding.geocode(data["address"], limit=1)
        if not found:
            errors.setdefault("address", []).append(
                _("Adresse introuvable : précisez-la, choisissez un lieu ou placez le repère sur la carte.")
            )
            return None, ""
        return point_from_lonlat(found[0].lon, found[0].lat), found[0].label
    return None, ""  # the service may still find a position in a photo's EXIF


def check_payload(check: selectors.FilingCheck, request: HttpRequest) -> dict[str, Any]:
    decision = check.decision
    return {
        "error": {"code": check.error_code, "message": check.error_message} if check.error_code else None,
        "service": decision.service_name if decision else None,
        "explanation": decision.explanation if decision else None,
        "ambiguous": check.ambiguous,
        "alternatives": [
            {"service": alt.service_name, "reason": alt.reason}
            for alt in (decision.alternatives if decision else [])
        ],
        "nearby": [nearby_item(n.report, n.distance_m) for n in check.nearby],
    }


def nearby_item(report: Report, distance_m: float) -> dict[str, Any]:
    """A possible duplicate as the page lists it: public fields only."""
    return {
        "reference": report.reference,
        "category": str(report.category),
        "status": report.ticket.state,
        "status_label": TicketState(report.ticket.state).label,
        "description": Truncator(report.description).chars(160),
        "address": report.address,
        "distance_m": round(distance_m),
        "support_count": getattr(report, "support_count", 0),
        "created_at": date_format(timezone.localtime(report.created_at), "SHORT_DATE_FORMAT"),
        "url": reverse("web:report-detail", args=[report.reference]),
        "support_url": reverse("web:report-support", args=[report.reference]),
    }


@require_http_methods(["GET", "POST"])
def report_new(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        values = {"idempotency_key": uuid.uuid4().hex, "category": request.GET.get("categorie", "")}
        return render(request, "web/report_form.html", _form_context(request, values))
    if refused := rate_limited(request, "report_create"):
        return refused

    form = ReportForm(request.POST)
    values = request.POST
    if not form.is_valid():
        return _answer_errors(request, values, _errors_from_form(form), status=400, code="donnees_invalides")
    data = form.cleaned_data
    errors: dict[str, list[str]] = {}
    point, found_address = _point(data, errors)
    if errors:
        return _answer_errors(request, values, errors, status=400, code="donnees_invalides")

    # Before sending: a position near a boundary is confirmed, and nearby open reports are shown once
    # (not for a retry of a report already filed: the service returns it as it is).
    key = data["idempotency_key"]
    if point is not None and data["category"] and not (key and selectors.report_filed_with_key(key)):
        check = selectors.filing_check(point, data["category"])
        steps = []
        if check.ambiguous and not data["confirm_position"]:
            steps.append("ambiguous")
        if check.nearby and not data["duplicates_seen"]:
            steps.append("duplicates")
        if steps:
            if wants_json(request):
                return JsonResponse({"step": steps, "check": check_payload(check, request)}, status=409)
            return render(
                request,
                "web/report_form.html",
                _form_context(request, values, check=check, steps=steps, photos_dropped=bool(request.FILES)),
            )

    try:
        filed = services.report_create(
            category=data["category"],
            location=point,
            description=data["description"],
            address=data["address"] or found_address,
            contact=services.ContactInput(email=data["email"], consent_to_contact=data["consent"]),
            photos=request.FILES.getlist("photos"),
            idempotency_key=data["idempotency_key"] or None,
            channel=Channel.WEB,
            actor=request.user,
        )
    except ValidationFailed as exc:
        errors = {}
        for key, messages in exc.errors.items():
            errors.setdefault(FIELD_OF.get(key, key), []).extend(messages)
        return _answer_errors(request, values, errors, status=exc.status, code=exc.code)
    except ReportError as exc:
        return _answer_errors(request, values, {"__all__": [exc.message]}, status=exc.status, code=exc.code)

    filed_refs = [r for r in request.session.get(FILED_SESSION_KEY, []) if r != filed.report.reference]
    request.session[FILED_SESSION_KEY] = [*filed_refs, filed.report.reference][-FILED_SESSION_MAX:]
    target = reverse("web:report-filed", args=[filed.report.reference])
    if wants_json(request):
        return JsonResponse(
            {"reference": filed.report.reference, "created": filed.created, "redirect": target},
            status=201 if filed.created else 200,
        )
    return redirect(target, permanent=False)


@require_GET
def report_check(request: HttpRequest) -> HttpResponse:
    """JSON for the filing page's scripts: the router's decision and nearby reports for a draft."""
    form = ReportForm(request.GET)
    if not form.is_valid() or form.cleaned_data.get("lon_value") is None or not form.cleaned_data["category"]:
        return error_json(
            "donnees_invalides", _("Indiquez la position (lon, lat) et la catégorie."), status=400
        )
    data = form.cleaned_data
    try:
        point = point_from_lonlat(data["lon_value"], data["lat_value"])
    except InvalidGeometry as exc:
        return error_json("donnees_invalides", str(exc), {"lat": [str(exc)]}, status=400)
    return JsonResponse(check_payload(selectors.filing_check(point, data["category"]), request))


@require_GET
def address_search(request: HttpRequest) -> HttpResponse:
    """JSON for the filing page: addresses found by the server-side geocoder (none when it is off)."""
    if geocoding.enabled() and (refused := rate_limited(request, "address_search")):
        return refused
    results = geocoding.geocode(request.GET.get("q", ""))
    return JsonResponse({"results": [{"label": a.label, "lon": a.lon, "lat": a.lat} for a in results]})


def report_filed(request: HttpRequest, reference: str) -> HttpResponse:
    """After sending: the reference, the service in charge and why, the tracking link.

    Only in the session that filed it (an unpublished report must not be readable by reference).
    """
    if reference not in request.session.get(FILED_SESSION_KEY, []):
        return redirect("web:report-detail", reference=reference)
    report = (
        Report.objects.select_related("ticket", "ticket__service", "category")
        .filter(reference=reference)
        .first()
    )
    if report is None:
        return redirect("web:home")
    context = {
        "report": report,
        "routing": serializers.routing_public(report.ticket.routing),
        "emailed": ReportContact.objects.filter(report=report).exclude(email="").exists(),
        "tracking_url": request.build_absolute_uri(reverse("web:report-detail", args=[reference])),
    }
    return render(request, "web/report_filed.html", context)
