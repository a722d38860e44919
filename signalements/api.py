"""The signalements API: thin views that parse, call a service or a selector, and render.

Public endpoints (filing, listing, nearby, support) need no account and never return personal
data. Staff endpoints (``/api/tickets/``) answer 404 for a ticket outside the caller's services.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.paginator import EmptyPage, Paginator
from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions as drf_permissions
from rest_framework import serializers as drf_serializers
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from geo import honeypot
from geo.access_log import personal_data_accessed
from geo.models import Category, Service
from geo.params import bbox_param, int_param
from geo.srid import InvalidGeometry, point_from_lonlat
from signalements import permissions, selectors, serializers, services
from signalements.errors import NotFound, ValidationFailed
from signalements.models import Channel, Report, Ticket, TicketState

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 100


def _validated(serializer_class: type, data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _int_param(request: Request, name: str, default: int, *, low: int, high: int) -> int:
    return int_param(request.query_params, name, default, low=low, high=high)


def _date_param(request: Request, name: str, *, end: bool = False) -> datetime | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    day = parse_date(raw)
    if day is None:
        raise ValidationFailed({name: [_("Date attendue au format AAAA-MM-JJ.")]})
    return timezone.make_aware(datetime.combine(day, time.max if end else time.min))


class ReportListCreate(APIView):
    permission_classes = [drf_permissions.AllowAny]

    @extend_schema(
        operation_id="signalements_list",
        summary="Liste publique des signalements (GeoJSON)",
        parameters=[
            OpenApiParameter(
                "category",
                str,
                description="code de catégorie (une catégorie parente inclut ses sous-catégories)",
            ),
            OpenApiParameter("status", str, description="états séparés par des virgules"),
            OpenApiParameter("service", int),
            OpenApiParameter("bbox", str, description="ouest,sud,est,nord (WGS84)"),
            OpenApiParameter("created_after", OpenApiTypes.DATE),
            OpenApiParameter("created_before", OpenApiTypes.DATE),
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        # The busiest public read: on the replica when there is one (a second of lag is harmless).
        qs = selectors.reports_public_listing()
        params = request.query_params
        if code := params.get("category"):
            qs = qs.filter(Q(category__code=code) | Q(category__parent__code=code))
        if raw := params.get("status"):
            states = [s.strip() for s in raw.split(",") if s.strip()]
            unknown = [s for s in states if s not in TicketState.values]
            if unknown:
                raise ValidationFailed(
                    {"status": [_("États inconnus : %(list)s.") % {"list": ", ".join(unknown)}]}
                )
            qs = qs.filter(ticket__state__in=states)
        if raw := params.get("service"):
            qs = qs.filter(ticket__service_id=_int_param(request, "service", 0, low=1, high=2**31 - 1))
        if raw := params.get("bbox"):
            qs = qs.filter(location__intersects=bbox_param(raw))
        if after := _date_param(request, "created_after"):
            qs = qs.filter(created_at__gte=after)
        if before := _date_param(request, "created_before", end=True):
            qs = qs.filter(created_at__lte=before)
        size = _int_param(request, "page_size", DEFAULT_PAGE_SIZE, low=1, high=MAX_PAGE_SIZE)
        number = _int_param(request, "page", 1, low=1, high=10**6)
        paginator = Paginator(qs.order_by("-created_at", "-pk"), size)
        try:
            page = paginator.page(number)
        except EmptyPage as exc:
            raise ValidationFailed(
                {"page": [_("Cette page n'existe pas.")]}, status=404, code="page_inconnue"
            ) from exc

        def link(n: int) -> str:
            query = request.query_params.copy()
            query["page"] = str(n)
            return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")

        return Response(
            {
                "type": "FeatureCollection",
                "count": paginator.count,
                "page": number,
                "next": link(number + 1) if page.has_next() else None,
                "previous": link(number - 1) if page.has_previous() else None,
                "features": [serializers.report_feature(report) for report in page.object_list],
            }
        )

    @extend_schema(
        operation_id="signalements_create",
        summary="Déposer un signalement",
        request=serializers.ReportCreateSerializer,
        responses={201: serializers.ReportCreatedSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
    )
    def post(self, request: Request) -> Response:
        limit = settings.REPORTS_MAX_PHOTOS * settings.PHOTO_MAX_BYTES + 1024 * 1024
        if int(request.META.get("CONTENT_LENGTH") or 0) > limit:
            raise ValidationFailed(
                {"photos": [_("La requête dépasse %(mb)d Mo.") % {"mb": limit // (1024 * 1024)}]},
                status=413,
                code="requete_trop_grosse",
            )
        honeypot.refuse_if_tripped(request.data, where="api:report-list")
        data = _validated(serializers.ReportCreateSerializer, request.data)
        contact = data.get("contact") or {
            "name": data.get("contact_name", ""),
            "email": data.get("contact_email", ""),
            "phone": data.get("contact_phone", ""),
            "consent": data.get("contact_consent", False),
        }
        photos = request.FILES.getlist("photos") if hasattr(request, "FILES") else []
        filed = services.report_create(
            category=data["category"],
            location=data.get("location"),
            lon=data.get("lon"),
            lat=data.get("lat"),
            description=data.get("description", ""),
            address=data.get("address", ""),
            contact=services.ContactInput(
                name=contact.get("name", ""),
                email=contact.get("email", ""),
                phone=contact.get("phone", ""),
                consent_to_contact=bool(contact.get("consent", False)),
            ),
            photos=photos,
            idempotency_key=request.headers.get("Idempotency-Key"),
            channel=Channel.API,
            actor=request.user,
        )
        answer = serializers.filed_answer(filed.report, filed.ticket, created=filed.created)
        response = Response(answer, status=status.HTTP_201_CREATED if filed.created else status.HTTP_200_OK)
        if not filed.created:
            response["Idempotent-Replayed"] = "true"
        return response


class ReportDetail(APIView):
    permission_classes = [drf_permissions.AllowAny]

    @extend_schema(
        summary="Un signalement public (GeoJSON), avec son historique public",
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, reference: str) -> Response:
        report = selectors.report_public(reference)
        if report is None:
            raise NotFound(_("Signalement introuvable."))
        return Response(
            serializers.report_feature(
                report,
                extra={
                    "routing": serializers.routing_public(report.ticket.routing),
                    "history": serializers.public_history(report.ticket),
                    "photos": serializers.public_photos(report),
                },
            )
        )


class ReportNearby(APIView):
    permission_classes = [drf_permissions.AllowAny]

    @extend_schema(
        summary="Signalements ouverts de la même catégorie à proximité (doublons possibles)",
        parameters=[serializers.NearbyQuerySerializer],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        query = _validated(serializers.NearbyQuerySerializer, request.query_params)
        try:
            point = point_from_lonlat(query["lon"], query["lat"])
        except InvalidGeometry as exc:
            raise ValidationFailed({"location": [str(exc)]}) from exc
        category = Category.objects.filter(code=query["category"], is_active=True).first()
        if category is None:
            raise ValidationFailed(
                {"category": [_("Catégorie inconnue : « %(code)s ».") % {"code": query["category"]}]}
            )
        found = selectors.reports_nearby(point=point, category=category, radius_m=query.get("radius"))
        return Response(
            {
                "type": "FeatureCollection",
                "features": [
                    serializers.report_feature(n.report, extra={"distance_m": n.distance_m}) for n in found
                ],
            }
        )


class ReportSupport(APIView):
    permission_classes = [drf_permissions.AllowAny]

    @extend_schema(
        summary="Soutenir et suivre un signalement (« +1 »)",
        request=serializers.SupportSerializer,
        responses={200: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request, reference: str) -> Response:
        data = _validated(serializers.SupportSerializer, request.data)
        report = Report.objects.filter(reference=reference).first()
        if report is None:
            raise NotFound(_("Signalement introuvable."))
        client = f"{request.META.get('REMOTE_ADDR', '')}|{request.META.get('HTTP_USER_AGENT', '')}"
        fingerprint = services.support_fingerprint(
            user=request.user, email=data.get("email", ""), client=client
        )
        created, count = services.report_support(
            report=report, fingerprint=fingerprint, email=data.get("email", ""), user=request.user
        )
        return Response({"reference": reference, "supported": True, "new": created, "support_count": count})


class Tracking(APIView):
    """The private tracking link of the confirmation e-mail: confirms the address and shows the report."""

    permission_classes = [drf_permissions.AllowAny]

    @extend_schema(summary="Suivi privé (lien reçu par e-mail)", responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, token: str) -> Response:
        report = services.report_confirm_email(token=token)
        report = selectors.reports_public().filter(pk=report.pk).first() or report
        return Response(
            serializers.report_feature(
                report,
                extra={"history": serializers.public_history(report.ticket), "published": report.published},
            )
        )


# --- Staff ------------------------------------------------------------------------------------------


class StaffOnly(drf_permissions.BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return permissions.is_staff_user(request.user)


def _ticket_for(request: Request, reference: str) -> Ticket:
    """The ticket if the caller may see it; 404 otherwise, whether it exists or not."""
    return get_object_or_404(
        permissions.tickets_visible_to(request.user).select_related(
            "report", "report__category", "service", "assigned_to"
        ),
        report__reference=reference,
    )


class TicketQueue(APIView):
    permission_classes = [StaffOnly]

    @extend_schema(
        operation_id="tickets_list",
        summary="File des tickets de mes services",
        parameters=[
            OpenApiParameter("state", str),
            OpenApiParameter("category", str),
            OpenApiParameter("service", int),
            OpenApiParameter("overdue", bool),
            OpenApiParameter("assigned_to_me", bool),
            OpenApiParameter("include_closed", bool),
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        truthy = {"1", "true", "oui", "yes"}
        states = [s for s in (params.get("state") or "").split(",") if s]
        if unknown := [s for s in states if s not in TicketState.values]:
            raise ValidationFailed(
                {"state": [_("États inconnus : %(list)s.") % {"list": ", ".join(unknown)}]}
            )
        qs = selectors.tickets_queue(
            request.user,
            filters={
                "state": states or None,
                "category": params.get("category"),
                "service": _int_param(request, "service", 0, low=0, high=2**31 - 1) or None,
                "overdue": params.get("overdue", "").lower() in truthy,
                "assigned_to_me": params.get("assigned_to_me", "").lower() in truthy,
                "include_closed": params.get("include_closed", "").lower() in truthy,
            },
        )
        size = _int_param(request, "page_size", DEFAULT_PAGE_SIZE, low=1, high=MAX_PAGE_SIZE)
        number = _int_param(request, "page", 1, low=1, high=10**6)
        paginator = Paginator(qs, size)
        try:
            page = paginator.page(number)
        except EmptyPage as exc:
            raise ValidationFailed(
                {"page": [_("Cette page n'existe pas.")]}, status=404, code="page_inconnue"
            ) from exc
        return Response(
            {
                "count": paginator.count,
                "page": number,
                "results": [serializers.ticket_summary(t) for t in page.object_list],
            }
        )


class TicketDetail(APIView):
    permission_classes = [StaffOnly]

    @extend_schema(
        summary="Un ticket, avec son historique et le contact du déclarant",
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, reference: str) -> Response:
        ticket = _ticket_for(request, reference)
        roles = permissions.roles_for_service(request.user, ticket.service)
        include_contact = permissions.can_view_personal_data(request.user, ticket)
        if include_contact and hasattr(ticket.report, "contact"):
            # One row in the staff access log (geo.access_log), which also logs to concerto.personal_data.
            personal_data_accessed(
                user=request.user,
                topic=f"report:{ticket.report_id}",
                fields=["name", "email", "phone"],
                reason="api:ticket-detail",
            )
        return Response(serializers.ticket_detail(ticket, roles=roles, include_contact=include_contact))


class _TicketAction(APIView):
    permission_classes = [StaffOnly]
    serializer_class: type = serializers.MessageSerializer

    def act(self, request: Request, ticket: Ticket, data: dict[str, Any]) -> Any:
        raise NotImplementedError

    def post(self, request: Request, reference: str) -> Response:
        ticket = _ticket_for(request, reference)
        data = _validated(self.serializer_class, request.data)
        self.act(request, ticket, data)
        ticket.refresh_from_db()
        roles = permissions.roles_for_service(request.user, ticket.service)
        if not roles:  # transferred away: the caller no longer sees it
            return Response({"reference": reference, "state": ticket.state, "service": ticket.service.name})
        return Response(serializers.ticket_detail(ticket, roles=roles, include_contact=False))


@extend_schema(
    request=serializers.TransitionSerializer,
    responses={200: OpenApiTypes.OBJECT},
    summary="Changer l'état d'un ticket",
)
class TicketTransition(_TicketAction):
    serializer_class = serializers.TransitionSerializer

    def act(self, request: Request, ticket: Ticket, data: dict[str, Any]) -> Any:
        to_service = None
        if data.get("service"):
            to_service = Service.objects.filter(pk=data["service"]).first()
            if to_service is None:
                raise ValidationFailed({"service": [_("Service inconnu.")]})
        return services.ticket_transition(
            ticket=ticket,
            actor=request.user,
            to_state=data["state"],
            public_message=data.get("public_message", ""),
            internal_note=data.get("internal_note", ""),
            original_reference=data.get("original") or None,
            to_service=to_service,
        )


@extend_schema(
    request=serializers.AssignSerializer,
    responses={200: OpenApiTypes.OBJECT},
    summary="Affecter un ticket à un agent",
)
class TicketAssign(_TicketAction):
    serializer_class = serializers.AssignSerializer

    def act(self, request: Request, ticket: Ticket, data: dict[str, Any]) -> Any:
        assignee = None
        if data["assignee"] is not None:
            assignee = get_user_model().objects.filter(pk=data["assignee"], is_active=True).first()
            if assignee is None:
                raise ValidationFailed({"assignee": [_("Agent inconnu.")]})
        return services.ticket_assign(ticket=ticket, actor=request.user, assignee=assignee)


@extend_schema(
    request=serializers.PrioritySerializer,
    responses={200: OpenApiTypes.OBJECT},
    summary="Changer la priorité",
)
class TicketPriority(_TicketAction):
    serializer_class = serializers.PrioritySerializer

    def act(self, request: Request, ticket: Ticket, data: dict[str, Any]) -> Any:
        return services.ticket_set_priority(ticket=ticket, actor=request.user, priority=int(data["priority"]))


@extend_schema(
    request=serializers.MessageSerializer,
    responses={200: OpenApiTypes.OBJECT},
    summary="Publier un message public",
)
class TicketPublicUpdate(_TicketAction):
    serializer_class = serializers.MessageSerializer

    def act(self, request: Request, ticket: Ticket, data: dict[str, Any]) -> Any:
        return services.ticket_public_update(ticket=ticket, actor=request.user, message=data["message"])


@extend_schema(
    request=serializers.NoteSerializer,
    responses={200: OpenApiTypes.OBJECT},
    summary="Ajouter une note interne",
)
class TicketNote(_TicketAction):
    serializer_class = serializers.NoteSerializer

    def act(self, request: Request, ticket: Ticket, data: dict[str, Any]) -> Any:
        return services.ticket_internal_note(ticket=ticket, actor=request.user, note=data["note"])


@extend_schema(
    request=serializers.RerouteSerializer,
    responses={200: OpenApiTypes.OBJECT},
    summary="Corriger et router à nouveau",
)
class TicketReroute(_TicketAction):
    serializer_class = serializers.RerouteSerializer

    def act(self, request: Request, ticket: Ticket, data: dict[str, Any]) -> Any:
        return services.ticket_reroute(
            ticket=ticket,
            actor=request.user,
            lon=data.get("lon"),
            lat=data.get("lat"),
            category=data.get("category"),
            reason=data.get("reason", ""),
        )


@extend_schema(
    request=serializers.MergeSerializer,
    responses={200: OpenApiTypes.OBJECT},
    summary="Fusionner un doublon dans l'original",
)
class TicketMerge(_TicketAction):
    serializer_class = serializers.MergeSerializer

    def act(self, request: Request, ticket: Ticket, data: dict[str, Any]) -> Any:
        return services.report_merge(
            duplicate=ticket.report,
            original_reference=data["original"],
            actor=request.user,
            public_message=data.get("public_message", ""),
        )


class ResponseTemplateSerializer(drf_serializers.Serializer):
    """Documentation of a ready-made answer (the view renders plain dicts)."""

    id = drf_serializers.IntegerField()
    title = drf_serializers.CharField()
    text = drf_serializers.CharField()
    state = drf_serializers.CharField(allow_null=True)


class ResponseTemplates(APIView):
    """The ready-made answers the caller may insert: shared ones and those of the organisations where
    they answer tickets (``ResponseTemplate.objects.usable_by``); another organisation's stay unseen."""

    permission_classes = [StaffOnly]

    @extend_schema(
        summary="Réponses types",
        parameters=[OpenApiParameter("category", str)],
        responses={200: ResponseTemplateSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        from signalements.models import ResponseTemplate

        qs = ResponseTemplate.objects.usable_by(request.user)
        if code := request.query_params.get("category"):
            qs = qs.filter(
                Q(category__isnull=True) | Q(category__code=code) | Q(category__children__code=code)
            ).distinct()
        return Response(
            [{"id": t.pk, "title": t.title, "text": t.text, "state": t.state or None} for t in qs]
        )
