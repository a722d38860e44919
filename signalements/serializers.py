"""Parse and render: input serializers only check shapes, output serializers only pick public fields.

Business checks (routing, photos, length limits that depend on settings) stay in the services;
nothing here touches ``ReportContact`` except the staff ticket serializer, which is only used
after a permission check.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from geo.srid import InvalidGeometry, geometry_from_geojson
from signalements import selectors, workflow
from signalements.models import DESCRIPTION_MAX_LENGTH, Report, Ticket, TicketEvent, TicketState


def absolute(path: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}{path}"


# --- Input ---------------------------------------------------------------------------------------


class GeoJSONPointField(serializers.JSONField):
    """A GeoJSON Point in WGS84 (RFC 7946), returned as a storage-SRID point."""

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        if isinstance(value, str):
            try:
                import json

                value = json.loads(value)
            except ValueError as exc:
                raise serializers.ValidationError(_("Point GeoJSON illisible.")) from exc
        if not isinstance(value, dict) or value.get("type") != "Point":
            raise serializers.ValidationError(
                _('Un point GeoJSON est attendu : {"type": "Point", "coordinates": [lon, lat]}.')
            )
        coords = value.get("coordinates")
        if not isinstance(coords, list) or len(coords) not in (2, 3):
            raise serializers.ValidationError(
                _("Les coordonnées du point doivent être [longitude, latitude].")
            )
        try:
            from geo.srid import point_from_lonlat

            point_from_lonlat(coords[0], coords[1])  # range checks with clear messages
            return geometry_from_geojson({"type": "Point", "coordinates": coords[:2]})
        except InvalidGeometry as exc:
            raise serializers.ValidationError(str(exc)) from exc


class ContactSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    email = serializers.CharField(required=False, allow_blank=True, max_length=254)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=32)
    consent = serializers.BooleanField(required=False, default=False)


class ReportCreateSerializer(serializers.Serializer):
    """JSON: ``contact`` is an object; multipart: ``contact_name``, ``contact_email``... and ``photos`` files."""

    lon = serializers.FloatField(required=False, help_text=_("Longitude WGS84"))
    lat = serializers.FloatField(required=False, help_text=_("Latitude WGS84"))
    location = GeoJSONPointField(required=False, help_text=_("Point GeoJSON, à la place de lon/lat"))
    category = serializers.CharField(max_length=64, help_text=_("Code de la catégorie (sous-catégorie)"))
    description = serializers.CharField(
        required=False, allow_blank=True, max_length=DESCRIPTION_MAX_LENGTH + 1000
    )
    address = serializers.CharField(required=False, allow_blank=True, max_length=300)
    contact = ContactSerializer(required=False)
    contact_name = serializers.CharField(required=False, allow_blank=True, max_length=200, write_only=True)
    contact_email = serializers.CharField(required=False, allow_blank=True, max_length=254, write_only=True)
    contact_phone = serializers.CharField(required=False, allow_blank=True, max_length=32, write_only=True)
    contact_consent = serializers.BooleanField(required=False, default=False, write_only=True)
    photos = serializers.ListField(child=serializers.FileField(), required=False, max_length=50)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("lon" in attrs) != ("lat" in attrs):
            raise serializers.ValidationError(
                {"location": [_("Indiquez à la fois la longitude et la latitude.")]}
            )
        if "location" in attrs and "lon" in attrs:
            raise serializers.ValidationError(
                {"location": [_("Indiquez lon/lat ou un point GeoJSON, pas les deux.")]}
            )
        return attrs


class SupportSerializer(serializers.Serializer):
    email = serializers.CharField(required=False, allow_blank=True, max_length=254)


class NearbyQuerySerializer(serializers.Serializer):
    lon = serializers.FloatField()
    lat = serializers.FloatField()
    category = serializers.CharField(max_length=64)
    radius = serializers.FloatField(required=False, min_value=1, max_value=500)


class TransitionSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=TicketState.choices)
    public_message = serializers.CharField(required=False, allow_blank=True, max_length=4000)
    internal_note = serializers.CharField(required=False, allow_blank=True, max_length=4000)
    original = serializers.CharField(required=False, allow_blank=True, max_length=32)
    service = serializers.IntegerField(required=False)


class AssignSerializer(serializers.Serializer):
    assignee = serializers.IntegerField(allow_null=True)


class PrioritySerializer(serializers.Serializer):
    priority = serializers.ChoiceField(choices=Ticket.Priority.choices)


class MessageSerializer(serializers.Serializer):
    message = serializers.CharField(max_length=4000)


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=4000)


class RerouteSerializer(serializers.Serializer):
    lon = serializers.FloatField(required=False)
    lat = serializers.FloatField(required=False)
    category = serializers.CharField(required=False, max_length=64)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class MergeSerializer(serializers.Serializer):
    original = serializers.CharField(max_length=32)
    public_message = serializers.CharField(required=False, allow_blank=True, max_length=4000)


# --- Output --------------------------------------------------------------------------------------


def routing_public(routing: dict[str, Any]) -> dict[str, Any]:
    """The part of a routing decision a citizen may read (no staff ids, no internal reason)."""
    return {
        "service": routing.get("service_name"),
        "rule": routing.get("rule"),
        "explanation": routing.get("explanation"),
        "ambiguous": routing.get("ambiguous", False),
        "alternatives": [
            {"service": alt.get("service_name"), "reason": alt.get("reason")}
            for alt in routing.get("alternatives", [])
        ],
    }


def report_properties(report: Report) -> dict[str, Any]:
    """Public properties of a report: never a name, an e-mail or a phone number."""
    ticket = report.ticket
    return {
        "reference": report.reference,
        "category": report.category.code,
        "category_name": str(report.category),
        "status": ticket.state,
        "status_label": TicketState(ticket.state).label,
        "open": workflow.is_open(ticket.state),
        "service": ticket.service.name,
        "description": report.description,
        "address": report.address,
        "created_at": report.created_at.isoformat(),
        "updated_at": max(report.updated_at, ticket.updated_at).isoformat(),
        "closed_at": ticket.closed_at.isoformat() if ticket.closed_at else None,
        "support_count": report.support_count
        if hasattr(report, "support_count")
        else report.supports.count(),
        "duplicate_of": report.duplicate_of.reference if report.duplicate_of is not None else None,
        "url": absolute(reverse("api:report-detail", args=[report.reference])),
    }


def report_feature(report: Report, *, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    props = report_properties(report)
    if extra:
        props.update(extra)
    return {
        "type": "Feature",
        "id": report.reference,
        "geometry": {
            "type": "Point",
            "coordinates": [round(report.location.x, 7), round(report.location.y, 7)],
        },
        "properties": props,
    }


def public_history(ticket: Ticket) -> list[dict[str, Any]]:
    """What the public sees of the trail: states and public messages, never notes nor staff names."""
    out = []
    for event in ticket.events.select_related("to_service").order_by("at", "pk"):
        if event.kind not in (
            TicketEvent.Kind.CREATED,
            TicketEvent.Kind.TRANSITION,
            TicketEvent.Kind.PUBLIC_UPDATE,
            TicketEvent.Kind.REROUTE,
        ):
            continue
        out.append(
            {
                "at": event.at.isoformat(),
                "kind": event.kind,
                "status": event.to_state or None,
                "status_label": TicketState(event.to_state).label if event.to_state else None,
                "message": event.public_message or None,
                "service": event.to_service.name if event.to_service is not None else None,
            }
        )
    return out


def public_photos(report: Report) -> list[dict[str, Any]]:
    """Only the EXIF-free copies made by the photo task; never the original."""
    return [
        {"web": photo.web.url, "thumbnail": photo.thumbnail.url, "width": photo.width, "height": photo.height}
        for photo in report.photos.all()
        if photo.processed_at and photo.web and photo.thumbnail
    ]


@extend_schema_field({"type": "object"})
class _Any(serializers.Field):  # pragma: no cover - documentation only
    pass


class ReportCreatedSerializer(serializers.Serializer):
    """The answer to a filing (documentation of the OpenAPI schema)."""

    reference = serializers.CharField()
    status = serializers.CharField()
    service = _Any()
    routing = _Any()
    tracking_url = serializers.CharField()
    created = serializers.BooleanField()


def filed_answer(report: Report, ticket: Ticket, *, created: bool) -> dict[str, Any]:
    return {
        "reference": report.reference,
        "status": ticket.state,
        "published": report.published,
        "service": {"id": ticket.service_id, "name": ticket.service.name},
        "routing": routing_public(ticket.routing),
        "tracking_url": absolute(reverse("api:report-detail", args=[report.reference])),
        "created": created,
    }


def ticket_summary(ticket: Ticket) -> dict[str, Any]:
    report = ticket.report
    return {
        "reference": report.reference,
        "category": report.category.code,
        "category_name": str(report.category),
        "state": ticket.state,
        "state_label": TicketState(ticket.state).label,
        "service": {"id": ticket.service_id, "name": ticket.service.name},
        "assigned_to": ticket.assigned_to.get_username() if ticket.assigned_to is not None else None,
        "priority": ticket.priority,
        "due_at": ticket.due_at.isoformat() if ticket.due_at else None,
        "overdue": selectors.is_overdue(ticket),
        "ambiguous": ticket.ambiguous,
        "lon": report.location.x,
        "lat": report.location.y,
        "description": report.description,
        "address": report.address,
        "created_at": report.created_at.isoformat(),
    }


def ticket_detail(ticket: Ticket, *, roles: set[str], include_contact: bool) -> dict[str, Any]:
    """The staff view: history with internal notes, routing trail, allowed transitions, and the contact."""
    data = ticket_summary(ticket)
    data["routing"] = ticket.routing
    data["allowed_transitions"] = [
        {
            "state": t.target,
            "label": TicketState(t.target).label,
            "needs_reason": t.needs_reason,
            "needs_original": t.needs_original,
            "needs_service": t.needs_service,
        }
        for t in workflow.allowed_transitions(ticket.state, roles)
    ]
    data["history"] = [
        {
            "at": e.at.isoformat(),
            "kind": e.kind,
            "actor": e.actor.get_username() if e.actor is not None else None,
            "from_state": e.from_state or None,
            "to_state": e.to_state or None,
            "from_service": e.from_service.name if e.from_service is not None else None,
            "to_service": e.to_service.name if e.to_service is not None else None,
            "public_message": e.public_message or None,
            "internal_note": e.internal_note or None,
            "data": e.data,
        }
        for e in ticket.events.select_related("actor", "from_service", "to_service").order_by("at", "pk")
    ]
    data["support_count"] = ticket.report.supports.count()
    data["photos"] = public_photos(ticket.report)
    if include_contact and hasattr(ticket.report, "contact"):
        contact = ticket.report.contact
        data["contact"] = {
            "name": contact.name,
            "email": contact.email,
            "phone": contact.phone,
            "consent_to_contact": contact.consent_to_contact,
        }
    return data
