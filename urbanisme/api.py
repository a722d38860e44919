"""The urbanisme API: thin views that parse, call a service or a selector, and render GeoJSON.

Public endpoints (projects, calendar, contributions, replies, supports, following) need no account
and never return personal data. Team endpoints (creating and editing projects, the calendar,
documents, moderation, official answers, on-behalf entry) check ``urbanisme.permissions`` in the
services, and answer 404 for drafts the caller may not see.
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import EmptyPage, Paginator
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions as drf_permissions
from rest_framework import status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from geo import honeypot
from geo.access_log import personal_data_accessed
from geo.models import Organisation, Territory
from geo.params import bbox_param, int_param
from urbanisme import permissions, selectors, serializers, services
from urbanisme.errors import NotFound, ValidationFailed
from urbanisme.models import Contribution, ContributionKind, Project, Reply

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 100
PARSERS = [JSONParser, MultiPartParser, FormParser]


def _validated(serializer_class: type, data: Any, *, partial: bool = False) -> dict[str, Any]:
    serializer = serializer_class(data=data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _project(request: Request, slug: str) -> Project:
    project = selectors.project_visible(slug, request.user)
    if project is None:
        raise NotFound(_("Projet introuvable."))
    return project


def _contribution(project: Project, pk: int) -> Contribution:
    contribution = selectors.contribution_public(project, pk)
    if contribution is None:
        raise NotFound(_("Contribution introuvable."))
    return contribution


def _int(request: Request, name: str, default: int | None, *, low: int, high: int) -> int | None:
    return int_param(request.query_params, name, default, low=low, high=high)


def _client(request: Request) -> str:
    return f"{request.META.get('REMOTE_ADDR', '')}|{request.META.get('HTTP_USER_AGENT', '')}"


# --- projects ------------------------------------------------------------------------------------


class ProjectListCreate(APIView):
    permission_classes = [drf_permissions.AllowAny]
    parser_classes = PARSERS

    @extend_schema(
        operation_id="projets_list",
        summary="Projets publiés (GeoJSON : périmètres, phase en cours)",
        parameters=[OpenApiParameter("territory", str), OpenApiParameter("open", bool)],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        qs = selectors.projects_public()
        if territory := request.query_params.get("territory"):
            qs = qs.filter(territory__slug=territory)
        features = []
        for project in qs:
            calendar = selectors.project_calendar(project)
            if request.query_params.get("open") in ("1", "true") and not calendar.contributions_open:
                continue
            features.append(serializers.project_feature(project, calendar))
        return Response({"type": "FeatureCollection", "features": features})

    @extend_schema(
        operation_id="projets_create",
        summary="Créer un projet (brouillon) — équipe de l'organisation",
        request=serializers.ProjectInput,
        responses={201: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request) -> Response:
        data = _validated(serializers.ProjectInput, request.data)
        territory = Territory.objects.filter(slug=data.pop("territory")).first()
        organisation = Organisation.objects.filter(pk=data.pop("organisation")).first()
        if territory is None or organisation is None:
            raise ValidationFailed({"territory": [_("Territoire ou organisation inconnu.")]})
        if not request.user.is_authenticated:
            raise NotFound(_("Projet introuvable."))
        project = services.project_create(
            actor=request.user,
            territory=territory,
            organisation=organisation,
            slug=data.pop("slug") or None,
            **data,
        )
        return Response(
            serializers.project_feature(project, selectors.project_calendar(project), detail=True),
            status=status.HTTP_201_CREATED,
        )


class ProjectDetail(APIView):
    permission_classes = [drf_permissions.AllowAny]
    parser_classes = PARSERS

    @extend_schema(operation_id="projets_retrieve", summary="Un projet", responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, slug: str) -> Response:
        project = _project(request, slug)
        return Response(
            serializers.project_feature(project, selectors.project_calendar(project), detail=True)
        )

    @extend_schema(
        operation_id="projets_update",
        summary="Modifier un projet, le publier ou l'archiver — équipe",
        request=serializers.ProjectPatch,
        responses={200: OpenApiTypes.OBJECT},
    )
    def patch(self, request: Request, slug: str) -> Response:
        project = _project(request, slug)
        data = _validated(serializers.ProjectPatch, request.data, partial=True)
        new_status = data.pop("status", None)
        if data:
            project = services.project_update(project=project, actor=request.user, **data)
        if new_status:
            project = services.project_set_status(project=project, actor=request.user, status=new_status)
        project = _project(request, project.slug)
        return Response(
            serializers.project_feature(project, selectors.project_calendar(project), detail=True)
        )


class ProjectPhases(APIView):
    permission_classes = [drf_permissions.AllowAny]

    @extend_schema(
        operation_id="projets_phases",
        summary="Calendrier de la concertation",
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, slug: str) -> Response:
        project = _project(request, slug)
        calendar = selectors.project_calendar(project)
        return Response(
            {
                "timezone": "Europe/Paris",
                "current": calendar.current.pk if calendar.current else None,
                "phases": [serializers.phase_data(p, calendar) for p in calendar.phases],
            }
        )

    @extend_schema(
        operation_id="projets_phases_replace",
        summary="Remplacer tout le calendrier — équipe",
        request=serializers.CalendarInput,
        responses={200: OpenApiTypes.OBJECT},
    )
    def put(self, request: Request, slug: str) -> Response:
        project = _project(request, slug)
        data = _validated(serializers.CalendarInput, request.data)
        services.phases_replace(
            project=project,
            actor=request.user,
            phases=[services.PhaseInput(**item) for item in data["phases"]],
        )
        return self.get(request, slug)


class ProjectDocuments(APIView):
    permission_classes = [drf_permissions.AllowAny]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="projets_documents_add",
        summary="Ajouter un document (PDF ou image) — équipe",
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {"title": {"type": "string"}, "file": {"type": "string", "format": "binary"}},
            }
        },
        responses={201: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request, slug: str) -> Response:
        project = _project(request, slug)
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationFailed({"file": [_("Joignez un fichier.")]})
        document = services.document_add(
            project=project, actor=request.user, title=request.data.get("title", ""), upload=upload
        )
        return Response(
            {
                "id": document.pk,
                "title": document.title,
                "kind": document.kind,
                "size": document.size,
                "url": document.file.url,
            },
            status=status.HTTP_201_CREATED,
        )


class ProjectFollow(APIView):
    permission_classes = [drf_permissions.AllowAny]

    @extend_schema(
        operation_id="projets_follow",
        summary="Suivre un projet par e-mail (confirmation par lien)",
        request=serializers.FollowInput,
        responses={202: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request, slug: str) -> Response:
        project = _project(request, slug)
        data = _validated(serializers.FollowInput, request.data)
        services.project_follow(project=project, email=data["email"], user=request.user)
        return Response(
            {"message": _("Un e-mail de confirmation vous a été envoyé.")}, status=status.HTTP_202_ACCEPTED
        )


class FollowConfirm(APIView):
    permission_classes = [drf_permissions.AllowAny]

    @extend_schema(
        operation_id="abonnement_confirm",
        summary="Confirmer un abonnement",
        request=None,
        responses={200: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request, token: str) -> Response:
        follower = services.project_follow_confirm(token=token)
        return Response({"project": follower.project.slug, "confirmed": True})


class Unfollow(APIView):
    permission_classes = [drf_permissions.AllowAny]

    @extend_schema(
        operation_id="abonnement_delete",
        summary="Se désabonner (lien des e-mails)",
        request=None,
        responses={204: None},
    )
    def post(self, request: Request, token: str) -> Response:
        services.project_unfollow(token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- contributions -------------------------------------------------------------------------------


class ContributionListCreate(APIView):
    permission_classes = [drf_permissions.AllowAny]
    parser_classes = PARSERS

    @extend_schema(
        operation_id="contributions_list",
        summary="Contributions publiques d'un projet (GeoJSON)",
        parameters=[
            OpenApiParameter("kind", str, enum=ContributionKind.values),
            OpenApiParameter("theme", int),
            OpenApiParameter("phase", int),
            OpenApiParameter("answered", bool),
            OpenApiParameter("bbox", str, description="ouest,sud,est,nord (WGS84)"),
            OpenApiParameter("order", str, enum=["recent", "supports"]),
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, slug: str) -> Response:
        project = _project(request, slug)
        params = request.query_params
        kind = params.get("kind") or None
        if kind and kind not in ContributionKind.values:
            raise ValidationFailed({"kind": [_("Nature inconnue.")]})
        answered = {"true": True, "1": True, "false": False, "0": False}.get(params.get("answered", ""))
        qs = selectors.contributions_public(
            project,
            kind=kind,
            theme_id=_int(request, "theme", None, low=1, high=2**31 - 1),
            phase_id=_int(request, "phase", None, low=1, high=2**31 - 1),
            bbox=bbox_param(params["bbox"]) if params.get("bbox") else None,
            answered=answered,
            order=params.get("order", "recent"),
        )
        size = _int(request, "page_size", DEFAULT_PAGE_SIZE, low=1, high=MAX_PAGE_SIZE) or DEFAULT_PAGE_SIZE
        page_number = _int(request, "page", 1, low=1, high=10**6) or 1
        paginator = Paginator(qs, size)
        try:
            page = paginator.page(page_number)
        except EmptyPage:
            page = None
        items = list(page.object_list) if page else []
        return Response(
            {
                "type": "FeatureCollection",
                "count": paginator.count,
                "page": page_number,
                "page_size": size,
                "features": [serializers.contribution_feature(c) for c in items],
            }
        )

    @extend_schema(
        operation_id="contributions_create",
        summary="Déposer une contribution sur la carte (point, ligne ou polygone)",
        request=serializers.ContributionInput,
        responses={201: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request, slug: str) -> Response:
        project = _project(request, slug)
        honeypot.refuse_if_tripped(request.data, where="urbanisme-api:contribution-list")
        data = _validated(serializers.ContributionInput, request.data)
        contribution = services.contribution_create(
            project=project,
            actor=request.user,
            kind=data["kind"],
            title=data["title"],
            text=data["text"],
            geometry=data["geometry"],
            pseudonym=data["pseudonym"],
            theme_id=data["theme"],
            author=services.AuthorInput(
                name=data["name"],
                email=data["email"],
                notify=data["notify"],
                follow_project=data["follow_project"],
            ),
            photo=data["photo"],
            channel=data["channel"],
            channel_label=data["channel_label"],
            phase_id=data["phase"],
            created_at=data["created_at"],
        )
        body = serializers.contribution_feature(contribution)
        body["properties"]["visibility"] = contribution.visibility
        body["properties"]["message"] = (
            _("Merci ! Votre contribution sera publiée après relecture par la modération.")
            if contribution.visibility == "en_attente"
            else _("Merci ! Votre contribution est publiée.")
        )
        return Response(body, status=status.HTTP_201_CREATED)


class ContributionDetail(APIView):
    permission_classes = [drf_permissions.AllowAny]

    @extend_schema(
        operation_id="contributions_retrieve",
        summary="Une contribution et son fil de réponses",
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, slug: str, pk: int) -> Response:
        project = _project(request, slug)
        return Response(serializers.contribution_feature(_contribution(project, pk), detail=True))


class ContributionReplies(APIView):
    permission_classes = [drf_permissions.AllowAny]

    @extend_schema(
        operation_id="contributions_reply",
        summary="Répondre dans le fil ; « official » pour la réponse de l'équipe",
        request=serializers.ReplyInput,
        responses={201: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request, slug: str, pk: int) -> Response:
        project = _project(request, slug)
        contribution = _contribution(project, pk)
        data = _validated(serializers.ReplyInput, request.data)
        reply: Reply
        if data["official"]:
            reply = services.official_answer(
                contribution=contribution, actor=request.user, text=data["text"], pseudonym=data["pseudonym"]
            )
        else:
            reply = services.contribution_reply(
                contribution=contribution,
                text=data["text"],
                actor=request.user,
                pseudonym=data["pseudonym"],
                author=services.AuthorInput(email=data["email"], notify=data["notify"]),
                parent_id=data["parent"],
            )
        return Response(
            serializers.reply_data(reply) | {"visibility": reply.visibility}, status=status.HTTP_201_CREATED
        )


class ContributionSupport(APIView):
    permission_classes = [drf_permissions.AllowAny]

    @extend_schema(
        operation_id="contributions_support",
        summary="Soutenir une contribution (« +1 »)",
        request=serializers.SupportInput,
        responses={200: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request, slug: str, pk: int) -> Response:
        project = _project(request, slug)
        contribution = _contribution(project, pk)
        data = _validated(serializers.SupportInput, request.data)
        contribution, created = services.contribution_support(
            contribution=contribution, user=request.user, email=data["email"], client=_client(request)
        )
        return Response(
            {"id": contribution.pk, "new": created, "supports_count": contribution.supports_count}
        )


# --- moderation ----------------------------------------------------------------------------------


class ModerationQueue(APIView):
    permission_classes = [drf_permissions.IsAuthenticated]

    @extend_schema(
        operation_id="moderation_list",
        summary="File de modération d'un projet — équipe",
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, slug: str) -> Response:
        project = _project(request, slug)
        if not permissions.can_moderate_project(request.user, project):
            raise NotFound(_("Projet introuvable."))
        personal = permissions.can_view_personal_data(request.user, project)
        items = selectors.moderation_queue(project)[:MAX_PAGE_SIZE]
        if personal:  # authors shown to the team: one row each in the staff access log
            personal_data_accessed(
                user=request.user,
                topic=[f"contribution:{c.pk}" for c in items if getattr(c, "author", None) is not None],
                fields=["name", "email"],
                reason="urbanisme-api:moderation-queue",
            )
        return Response(
            {
                "type": "FeatureCollection",
                "features": [serializers.contribution_staff(c, personal=personal) for c in items],
            }
        )


class ContributionModerate(APIView):
    permission_classes = [drf_permissions.IsAuthenticated]

    @extend_schema(
        operation_id="contributions_moderate",
        summary="Publier ou masquer (avec un motif public) ; classer par thème — équipe",
        request=serializers.ModerationInput,
        responses={200: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request, slug: str, pk: int) -> Response:
        project = _project(request, slug)
        contribution = get_object_or_404(Contribution, project=project, pk=pk)
        data = _validated(serializers.ModerationInput, request.data)
        contribution = services.contribution_moderate(
            contribution=contribution, actor=request.user, action=data["action"], reason=data["reason"]
        )
        if "theme" in data:
            contribution = services.contribution_set_theme(
                contribution=contribution, actor=request.user, theme_id=data["theme"]
            )
        return Response(serializers.contribution_staff(contribution, personal=False))


class ReplyModerate(APIView):
    permission_classes = [drf_permissions.IsAuthenticated]

    @extend_schema(
        operation_id="replies_moderate",
        summary="Publier ou masquer une réponse — équipe",
        request=serializers.ModerationInput,
        responses={200: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request, slug: str, pk: int, reply_pk: int) -> Response:
        project = _project(request, slug)
        reply = get_object_or_404(Reply, contribution__project=project, contribution_id=pk, pk=reply_pk)
        data = _validated(serializers.ModerationInput, request.data)
        reply = services.reply_moderate(
            reply=reply, actor=request.user, action=data["action"], reason=data["reason"]
        )
        return Response(serializers.reply_data(reply) | {"visibility": reply.visibility})


class BilanPublish(APIView):
    permission_classes = [drf_permissions.IsAuthenticated]

    @extend_schema(
        operation_id="bilan_publish",
        summary="Publier le bilan de la concertation — équipe",
        request={"application/json": {"type": "object", "properties": {"conclusion": {"type": "string"}}}},
        responses={200: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request, slug: str) -> Response:
        project = _project(request, slug)
        conclusion = request.data.get("conclusion") if hasattr(request.data, "get") else None
        project = services.bilan_publish(project=project, actor=request.user, conclusion=conclusion)
        return Response({"slug": project.slug, "bilan_published_at": project.bilan_published_at.isoformat()})
