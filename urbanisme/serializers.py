"""Input parsing and output shapes of the urbanisme API (GeoJSON features for things on the map).

Outputs are built from public fields only; the author of a contribution appears as the pseudonym
they chose (or « Anonyme »), never by name or e-mail. A hidden contribution is rendered by its
moderation reason alone: no title, text, photo or geometry.
"""

from __future__ import annotations

import json
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from urbanisme.models import (
    Contribution,
    ContributionChannel,
    ContributionKind,
    Moderation,
    Phase,
    PhaseKind,
    Project,
    Reply,
    Visibility,
)
from urbanisme.selectors import Calendar

# --- inputs --------------------------------------------------------------------------------------


@extend_schema_field(
    {"type": "object", "description": "Géométrie GeoJSON (Point, LineString ou Polygon, WGS84)"}
)
class GeometryInput(serializers.Field):
    """A GeoJSON geometry as an object or a JSON string (multipart forms send strings)."""

    default_error_messages = {"invalid": gettext_lazy("Géométrie GeoJSON attendue (objet ou texte JSON).")}

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError:
                self.fail("invalid")
        if not isinstance(data, dict) or "type" not in data:
            self.fail("invalid")
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class ContributionInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ContributionKind.choices)
    title = serializers.CharField(max_length=200)
    text = serializers.CharField(max_length=5000)
    geometry = GeometryInput()
    pseudonym = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    theme = serializers.IntegerField(required=False, allow_null=True, default=None)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    notify = serializers.BooleanField(required=False, default=True)
    follow_project = serializers.BooleanField(required=False, default=False)
    photo = serializers.FileField(required=False, allow_null=True, default=None)
    # On-behalf entry by the project team.
    channel = serializers.ChoiceField(choices=ContributionChannel.choices, required=False, default="web")
    channel_label = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    phase = serializers.IntegerField(required=False, allow_null=True, default=None)
    created_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class ReplyInput(serializers.Serializer):
    text = serializers.CharField(max_length=5000)
    pseudonym = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    parent = serializers.IntegerField(required=False, allow_null=True, default=None)
    official = serializers.BooleanField(required=False, default=False)
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    notify = serializers.BooleanField(required=False, default=True)


class SupportInput(serializers.Serializer):
    email = serializers.EmailField(required=False, allow_blank=True, default="")


class ModerationInput(serializers.Serializer):
    action = serializers.ChoiceField(choices=[("publish", "publish"), ("hide", "hide")])
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    theme = serializers.IntegerField(required=False, allow_null=True)


class FollowInput(serializers.Serializer):
    email = serializers.EmailField()


class PhaseInputSerializer(serializers.Serializer):
    id = serializers.IntegerField(required=False, allow_null=True, default=None)
    kind = serializers.ChoiceField(choices=PhaseKind.choices)
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    allows_contributions = serializers.BooleanField(required=False, default=False)
    allows_supports = serializers.BooleanField(required=False, default=False)


class CalendarInput(serializers.Serializer):
    phases = PhaseInputSerializer(many=True)


class ProjectInput(serializers.Serializer):
    territory = serializers.SlugField()
    organisation = serializers.IntegerField()
    title = serializers.CharField(max_length=200)
    slug = serializers.SlugField(max_length=90, required=False, allow_blank=True, default="")
    summary = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    description = serializers.CharField(max_length=20000, required=False, allow_blank=True, default="")
    perimeter = GeometryInput()
    contact_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    contact_email = serializers.EmailField(required=False, allow_blank=True, default="")
    moderation = serializers.ChoiceField(choices=Moderation.choices, required=False, default=Moderation.POST)
    contribution_margin_m = serializers.IntegerField(min_value=0, max_value=5000, required=False, default=200)
    themes = serializers.ListField(child=serializers.CharField(max_length=100), required=False, default=list)


class ProjectPatch(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False)
    summary = serializers.CharField(max_length=500, required=False, allow_blank=True)
    description = serializers.CharField(max_length=20000, required=False, allow_blank=True)
    perimeter = GeometryInput(required=False)
    contact_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    contact_email = serializers.EmailField(required=False, allow_blank=True)
    moderation = serializers.ChoiceField(choices=Moderation.choices, required=False)
    contribution_margin_m = serializers.IntegerField(min_value=0, max_value=5000, required=False)
    status = serializers.ChoiceField(choices=["brouillon", "publie", "archive"], required=False)
    bilan_conclusion = serializers.CharField(max_length=20000, required=False, allow_blank=True)


# --- outputs -------------------------------------------------------------------------------------


def _date(value: Any) -> str | None:
    return value.isoformat() if value else None


def phase_data(phase: Phase, calendar: Calendar | None = None) -> dict[str, Any]:
    return {
        "id": phase.pk,
        "kind": phase.kind,
        "kind_label": str(phase.get_kind_display()),
        "title": phase.label,
        "description": phase.description,
        "start_date": _date(phase.start_date),
        "end_date": _date(phase.end_date),
        "allows_contributions": phase.allows_contributions,
        "allows_supports": phase.allows_supports,
        "is_current": bool(calendar and calendar.current and calendar.current.pk == phase.pk),
    }


def project_feature(project: Project, calendar: Calendar, *, detail: bool = False) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "slug": project.slug,
        "title": project.title,
        "summary": project.summary,
        "status": project.status,
        "organisation": project.organisation.name,
        "territory": project.territory.slug,
        "current_phase": phase_data(calendar.current, calendar) if calendar.current else None,
        "upcoming_phase": phase_data(calendar.upcoming, calendar) if calendar.upcoming else None,
        "contributions_open": calendar.contributions_open,
        "supports_open": calendar.supports_open,
        "bilan_published": project.bilan_published_at is not None,
        "url": f"/projets/{project.slug}/",
    }
    if detail:
        properties.update(
            {
                "description": project.description,
                "contact_name": project.contact_name,
                "contact_email": project.contact_email,
                "moderation": project.moderation,
                "contribution_margin_m": project.contribution_margin_m,
                "cover_image": project.cover_image.url if project.cover_image else None,
                "phases": [phase_data(p, calendar) for p in calendar.phases],
                "themes": [{"id": t.pk, "name": t.name} for t in project.themes.all()],
                "documents": [
                    {"id": d.pk, "title": d.title, "kind": d.kind, "size": d.size, "url": d.file.url}
                    for d in project.documents.all()
                ],
                "source": project.source,
            }
        )
    return {
        "type": "Feature",
        "id": project.slug,
        "geometry": json.loads(project.perimeter.geojson),
        "properties": properties,
    }


def _author_label(pseudonym: str) -> str:
    return pseudonym or _("Anonyme")


def reply_data(reply: Reply) -> dict[str, Any]:
    if reply.visibility == Visibility.HIDDEN:
        return {
            "id": reply.pk,
            "parent": reply.parent_id,
            "hidden": True,
            "hidden_reason": _("Masqué par la modération : %(reason)s") % {"reason": reply.hidden_reason},
            "created_at": _date(reply.created_at),
        }
    return {
        "id": reply.pk,
        "parent": reply.parent_id,
        "hidden": False,
        "text": reply.text,
        "author": _author_label(reply.pseudonym),
        "is_official": reply.is_official,
        "created_at": _date(reply.created_at),
    }


def contribution_feature(
    contribution: Contribution, *, detail: bool = False, reveal: bool = False
) -> dict[str, Any]:
    """The public feature; a hidden contribution shows only its reason unless ``reveal`` (the team's view)."""
    base: dict[str, Any] = {
        "id": contribution.pk,
        "phase": contribution.phase_id,
        "created_at": _date(contribution.created_at),
    }
    if contribution.visibility == Visibility.HIDDEN and not reveal:
        base.update(
            {
                "hidden": True,
                "hidden_reason": _("Masqué par la modération : %(reason)s")
                % {"reason": contribution.hidden_reason},
            }
        )
        return {"type": "Feature", "id": contribution.pk, "geometry": None, "properties": base}
    base.update(
        {
            "hidden": contribution.visibility == Visibility.HIDDEN,
            "kind": contribution.kind,
            "kind_label": str(contribution.get_kind_display()),
            "theme": contribution.theme.name if contribution.theme else None,
            "title": contribution.title,
            "text": contribution.text,
            "author": _author_label(contribution.pseudonym),
            "channel": contribution.channel,
            "channel_label": contribution.channel_label or str(contribution.get_channel_display()),
            "supports_count": contribution.supports_count,
            "is_answered": bool(getattr(contribution, "is_answered", False)),
            "reply_count": getattr(contribution, "reply_count", None),
            "photo": contribution.photo_web.url if contribution.photo_web else None,
        }
    )
    if detail:
        base["replies"] = [reply_data(r) for r in contribution.replies.all()]
    return {
        "type": "Feature",
        "id": contribution.pk,
        "geometry": json.loads(contribution.geom.geojson),
        "properties": base,
    }


def contribution_staff(contribution: Contribution, *, personal: bool) -> dict[str, Any]:
    """The moderation view: everything, including pending items; the author only for the team."""
    data = contribution_feature(contribution, reveal=True)
    data["properties"].update(
        {"visibility": contribution.visibility, "hidden_reason": contribution.hidden_reason}
    )
    if personal:
        author = getattr(contribution, "author", None)
        data["properties"]["author_contact"] = (
            {"name": author.name, "email": author.email, "notify": author.notify} if author else None
        )
    return data
