"""Citizens' project pages: the list and map of projects; a project's page (perimeter, planning layers
with their legends, the calendar, documents, contributions on a map and in a list, « Suivre ce
projet »); filing a contribution, drawn on the map or placed without one (the whole project, a named
place of a planning layer, typed coordinates); a contribution's page with its thread, replies and
« +1 »; the confirmation and unsubscribe links of the e-mails.

Thin views: reads go through ``urbanisme.selectors`` (public fields only; a hidden contribution is
shown by its moderation reason alone) and ``urbanisme.serializers`` for the maps' JSON islands;
writes go through ``urbanisme.services``, which own the calendar, geometry, moderation and
permission rules. The forms below check shapes only. Every form works without scripts; the page
scripts (``static/web/js/pages/project*.js``) add the maps and send with fetch. Rate limits:
``config.ratelimit.VIEW_SCOPES``, by route name. The hidden ``site_web`` field is the honeypot of
``geo.honeypot``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from geo import honeypot
from geo.srid import sql_geography
from urbanisme import selectors, serializers, services
from urbanisme.errors import Closed, NotFound, UrbanismeError, ValidationFailed
from urbanisme.layer_api import layer_data
from urbanisme.models import (
    PSEUDONYM_MAX_LENGTH,
    TEXT_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Contribution,
    ContributionKind,
    LayerKind,
    Moderation,
    Project,
    ProjectStatus,
    RasterStatus,
    Reply,
    Visibility,
)
from urbanisme.phases import paris_day
from urbanisme.selectors import Calendar
from web.forms import _decimal
from web.views.common import error_json, map_config, wants_json

PAGE_SIZE = 20
# The project map draws at most this many contributions (the newest); the list pages through all.
MAP_MAX_CONTRIBUTIONS = 1000
# Named places offered instead of a map (features of the project's published planning layers).
PLACES_MAX = 300
WHERE_CHOICES = ("carte", "projet", "lieu", "coordonnees")
ORDERS = ("recent", "supports")
# What each kind of planning layer is, in a citizen's words.
LAYER_KINDS: dict[str, Any] = {
    LayerKind.VECTOR: gettext_lazy("plan"),
    LayerKind.ANNOTATION: gettext_lazy("annotations de l'équipe"),
    LayerKind.RASTER: gettext_lazy("image"),
}


# --- reads ------------------------------------------------------------------------------------------


def _project_or_404(request: HttpRequest, slug: str) -> Project:
    project = selectors.project_visible(slug, request.user)
    if project is None:
        raise Http404(_("Projet introuvable."))
    return project


def _contribution_or_404(project: Project, pk: int) -> Contribution:
    contribution = selectors.contribution_public(project, pk)
    if contribution is None:
        raise Http404(_("Contribution introuvable."))
    return contribution


def _phase_steps(calendar: Calendar) -> list[dict[str, Any]]:
    """The calendar in order, each phase done, current or to come (said in words, not only shown)."""
    today = paris_day(timezone.now())
    steps = []
    for phase in calendar.phases:
        if calendar.current is not None and phase.pk == calendar.current.pk:
            where = "current"
        elif phase.end_date < today:
            where = "done"
        else:
            where = "todo"
        steps.append({"phase": phase, "where": where})
    return steps


def _bilan_url(project: Project) -> str | None:
    if project.bilan_published_at is None:
        return None
    try:
        return reverse("urbanisme-bilan", args=[project.slug])
    except NoReverseMatch:  # the bilan's pages are mounted by config.urls
        return f"/projets/{project.slug}/bilan/"


def _layers(request: HttpRequest, project: Project) -> list[dict[str, Any]]:
    """Published planning layers as the map needs them (``layer_api.layer_data``), legends included,
    with their named features and their GeoJSON: what the map shows, also said without it."""
    places: dict[str, list[Place]] = {}
    for place in _places(project):
        places.setdefault(place.layer, []).append(place)
    found = []
    for layer in project.layers.filter(is_published=True).order_by("position", "pk"):
        data = layer_data(layer, request, manager=False)  # type: ignore[arg-type]
        data["places"] = [p.name for p in places.get(layer.slug, [])]
        if layer.kind != LayerKind.RASTER:
            data["geojson"] = reverse("urbanisme-api:layer-detail", args=[project.slug, layer.slug])
        data["preparing"] = layer.kind == LayerKind.RASTER and layer.raster_status != RasterStatus.READY
        data["kind_label"] = str(LAYER_KINDS.get(layer.kind, layer.get_kind_display()))
        found.append(data)
    return found


@dataclass(frozen=True)
class Place:
    """A named place of the project (a labelled feature of a planning layer) and a point inside it."""

    key: str
    group: str  # the layer's name
    name: str
    lon: float
    lat: float
    layer: str = ""  # the layer's slug


_PLACE_LABEL = (
    f"CASE WHEN l.kind = '{LayerKind.ANNOTATION.value}' THEN nullif(btrim(lf.title), '')"
    " ELSE nullif(btrim(lf.properties ->> (l.style ->> 'label_field')), '') END"
)
_PLACES_SQL = (
    f"SELECT lf.id, l.name, {_PLACE_LABEL} AS label, ST_X(s.pos), ST_Y(s.pos), l.slug"
    " FROM urbanisme_layerfeature lf"
    " JOIN urbanisme_layer l ON l.id = lf.layer_id"
    " JOIN urbanisme_project p ON p.id = l.project_id"
    " CROSS JOIN LATERAL (SELECT ST_PointOnSurface(lf.geom) AS pos) s"
    " WHERE p.id = %s AND l.is_published AND l.kind IN (%s, %s)"
    f" AND {_PLACE_LABEL} IS NOT NULL"
    # Only places where a contribution may stand: inside the perimeter or its margin.
    f" AND ST_DWithin({sql_geography('s.pos')}, {sql_geography('p.perimeter')}, p.contribution_margin_m)"
)


def _places(project: Project, feature_id: int | None = None) -> list[Place]:
    sql = _PLACES_SQL
    params: list[Any] = [project.pk, LayerKind.VECTOR.value, LayerKind.ANNOTATION.value]
    if feature_id is not None:
        sql += " AND lf.id = %s"
        params.append(feature_id)
    sql += " ORDER BY l.position, l.id, label, lf.id LIMIT %s"
    params.append(PLACES_MAX)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [Place(f"objet-{pk}", group, label, lon, lat, slug) for pk, group, label, lon, lat, slug in rows]


def _place(project: Project, key: str) -> Place | None:
    if not key.startswith("objet-") or not key[6:].isdigit():
        return None
    found = _places(project, int(key[6:]))
    return found[0] if found else None


def _place_groups(places: list[Place]) -> list[tuple[str, list[Place]]]:
    groups: dict[str, list[Place]] = {}
    for place in places:
        groups.setdefault(place.group, []).append(place)
    return list(groups.items())


def _project_point(project: Project) -> dict[str, Any]:
    """« À l'échelle du projet »: a point surely inside the perimeter."""
    point = project.perimeter.point_on_surface
    return {"type": "Point", "coordinates": [point.x, point.y]}


def _map_feature(contribution: Contribution) -> dict[str, Any]:
    feature = serializers.contribution_feature(contribution)
    feature["properties"].pop("text", None)  # the popup links to the page; the island stays small
    return feature


def _where_text(project: Project, contribution: Contribution) -> str:
    """Where a contribution stands, in words (for those who do not see the map)."""
    geom = contribution.geom
    inside = geom.point_on_surface
    around = {"lat": f"{inside.y:.5f}", "lon": f"{inside.x:.5f}"}
    if geom.geom_type == "Point":
        project_point = project.perimeter.point_on_surface
        if abs(geom.x - project_point.x) < 1e-7 and abs(geom.y - project_point.y) < 1e-7:
            return _("À l'échelle du projet (sans lieu précis).")
        return _("Un point : latitude %(lat)s, longitude %(lon)s.") % around
    if geom.geom_type == "LineString":
        return _("Un tracé de %(count)s points, autour de latitude %(lat)s, longitude %(lon)s.") % {
            **around,
            "count": geom.num_points,
        }
    return _("Une zone de %(count)s sommets, autour de latitude %(lat)s, longitude %(lon)s.") % {
        **around,
        "count": max(geom.num_points - 1, 0),
    }


def _contribution_list(request: HttpRequest, project: Project) -> dict[str, Any]:
    """The list below the map: filters (GET, work without scripts) and one page of contributions."""
    kind = request.GET.get("nature", "")
    if kind not in ContributionKind.values:
        kind = ""
    theme_ids = {t.pk for t in project.themes.all()}
    raw_theme = request.GET.get("theme", "")
    theme = int(raw_theme) if raw_theme.isdigit() and int(raw_theme) in theme_ids else None
    order = request.GET.get("ordre", "recent")
    if order not in ORDERS:
        order = "recent"
    qs = selectors.contributions_public(project, kind=kind or None, theme_id=theme, order=order)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = {"nature": kind, "theme": theme or "", "ordre": order if order != "recent" else ""}
    return {
        "page": page,
        "filters": {"kind": kind, "theme": theme, "order": order},
        "filtered": bool(kind or theme),
        "query": "&".join(f"{k}={v}" for k, v in query.items() if v),
    }


def _project_context(request: HttpRequest, project: Project, **extra: Any) -> dict[str, Any]:
    calendar = selectors.project_calendar(project)
    layers = _layers(request, project)
    on_map = selectors.contributions_public(project, include_hidden=False)[:MAP_MAX_CONTRIBUTIONS]
    context: dict[str, Any] = {
        "nav": "projects",
        "project": project,
        "calendar": calendar,
        "steps": _phase_steps(calendar),
        "documents": list(project.documents.all()),
        "themes": list(project.themes.all()),
        "kinds": ContributionKind.choices,
        "layers": layers,
        "list": _contribution_list(request, project),
        "pre_moderated": project.moderation == Moderation.PRE,
        "archived": project.status == ProjectStatus.ARCHIVED,
        "draft": project.status == ProjectStatus.DRAFT,
        "bilan_url": _bilan_url(project),
        "follow": {"email": "", "errors": {}},
        "HIDDEN": Visibility.HIDDEN.value,
        "map_config": map_config(),
        "project_data": {
            "perimeter": json.loads(project.perimeter.geojson),
            "contributions": {"type": "FeatureCollection", "features": [_map_feature(c) for c in on_map]},
            "contributionUrl": reverse("web:contribution", args=[project.slug, 0]).replace("/0/", "/ID/"),
            "layers": [layer for layer in layers if layer.get("tiles")],
        },
    }
    context.update(extra)
    return context


# --- forms (shapes only; the services decide) --------------------------------------------------------


class ContributionForm(forms.Form):
    kind = forms.ChoiceField(
        choices=ContributionKind.choices,
        error_messages={
            "required": gettext_lazy("Choisissez la nature de votre contribution."),
            "invalid_choice": gettext_lazy("Choisissez la nature de votre contribution."),
        },
    )
    theme = forms.CharField(max_length=12, required=False)
    title = forms.CharField(
        max_length=TITLE_MAX_LENGTH,
        error_messages={"required": gettext_lazy("Donnez un titre à votre contribution.")},
    )
    text = forms.CharField(
        max_length=TEXT_MAX_LENGTH,
        error_messages={"required": gettext_lazy("Écrivez votre contribution.")},
    )
    where = forms.CharField(max_length=20, required=False)
    place = forms.CharField(max_length=40, required=False)
    lat = forms.CharField(max_length=32, required=False)
    lon = forms.CharField(max_length=32, required=False)
    geometry = forms.CharField(max_length=500_000, required=False)
    pseudonym = forms.CharField(max_length=PSEUDONYM_MAX_LENGTH, required=False)
    email = forms.EmailField(
        max_length=254,
        required=False,
        error_messages={"invalid": gettext_lazy("Adresse e-mail invalide (exemple : prenom@exemple.fr).")},
    )
    notify = forms.BooleanField(required=False)
    follow = forms.BooleanField(required=False)


class ReplyForm(forms.Form):
    text = forms.CharField(
        max_length=TEXT_MAX_LENGTH, error_messages={"required": gettext_lazy("Écrivez votre réponse.")}
    )
    pseudonym = forms.CharField(max_length=PSEUDONYM_MAX_LENGTH, required=False)
    email = forms.EmailField(
        max_length=254,
        required=False,
        error_messages={"invalid": gettext_lazy("Adresse e-mail invalide (exemple : prenom@exemple.fr).")},
    )
    notify = forms.BooleanField(required=False)
    parent = forms.IntegerField(required=False, min_value=1)


class FollowForm(forms.Form):
    email = forms.EmailField(
        max_length=254,
        error_messages={
            "required": gettext_lazy("Indiquez votre adresse e-mail."),
            "invalid": gettext_lazy("Adresse e-mail invalide (exemple : prenom@exemple.fr)."),
        },
    )


def _form_errors(form: forms.Form) -> dict[str, list[str]]:
    return {
        ("form" if key == "__all__" else key): [str(m) for m in messages_]
        for key, messages_ in form.errors.items()
    }


# Keys of the services' errors -> the fields of the pages.
FIELD_OF = {"geometry": "where", "parent": "form", "name": "form", "channel": "form", "phase": "form"}


def _service_errors(exc: UrbanismeError) -> dict[str, list[str]]:
    if isinstance(exc, ValidationFailed):
        errors: dict[str, list[str]] = {}
        for key, found in exc.errors.items():
            errors.setdefault(FIELD_OF.get(key, key), []).extend(found)
        return errors
    return {"form": [exc.message]}


def _summary(errors: dict[str, list[str]]) -> list[tuple[str, str]]:
    return [(key, message) for key, found in errors.items() for message in found]


def _client(request: HttpRequest) -> str:
    return f"{request.META.get('REMOTE_ADDR', '')}|{request.META.get('HTTP_USER_AGENT', '')}"


def _actor(request: HttpRequest) -> Any:
    return request.user if request.user.is_authenticated else None


# --- the list ----------------------------------------------------------------------------------------


@require_GET
def project_list(request: HttpRequest) -> HttpResponse:
    only_open = request.GET.get("ouverts") == "1"
    items: list[dict[str, Any]] = []
    for project in selectors.projects_public():
        calendar = selectors.project_calendar(project)
        if only_open and not calendar.contributions_open:
            continue
        items.append(
            {
                "project": project,
                "calendar": calendar,
                "archived": project.status == ProjectStatus.ARCHIVED,
                "bilan_url": _bilan_url(project),
            }
        )
    # Open to contributions first, then the others, archived projects last.
    items.sort(key=lambda i: (i["archived"], not i["calendar"].contributions_open))
    features = [serializers.project_feature(i["project"], i["calendar"]) for i in items]
    context = {
        "nav": "projects",
        "items": items,
        "only_open": only_open,
        "map_config": map_config(),
        "projects_data": {"type": "FeatureCollection", "features": features},
    }
    return render(request, "web/projects.html", context)


# --- a project -----------------------------------------------------------------------------------------


@require_GET
def project_detail(request: HttpRequest, slug: str) -> HttpResponse:
    project = _project_or_404(request, slug)
    return render(request, "web/projects/detail.html", _project_context(request, project))


@require_POST
def project_follow(request: HttpRequest, slug: str) -> HttpResponse:
    """« Suivre ce projet »: the service writes the confirmation e-mail (double opt-in)."""
    project = _project_or_404(request, slug)
    form = FollowForm(request.POST)
    email = request.POST.get("email", "")[:254]
    errors: dict[str, list[str]] = {}
    if honeypot.honeypot_tripped(request.POST):
        errors = {"email": [honeypot.message()]}
    elif not form.is_valid():
        errors = _form_errors(form)
    else:
        try:
            services.project_follow(project=project, email=form.cleaned_data["email"], user=_actor(request))
        except UrbanismeError as exc:
            errors = {"email": _service_errors(exc).get("email") or [exc.message]}
    if errors:
        if wants_json(request):
            return error_json("donnees_invalides", errors["email"][0], errors, status=400)
        context = _project_context(request, project, follow={"email": email, "errors": errors})
        return render(request, "web/projects/detail.html", context, status=400)
    text = _(
        "Un e-mail de confirmation vous a été envoyé : ouvrez le lien qu'il contient pour confirmer "
        "votre abonnement."
    )
    if wants_json(request):
        return JsonResponse({"message": text}, status=202)
    messages.success(request, text)
    return redirect(reverse("web:project", args=[project.slug]) + "#suivre")


# --- contributing --------------------------------------------------------------------------------------


def _contribute_context(request: HttpRequest, project: Project, **extra: Any) -> dict[str, Any]:
    calendar = selectors.project_calendar(project)
    places = _places(project)
    context: dict[str, Any] = {
        "nav": "projects",
        "project": project,
        "calendar": calendar,
        "kinds": ContributionKind.choices,
        "themes": list(project.themes.all()),
        "place_groups": _place_groups(places),
        "pre_moderated": project.moderation == Moderation.PRE,
        "v": {"where": "", "notify": False, "follow": False},
        "errors": {},
        "error_summary": [],
        "map_config": map_config(),
        "project_data": {
            "perimeter": json.loads(project.perimeter.geojson),
            "projectPoint": _project_point(project),
            "margin": project.contribution_margin_m,
        },
    }
    context.update(extra)
    return context


def _geometry(project: Project, data: dict[str, Any]) -> tuple[Any, dict[str, list[str]]]:
    """The geometry the person chose: drawn, the whole project, a named place, or coordinates."""
    where = data.get("where") or ""
    if where not in WHERE_CHOICES:  # without scripts nothing chooses for them: read what was filled
        if data.get("geometry"):
            where = "carte"
        elif data.get("place"):
            where = "lieu"
        elif data.get("lat") or data.get("lon"):
            where = "coordonnees"
        else:
            where = ""
    if where == "carte":
        try:
            geometry = json.loads(data.get("geometry") or "null")
        except ValueError:
            geometry = None
        if not isinstance(geometry, dict) or "type" not in geometry:
            return None, {
                "where": [_("Dessinez votre contribution sur la carte, ou choisissez un lieu sans carte.")]
            }
        return geometry, {}
    if where == "projet":
        return _project_point(project), {}
    if where == "lieu":
        place = _place(project, data.get("place") or "")
        if place is None:
            return None, {"place": [_("Choisissez un lieu dans la liste.")]}
        return {"type": "Point", "coordinates": [place.lon, place.lat]}, {}
    if where == "coordonnees":
        try:
            lat, lon = _decimal(data.get("lat", "")), _decimal(data.get("lon", ""))
        except ValueError:
            return None, {"lat": [_("Coordonnées illisibles : des nombres sont attendus (48,8566).")]}
        if lat is None or lon is None:
            return None, {"lat": [_("Indiquez à la fois la latitude et la longitude.")]}
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            return None, {
                "lat": [_("Latitude entre -90 et 90, longitude entre -180 et 180, en degrés décimaux.")]
            }
        return {"type": "Point", "coordinates": [lon, lat]}, {}
    return None, {
        "where": [
            _(
                "Indiquez où s'applique votre contribution : sur la carte, à l'échelle du projet, "
                "un lieu de la liste ou des coordonnées."
            )
        ]
    }


def _refused(
    request: HttpRequest,
    project: Project,
    values: dict[str, Any],
    errors: dict[str, list[str]],
    *,
    status: int,
) -> HttpResponse:
    if wants_json(request):
        first = next(iter(errors.values()))[0]
        return error_json(
            "donnees_invalides" if status != 409 else "phase_fermee", first, errors, status=status
        )
    context = _contribute_context(
        request,
        project,
        v=values,
        errors=errors,
        error_summary=_summary(errors),
        photo_dropped=bool(request.FILES.get("photo")),
    )
    return render(request, "web/projects/contribute.html", context, status=status)


@require_http_methods(["GET", "POST"])
def contribution_new(request: HttpRequest, slug: str) -> HttpResponse:
    project = _project_or_404(request, slug)
    if request.method == "GET":
        return render(request, "web/projects/contribute.html", _contribute_context(request, project))

    values: dict[str, Any] = {key: request.POST.get(key, "") for key in ContributionForm.base_fields}
    values["notify"] = bool(request.POST.get("notify"))
    values["follow"] = bool(request.POST.get("follow"))
    if honeypot.honeypot_tripped(request.POST):
        return _refused(request, project, values, {"form": [honeypot.message()]}, status=400)
    if not selectors.project_calendar(project).contributions_open:
        closed = _("Les contributions sont closes pour ce projet : elles ne sont pas ouvertes actuellement.")
        return _refused(request, project, values, {"form": [closed]}, status=409)
    form = ContributionForm(request.POST)
    errors = {} if form.is_valid() else _form_errors(form)
    geometry, where_errors = _geometry(project, values)
    errors = {**where_errors, **errors}
    theme_id = None
    raw_theme = values.get("theme") or ""
    if raw_theme:
        if raw_theme.isdigit() and any(t.pk == int(raw_theme) for t in project.themes.all()):
            theme_id = int(raw_theme)
        else:
            errors["theme"] = [_("Thème inconnu pour ce projet.")]
    if errors:
        return _refused(request, project, values, errors, status=400)

    data = form.cleaned_data
    wants_mail = data["notify"] or data["follow"]
    try:
        contribution = services.contribution_create(
            project=project,
            actor=_actor(request),
            kind=data["kind"],
            title=data["title"],
            text=data["text"],
            geometry=geometry,
            pseudonym=data["pseudonym"],
            theme_id=theme_id,
            # The e-mail is kept only for what the person asked (data minimisation).
            author=services.AuthorInput(
                email=data["email"] if wants_mail else "",
                notify=data["notify"],
                follow_project=data["follow"],
            ),
            photo=request.FILES.get("photo"),
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except Closed as exc:
        return _refused(request, project, values, {"form": [exc.message]}, status=409)
    except UrbanismeError as exc:
        return _refused(request, project, values, _service_errors(exc), status=exc.status)

    if contribution.visibility == Visibility.PENDING:
        text = _("Merci ! Votre contribution sera publiée après relecture par la modération.")
        target = reverse("web:project", args=[project.slug]) + "#contributions"
    else:
        text = _("Merci ! Votre contribution est publiée.")
        target = reverse("web:contribution", args=[project.slug, contribution.pk])
    if data["follow"] and data["email"]:
        text = " ".join(
            (text, _("Pour suivre le projet, confirmez votre adresse : un e-mail vous a été envoyé."))
        )
    messages.success(request, text)
    if wants_json(request):
        return JsonResponse(
            {
                "id": contribution.pk,
                "visibility": contribution.visibility,
                "message": text,
                "redirect": target,
            },
            status=201,
        )
    return redirect(target)


# --- a contribution ------------------------------------------------------------------------------------


def _thread(contribution: Contribution) -> list[dict[str, Any]]:
    """Replies nested one level: each top-level reply with its answers (published or hidden)."""
    replies: list[Reply] = list(contribution.replies.all())
    top: dict[int, dict[str, Any]] = {
        r.pk: {"reply": r, "children": []} for r in replies if r.parent_id is None
    }
    for reply in replies:
        if reply.parent_id is None:
            continue
        parent = top.get(reply.parent_id)
        if parent is not None:
            parent["children"].append(reply)
        else:  # an answer to an answer, or to a reply the public cannot see: shown at the top level
            top[reply.pk] = {"reply": reply, "children": []}
    return sorted(top.values(), key=lambda item: item["reply"].created_at)


def _contribution_context(
    request: HttpRequest, project: Project, contribution: Contribution, **extra: Any
) -> dict[str, Any]:
    calendar = selectors.project_calendar(project)
    current = calendar.current
    hidden = contribution.visibility == Visibility.HIDDEN
    same_phase = current is not None and current.pk == contribution.phase_id and not hidden
    thread = [] if hidden else _thread(contribution)
    parent = None
    raw_parent = request.GET.get("parent", "") or str(extra.get("reply", {}).get("v", {}).get("parent") or "")
    if raw_parent.isdigit():
        parent = next(
            (
                item["reply"]
                for item in thread
                if item["reply"].pk == int(raw_parent) and item["reply"].visibility == Visibility.PUBLISHED
            ),
            None,
        )
    context: dict[str, Any] = {
        "nav": "projects",
        "project": project,
        "contribution": contribution,
        "calendar": calendar,
        "hidden": hidden,
        "hidden_reason": _("Masqué par la modération : %(reason)s") % {"reason": contribution.hidden_reason},
        "replies_open": same_phase and bool(current and current.allows_contributions),
        "supports_open": same_phase and bool(current and current.allows_supports),
        "thread": thread,
        "reply_count": sum(1 for r in contribution.replies.all() if r.visibility == Visibility.PUBLISHED),
        "parent": parent,
        "pre_moderated": project.moderation == Moderation.PRE,
        "reply": {"v": {}, "errors": {}},
        "HIDDEN": Visibility.HIDDEN.value,
        "map_config": map_config(),
    }
    if not hidden:
        context["where_text"] = _where_text(project, contribution)
        context["contribution_data"] = {
            "perimeter": json.loads(project.perimeter.geojson),
            "contribution": _map_feature(contribution),
        }
    context.update(extra)
    return context


@require_GET
def contribution_detail(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    project = _project_or_404(request, slug)
    contribution = _contribution_or_404(project, pk)
    return render(
        request, "web/projects/contribution.html", _contribution_context(request, project, contribution)
    )


@require_POST
def contribution_reply(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    project = _project_or_404(request, slug)
    contribution = _contribution_or_404(project, pk)
    values: dict[str, Any] = {key: request.POST.get(key, "") for key in ReplyForm.base_fields}
    values["notify"] = bool(request.POST.get("notify"))
    form = ReplyForm(request.POST)
    errors: dict[str, list[str]] = {}
    status = 400
    if honeypot.honeypot_tripped(request.POST):
        errors = {"form": [honeypot.message()]}
    elif not form.is_valid():
        errors = _form_errors(form)
    else:
        data = form.cleaned_data
        try:
            reply = services.contribution_reply(
                contribution=contribution,
                text=data["text"],
                actor=_actor(request),
                pseudonym=data["pseudonym"],
                author=services.AuthorInput(
                    email=data["email"] if data["notify"] else "", notify=data["notify"]
                ),
                parent_id=data["parent"],
            )
        except UrbanismeError as exc:
            errors, status = _service_errors(exc), exc.status
    if errors:
        if wants_json(request):
            return error_json("donnees_invalides", next(iter(errors.values()))[0], errors, status=status)
        context = _contribution_context(
            request,
            project,
            contribution,
            reply={"v": values, "errors": errors, "summary": _summary(errors)},
        )
        return render(request, "web/projects/contribution.html", context, status=status)
    text = (
        _("Merci ! Votre réponse sera publiée après relecture par la modération.")
        if reply.visibility == Visibility.PENDING
        else _("Merci ! Votre réponse est publiée.")
    )
    target = reverse("web:contribution", args=[project.slug, contribution.pk]) + (
        f"#reponse-{reply.pk}" if reply.visibility == Visibility.PUBLISHED else "#fil"
    )
    if wants_json(request):
        return JsonResponse({"id": reply.pk, "visibility": reply.visibility, "message": text}, status=201)
    messages.success(request, text)
    return redirect(target)


@require_POST
def contribution_support(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """« +1 »: counted once per person (account, else this browser's address and agent)."""
    project = _project_or_404(request, slug)
    contribution = _contribution_or_404(project, pk)
    target = reverse("web:contribution", args=[project.slug, contribution.pk]) + "#soutiens"
    try:
        if honeypot.honeypot_tripped(request.POST):
            raise ValidationFailed({"form": [honeypot.message()]})
        contribution, created = services.contribution_support(
            contribution=contribution, user=request.user, client=_client(request)
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except UrbanismeError as exc:
        if wants_json(request):
            return error_json(exc.code, exc.message, status=exc.status)
        messages.error(request, exc.message)
        return redirect(target)
    text = _("Merci : votre soutien est compté.") if created else _("Votre soutien était déjà compté.")
    if wants_json(request):
        return JsonResponse(
            {
                "id": contribution.pk,
                "new": created,
                "supports_count": contribution.supports_count,
                "message": text,
            }
        )
    messages.success(request, text)
    return redirect(target)


# --- the links of the e-mails ------------------------------------------------------------------------


@require_GET
def follow_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """The double opt-in link: confirms the address, then says so."""
    try:
        follower = services.project_follow_confirm(token=token)
    except NotFound as exc:
        return render(
            request,
            "web/projects/follow.html",
            {"nav": "projects", "state": "invalid", "message": exc.message},
            status=404,
        )
    project = follower.project
    visible = project.status in (ProjectStatus.PUBLISHED, ProjectStatus.ARCHIVED)
    return render(
        request,
        "web/projects/follow.html",
        {"nav": "projects", "state": "confirmed", "project": project if visible else None},
    )


@csrf_exempt  # the signed token is the secret; mail clients' one-click (RFC 8058) post without a form
@require_http_methods(["GET", "POST"])
def unfollow(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks (link checkers of mail servers open links: they must not unsubscribe anyone); POST does."""
    if request.method == "GET":
        return render(
            request, "web/projects/follow.html", {"nav": "projects", "state": "ask", "token": token}
        )
    try:
        services.project_unfollow(token=token)
    except NotFound as exc:
        return render(
            request,
            "web/projects/follow.html",
            {"nav": "projects", "state": "invalid", "message": exc.message},
            status=404,
        )
    return render(request, "web/projects/follow.html", {"nav": "projects", "state": "unfollowed"})
