"""The planners' back office (``/urbanisme/``): projects, calendar, layers, moderation, on-behalf entry, bilan.

Access, checked on the server for every view: signed-out visitors go to the sign-in page; a signed-in
person without a role on any project's organisation (``urbanisme.permissions.MODERATOR_ROLES``)
gets 403; a project of another organisation is a 404 (its existence leaks nothing); moderators may
moderate, answer and enter contributions, and the pages that change the project itself (details,
calendar, layers, bilan) need ``permissions.can_manage_project`` (403 otherwise).

Views are thin: they parse what the browser sent and call one service of ``urbanisme.services``,
``urbanisme.layers`` or ``urbanisme.rasters``, which check the rights again and decide what is
acceptable; their ``ValidationFailed`` errors come back on the form, summed up at the top with links
to the fields. Every form works without scripts; the scripts (``static/web/js/pages/planning-*.js``)
add the map drawing (leaflet-geoman), rows of the calendar and the raster status that updates itself.

One helper goes beyond parsing: a perimeter arrives as a drawing, pasted GeoJSON or a file
(GeoJSON, zipped Shapefile, GeoPackage); all three are read with ``geo.importers.read_layer``
(any declared CRS, repaired, in the storage SRID) and merged into one geometry for
``services.project_create`` / ``project_update``, since ``urbanisme`` has no perimeter-from-file
service.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Callable
from datetime import date, datetime, time
from functools import wraps
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Polygon
from django.core.files.base import ContentFile
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from geo.access_log import personal_data_accessed
from geo.importers import GeometryKind, ImportFileError, read_layer
from geo.models import Membership, Organisation, Territory
from geo.shapes import ShapeLimits, clean_drawn_shape
from geo.srid import STORAGE_SRID, InvalidGeometry, point_from_lonlat
from urbanisme import layers as layer_services
from urbanisme import permissions, rasters, selectors, services
from urbanisme.errors import Closed, Conflict, Forbidden, NotFound, UrbanismeError, ValidationFailed
from urbanisme.models import (
    Contribution,
    ContributionChannel,
    ContributionKind,
    Layer,
    LayerFeature,
    LayerKind,
    Moderation,
    Phase,
    PhaseKind,
    Project,
    ProjectFollower,
    ProjectStatus,
    RasterStatus,
    Reply,
    Visibility,
)
from web.views.common import map_config

PARIS = ZoneInfo("Europe/Paris")
PAGE_SIZE = 20
EXTRA_PHASE_ROWS = 3
MAX_PHASE_ROWS = 60
LEGEND_LINE = re.compile(r"^\s*(#[0-9a-fA-F]{6})\s+(.+?)\s*$")


# --- access ----------------------------------------------------------------------------------------


def is_team_member(user: Any) -> bool:
    """Signed in with a planner, moderator or administrator role in some organisation (or superuser)."""
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return False
    if user.is_superuser:
        return True
    return Membership.objects.filter(user=user, role__in=permissions.MODERATOR_ROLES).exists()


def _forbidden(request: HttpRequest) -> HttpResponse:
    return render(request, "web/planning/403.html", {"nav": "planning"}, status=403)


def team_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed-out visitors go to the sign-in page; people without a project role get 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_team_member(request.user):
            return _forbidden(request)
        return view(request, *args, **kwargs)

    return wrapper


def project_view(*, manage: bool) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """The project of ``slug`` for its team: 404 for other organisations, 403 when managing is needed."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        @team_required
        def wrapper(request: HttpRequest, slug: str, *args: Any, **kwargs: Any) -> HttpResponse:
            project = Project.objects.select_related("organisation", "territory").filter(slug=slug).first()
            if project is None or not permissions.can_moderate_project(request.user, project):
                raise Http404(_("Projet introuvable."))
            if manage and not permissions.can_manage_project(request.user, project):
                return _forbidden(request)
            try:
                return view(request, project, *args, **kwargs)
            except Forbidden:
                return _forbidden(request)
            except NotFound as exc:
                raise Http404(exc.message) from exc

        return wrapper

    return decorator


def _creatable_organisations(user: Any) -> list[Organisation]:
    candidates = (
        Organisation.objects.all()
        if user.is_superuser
        else Organisation.objects.filter(memberships__user=user).distinct()
    )
    return [o for o in candidates.order_by("name") if permissions.can_create_project(user, o)]


# --- shared context, errors ------------------------------------------------------------------------


def _anchor(prefix: str, field: str) -> str:
    """The id of the element an error links to: ``phases[2].start`` → ``<prefix>phases-2-start``."""
    return prefix + re.sub(r"[^a-z0-9_]+", "-", field.lower()).strip("-")


def _summary(
    errors: dict[str, list[str]], *, prefix: str, known: set[str] | None = None, fallback: str = ""
) -> list[tuple[str, str]]:
    """(anchor, message) pairs for the error summary; unknown fields link to ``fallback``."""
    pairs: list[tuple[str, str]] = []
    for field, items in errors.items():
        anchor = _anchor(prefix, field)
        if known is not None and field not in known:
            anchor = fallback or anchor
        pairs.extend((anchor, str(message)) for message in items)
    return pairs


def _errors_of(exc: UrbanismeError, field: str = "form") -> dict[str, list[str]]:
    found = getattr(exc, "errors", None)
    return {k: [str(m) for m in v] for k, v in found.items()} if found else {field: [exc.message]}


def _flatten(errors: dict[str, list[str]], mapping: Callable[[str], str]) -> dict[str, list[str]]:
    """Service keys (``style.color``, ``legend[0].label``) onto the form's fields."""
    flat: dict[str, list[str]] = {}
    for key, items in errors.items():
        flat.setdefault(mapping(key), []).extend(items)
    return flat


def _public_url(project: Project) -> str:
    """The citizens' page of the project (built by the project pages; its path if not there yet)."""
    try:
        return reverse("web:project", args=[project.slug])
    except NoReverseMatch:
        return f"/projets/{project.slug}/"


def _contribution_url(project: Project, contribution: Contribution) -> str:
    """The contribution's public page (the project pages'), or "" while those routes are missing."""
    try:
        return reverse("web:contribution", args=[project.slug, contribution.pk])
    except NoReverseMatch:
        return ""


def _bilan_url(project: Project) -> str:
    try:
        return reverse("urbanisme-bilan", kwargs={"slug": project.slug})
    except NoReverseMatch:
        return f"/projets/{project.slug}/bilan/"


def js_strings() -> dict[str, Any]:
    """What the planning scripts say, translated here (a JSON block: scripts hold no French)."""
    return {
        "perimeterDrawn": [
            ngettext(
                "Périmètre dessiné : %(count)s polygone, recopié dans le champ GeoJSON.",
                "Périmètre dessiné : %(count)s polygones, recopiés dans le champ GeoJSON.",
                1,
            ),
            ngettext(
                "Périmètre dessiné : %(count)s polygone, recopié dans le champ GeoJSON.",
                "Périmètre dessiné : %(count)s polygones, recopiés dans le champ GeoJSON.",
                2,
            ),
        ],
        "perimeterCleared": _("Le périmètre dessiné est effacé."),
        "geojsonUnreadable": _(
            "Ce GeoJSON ne peut pas être affiché sur la carte ; il sera vérifié à l'envoi."
        ),
        "rowAdded": _("Ligne %(n)s ajoutée au calendrier."),
        "rowRemoved": _("Ligne retirée du calendrier."),
        "shapeDrawn": _("Forme dessinée (%(kind)s), recopiée dans le champ GeoJSON : donnez-lui un titre."),
        "kindPoint": _("point"),
        "kindLine": _("ligne"),
        "kindPolygon": _("polygone"),
        "pointChosen": _("Emplacement choisi : latitude %(lat)s, longitude %(lon)s."),
        "pinLabel": _("Emplacement de la contribution (flèches du clavier pour le déplacer)"),
        "statusChanged": _("Couche « %(name)s » : %(status)s."),
    }


def _context(request: HttpRequest, project: Project | None, tab: str, **extra: Any) -> dict[str, Any]:
    user = request.user
    tabs: list[tuple[str, str, str]] = []
    if project is not None:
        manage = permissions.can_manage_project(user, project)
        slug = project.slug
        if manage:
            tabs += [
                ("project", _("Projet"), reverse("web:planning-project", args=[slug])),
                ("calendar", _("Calendrier"), reverse("web:planning-calendar", args=[slug])),
                ("layers", _("Couches"), reverse("web:planning-layers", args=[slug])),
            ]
        tabs += [
            ("moderation", _("Modération"), reverse("web:planning-moderation", args=[slug])),
            ("entry", _("Saisie de contributions"), reverse("web:planning-entry", args=[slug])),
        ]
        if manage:
            tabs.append(("bilan", _("Bilan"), reverse("web:planning-bilan", args=[slug])))
    return {
        "project": project,
        "tab": tab,
        "tabs": tabs,
        "nav": "planning",
        "status_label": ProjectStatus(project.status).label if project else "",
        "public_url": _public_url(project) if project else "",
        "bilan_url": _bilan_url(project) if project else "",
        "map_config": map_config(),
        "planning_strings": js_strings(),
        "errors": {},
        "summary": [],
        **extra,
    }


# --- perimeter from a drawing, pasted GeoJSON or a file -------------------------------------------


def _source_srid(raw: str) -> int | None:
    raw = (raw or "").strip().upper().removeprefix("EPSG:")
    if not raw:
        return None
    if not raw.isdigit() or not 1000 <= int(raw) <= 999999:
        raise ValidationFailed({"perimeter_srid": [_("Code EPSG attendu, par exemple 2154 (Lambert-93).")]})
    return int(raw)


def _check_zip(path: Any, limit: int) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValidationFailed({"perimeter": [_("Archive ZIP illisible.")]}) from exc
    if unpacked > layer_services.ZIP_RATIO * limit:
        raise ValidationFailed({"perimeter": [_("Archive trop volumineuse une fois décompressée.")]})


def perimeter_read(upload: Any, *, source_srid: int | None = None) -> GEOSGeometry:
    """The polygons of a GeoJSON, zipped Shapefile or GeoPackage, merged, in the storage SRID.

    The file goes through ``urbanisme.layers.spooled`` and ``vector_format`` (size limit, format
    from the first bytes, never the name) and ``geo.importers.read_layer`` (declared CRS or
    ``source_srid``, repaired geometries); the service then checks and stores the perimeter.
    """
    limit = int(settings.URBANISME_VECTOR_MAX_BYTES)
    try:
        with layer_services.spooled(upload, limit=limit) as path:
            kind = layer_services.vector_format(path)
            if kind == "zip":
                _check_zip(path, limit)
            typed = path.rename(path.with_suffix(f".{kind}"))
            read = read_layer(typed, kind=GeometryKind.POLYGON, source_srid=source_srid)
    except ImportFileError as exc:
        raise ValidationFailed({"perimeter": [str(exc)]}) from exc
    except ValidationFailed as exc:
        raise ValidationFailed(_flatten(exc.errors, lambda _key: "perimeter"), status=exc.status) from exc
    polygons: list[Polygon] = []
    for record in read.records:
        geom: Any = record.geometry
        polygons.extend(list(geom) if geom.geom_type == "MultiPolygon" else [geom])
    merged: GEOSGeometry = MultiPolygon(*polygons, srid=STORAGE_SRID)
    if len(polygons) > 1:
        merged = merged.unary_union  # overlapping or touching parts become one
        merged.srid = STORAGE_SRID
    return merged


def perimeter_from_request(request: HttpRequest, *, required: bool) -> GEOSGeometry | None:
    """The perimeter the form sent (file first, then the GeoJSON field), or None when none was sent."""
    source_srid = _source_srid(request.POST.get("perimeter_srid", ""))
    upload = request.FILES.get("perimeter_file")
    text = (request.POST.get("perimeter_geojson") or "").strip()
    if upload is not None:
        return perimeter_read(upload, source_srid=source_srid)
    if text:
        if not text.startswith("{"):
            raise ValidationFailed({"perimeter": [_("Le GeoJSON doit commencer par « { ».")]})
        return perimeter_read(
            ContentFile(text.encode("utf-8"), name="perimetre.geojson"), source_srid=source_srid
        )
    if required:
        raise ValidationFailed(
            {
                "perimeter": [
                    _(
                        "Indiquez le périmètre : dessinez-le sur la carte, collez un GeoJSON ou envoyez "
                        "un fichier (GeoJSON, Shapefile zippé, GeoPackage)."
                    )
                ]
            }
        )
    return None


def _geojson(geom: GEOSGeometry | None) -> dict[str, Any] | None:
    return json.loads(geom.geojson) if geom is not None else None


# --- my projects -----------------------------------------------------------------------------------


@require_GET
@team_required
def project_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    projects = (
        permissions.projects_managed_by(user)
        .select_related("organisation")
        .prefetch_related("phases")
        .annotate(
            pending=Count("contributions", filter=Q(contributions__visibility=Visibility.PENDING)),
            total=Count("contributions"),
        )
        .order_by("title")
    )
    rows = []
    for project in projects:
        calendar = selectors.project_calendar(project)
        rows.append(
            {
                "project": project,
                "status_label": ProjectStatus(project.status).label,
                "current": calendar.current,
                "manage": permissions.can_manage_project(user, project),
            }
        )
    return render(
        request,
        "web/planning/project_list.html",
        {"rows": rows, "can_create": bool(_creatable_organisations(user)), "nav": "planning"},
    )


# --- create ----------------------------------------------------------------------------------------

NEW_FIELDS = {
    "organisation",
    "territory",
    "title",
    "summary",
    "description",
    "contact_name",
    "contact_email",
    "moderation",
    "contribution_margin_m",
    "themes",
    "perimeter",
    "perimeter_srid",
}


def _margin(raw: str, field: str = "contribution_margin_m") -> int:
    try:
        return int((raw or "").strip() or "200")
    except ValueError as exc:
        raise ValidationFailed({field: [_("Nombre entier de mètres attendu, par exemple 200.")]}) from exc


@require_http_methods(["GET", "POST"])
@team_required
def project_new(request: HttpRequest) -> HttpResponse:
    organisations = _creatable_organisations(request.user)
    if not organisations:
        return _forbidden(request)
    territories = list(Territory.objects.filter(organisation__in=organisations).order_by("name")) or list(
        Territory.objects.order_by("name")
    )
    values: dict[str, Any] = {
        "organisation": str(organisations[0].pk),
        "territory": str(territories[0].pk) if territories else "",
        "moderation": Moderation.POST,
        "contribution_margin_m": "200",
    }
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        values = {key: request.POST.get(key, "") for key in NEW_FIELDS | {"perimeter_geojson"}}
        organisation = next((o for o in organisations if str(o.pk) == values["organisation"]), None)
        territory = next((t for t in territories if str(t.pk) == values["territory"]), None)
        if organisation is None:
            errors["organisation"] = [_("Choisissez l'organisation responsable.")]
        if territory is None:
            errors["territory"] = [_("Choisissez le territoire.")]
        perimeter = None
        try:
            perimeter = perimeter_from_request(request, required=True)
        except ValidationFailed as exc:
            errors.update(exc.errors)
        try:
            margin = _margin(values["contribution_margin_m"])
        except ValidationFailed as exc:
            errors.update(exc.errors)
        if not errors and organisation is not None and territory is not None:
            themes = [line.strip() for line in values["themes"].splitlines() if line.strip()]
            try:
                project = services.project_create(
                    actor=request.user,
                    territory=territory,
                    organisation=organisation,
                    title=values["title"],
                    perimeter=perimeter,
                    summary=values["summary"],
                    description=values["description"],
                    contact_name=values["contact_name"],
                    contact_email=values["contact_email"],
                    moderation=values["moderation"],
                    contribution_margin_m=margin,
                    themes=themes,
                )
            except Forbidden:
                return _forbidden(request)
            except UrbanismeError as exc:
                errors.update(_errors_of(exc))
            else:
                messages.success(
                    request,
                    _("Projet « %(title)s » créé en brouillon. Étape suivante : son calendrier.")
                    % {"title": project.title},
                )
                return redirect("web:planning-calendar", project.slug)
    context = _context(
        request,
        None,
        "new",
        values=values,
        organisations=organisations,
        territories=territories,
        moderations=[
            (value, label, MODERATION_HELP[Moderation(value)]) for value, label in Moderation.choices
        ],
        errors=errors,
        summary=_summary(errors, prefix="new-", known=NEW_FIELDS, fallback="project-form"),
        perimeter_initial=None,
    )
    return render(request, "web/planning/project_new.html", context, status=400 if errors else 200)


# --- edit ------------------------------------------------------------------------------------------

DETAIL_FIELDS = ("title", "summary", "description", "contact_name", "contact_email")
STATUS_HELP = {
    ProjectStatus.DRAFT: _(
        "Visible de l'équipe seulement, en aperçu. Les habitants ne le voient pas et ne peuvent pas contribuer."
    ),
    ProjectStatus.PUBLISHED: _(
        "Visible de tous ; les contributions et les soutiens suivent le calendrier. "
        "Il faut au moins une phase au calendrier."
    ),
    ProjectStatus.ARCHIVED: _(
        "Reste consultable (contributions, réponses, bilan), mais plus personne ne peut contribuer."
    ),
}
MODERATION_HELP = {
    Moderation.POST: _(
        "Les contributions paraissent aussitôt ; l'équipe peut les masquer ensuite, avec un motif public."
    ),
    Moderation.PRE: _("Chaque contribution attend qu'un membre de l'équipe la publie."),
}


def _edit_context(request: HttpRequest, project: Project, **extra: Any) -> dict[str, Any]:
    values = {name: getattr(project, name) for name in DETAIL_FIELDS}
    values.update(
        {"moderation": project.moderation, "contribution_margin_m": str(project.contribution_margin_m)}
    )
    extra.setdefault("values", values)
    extra.setdefault("posted", {})
    return _context(
        request,
        project,
        "project",
        statuses=[
            (value, label, STATUS_HELP[ProjectStatus(value)]) for value, label in ProjectStatus.choices
        ],
        moderations=[
            (value, label, MODERATION_HELP[Moderation(value)]) for value, label in Moderation.choices
        ],
        themes=list(project.themes.all()),
        documents=list(project.documents.all()),
        has_phases=project.phases.exists(),
        perimeter_initial=_geojson(project.perimeter),
        max_document_mb=settings.URBANISME_DOCUMENT_MAX_BYTES // (1024 * 1024),
        **extra,
    )


@require_GET
@project_view(manage=True)
def project_edit(request: HttpRequest, project: Project) -> HttpResponse:
    return render(request, "web/planning/project_edit.html", _edit_context(request, project))


def _details(request: HttpRequest, project: Project) -> str:
    fields: dict[str, Any] = {name: request.POST.get(name, "") for name in DETAIL_FIELDS}
    fields["moderation"] = request.POST.get("moderation", "")
    fields["contribution_margin_m"] = _margin(request.POST.get("contribution_margin_m", ""))
    services.project_update(project=project, actor=request.user, **fields)
    return _("Informations du projet enregistrées.")


def _perimeter(request: HttpRequest, project: Project) -> str:
    perimeter = perimeter_from_request(request, required=True)
    services.project_update(project=project, actor=request.user, perimeter=perimeter)
    return _("Périmètre enregistré.")


def _status(request: HttpRequest, project: Project) -> str:
    status = request.POST.get("status", "")
    project = services.project_set_status(project=project, actor=request.user, status=status)
    return _("Statut du projet : %(status)s.") % {"status": ProjectStatus(project.status).label}


def _theme(request: HttpRequest, project: Project) -> str:
    theme = services.theme_add(project=project, actor=request.user, name=request.POST.get("name", ""))
    return _("Thème « %(name)s » ajouté.") % {"name": theme.name}


def _cover(request: HttpRequest, project: Project) -> str:
    upload = request.FILES.get("cover_image")
    if upload is None:
        raise ValidationFailed({"cover_image": [_("Choisissez une image (JPEG, PNG ou WebP).")]})
    services.project_set_cover(project=project, actor=request.user, upload=upload)
    return _("Image de couverture enregistrée.")


def _document(request: HttpRequest, project: Project) -> str:
    upload = request.FILES.get("file")
    if upload is None:
        raise ValidationFailed({"file": [_("Choisissez un fichier (PDF, JPEG, PNG ou WebP).")]})
    document = services.document_add(
        project=project, actor=request.user, title=request.POST.get("title", ""), upload=upload
    )
    return _("Document « %(title)s » ajouté.") % {"title": document.title}


PROJECT_ACTIONS: dict[str, Callable[[HttpRequest, Project], str]] = {
    "informations": _details,
    "perimetre": _perimeter,
    "statut": _status,
    "themes": _theme,
    "couverture": _cover,
    "documents": _document,
}
# The field each service error key lands on, per form (the rest go to the form itself).
PROJECT_FORM_FIELDS = {
    "informations": {*DETAIL_FIELDS, "moderation", "contribution_margin_m"},
    "perimetre": {"perimeter", "perimeter_srid"},
    "statut": {"status"},
    "themes": {"name"},
    "couverture": {"cover_image"},
    "documents": {"title", "file"},
}


@require_POST
@project_view(manage=True)
def project_action(request: HttpRequest, project: Project, action: str) -> HttpResponse:
    handler = PROJECT_ACTIONS.get(action)
    if handler is None:
        raise Http404(_("Action inconnue."))
    try:
        done = handler(request, project)
    except (ValidationFailed, Conflict, Closed) as exc:
        errors = _errors_of(exc)
        extra: dict[str, Any] = {}
        if action == "informations":
            extra["values"] = {key: request.POST.get(key, "") for key in PROJECT_FORM_FIELDS[action]}
        project.refresh_from_db()
        context = _edit_context(
            request,
            project,
            errors={action: errors},
            failed=action,
            posted=request.POST,
            summary=_summary(
                errors, prefix=f"{action}-", known=PROJECT_FORM_FIELDS[action], fallback=f"form-{action}"
            ),
            **extra,
        )
        return render(request, "web/planning/project_edit.html", context, status=exc.status)
    messages.success(request, done)
    return redirect(reverse("web:planning-project", args=[project.slug]) + f"#form-{action}")


# --- calendar --------------------------------------------------------------------------------------


def _parse_date(raw: str) -> date | None:
    """``2025-03-12`` (date fields) or ``12/03/2025`` (typed by hand); None when empty; ValueError else."""
    text = (raw or "").strip()
    if not text:
        return None
    if re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", text):
        day, month, year = (int(part) for part in text.split("/"))
        return date(year, month, day)
    return date.fromisoformat(text)


def _phase_rows(project: Project) -> list[dict[str, Any]]:
    rows = [
        {
            "id": str(p.pk),
            "kind": p.kind,
            "title": p.title,
            "start": p.start_date.isoformat(),
            "end": p.end_date.isoformat(),
            "contributions": p.allows_contributions,
            "supports": p.allows_supports,
            "delete": False,
            "has_contributions": p.contribution_count > 0,
        }
        for p in project.phases.annotate(contribution_count=Count("contributions")).order_by("start_date")
    ]
    rows += [_blank_row() for _ in range(EXTRA_PHASE_ROWS)]
    return rows


def _blank_row() -> dict[str, Any]:
    return {
        "id": "",
        "kind": "",
        "title": "",
        "start": "",
        "end": "",
        "contributions": False,
        "supports": False,
    }


def _posted_rows(request: HttpRequest) -> list[dict[str, Any]]:
    try:
        total = min(int(request.POST.get("phases-TOTAL", "0")), MAX_PHASE_ROWS)
    except ValueError:
        total = 0
    rows = []
    for i in range(max(total, 0)):
        prefix = f"phases-{i}-"
        rows.append(
            {
                "id": request.POST.get(prefix + "id", "").strip(),
                "kind": request.POST.get(prefix + "kind", ""),
                "title": request.POST.get(prefix + "title", ""),
                "start": request.POST.get(prefix + "start", ""),
                "end": request.POST.get(prefix + "end", ""),
                "contributions": bool(request.POST.get(prefix + "contributions")),
                "supports": bool(request.POST.get(prefix + "supports")),
                "delete": bool(request.POST.get(prefix + "delete")),
            }
        )
    return rows


def _phase_inputs(
    rows: list[dict[str, Any]], existing: dict[int, Phase]
) -> tuple[list[services.PhaseInput], dict[str, list[str]]]:
    inputs: list[services.PhaseInput] = []
    errors: dict[str, list[str]] = {}
    for i, row in enumerate(rows):
        prefix = f"phases-{i}-"
        blank = not (row["kind"] or row["title"].strip() or row["start"].strip() or row["end"].strip())
        if row["delete"] or (blank and not row["id"]):
            continue
        number = i + 1
        phase_id = int(row["id"]) if row["id"].isdigit() else None
        if row["kind"] not in PhaseKind.values:
            errors[prefix + "kind"] = [_("Ligne %(n)s : choisissez le type de phase.") % {"n": number}]
        dates: dict[str, date | None] = {}
        for key, label in (("start", _("début")), ("end", _("fin"))):
            try:
                dates[key] = _parse_date(row[key])
            except ValueError:
                dates[key] = None
                errors[prefix + key] = [
                    _("Ligne %(n)s : date de %(which)s illisible (jj/mm/aaaa attendu).")
                    % {"n": number, "which": label}
                ]
                continue
            if dates[key] is None:
                errors[prefix + key] = [
                    _("Ligne %(n)s : indiquez la date de %(which)s.") % {"n": number, "which": label}
                ]
        if prefix + "kind" in errors or dates.get("start") is None or dates.get("end") is None:
            continue
        current = existing.get(phase_id) if phase_id else None
        inputs.append(
            services.PhaseInput(
                id=phase_id,
                kind=row["kind"],
                title=row["title"],
                description=current.description if current else "",
                start_date=dates["start"],  # type: ignore[arg-type]
                end_date=dates["end"],  # type: ignore[arg-type]
                allows_contributions=row["contributions"],
                allows_supports=row["supports"],
            )
        )
    return inputs, errors


def _mark_rows(rows: list[dict[str, Any]], messages_: list[str]) -> None:
    """Rows named in the service's messages (« Concertation préalable » …) are flagged on the page."""
    for row in rows:
        label = row["title"].strip() or (
            str(PhaseKind(row["kind"]).label) if row["kind"] in PhaseKind.values else ""
        )
        row["invalid"] = bool(label) and any(f"« {label} »" in m for m in messages_)


@require_http_methods(["GET", "POST"])
@project_view(manage=True)
def calendar(request: HttpRequest, project: Project) -> HttpResponse:
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        status = 400
        rows = _posted_rows(request)
        existing = {p.pk: p for p in project.phases.all()}
        inputs, errors = _phase_inputs(rows, existing)
        if not errors:
            try:
                saved = services.phases_replace(project=project, actor=request.user, phases=inputs)
            except (ValidationFailed, Conflict) as exc:
                errors, status = _errors_of(exc, "phases"), exc.status
            else:
                messages.success(
                    request,
                    ngettext(
                        "Calendrier enregistré : %(count)s phase.",
                        "Calendrier enregistré : %(count)s phases.",
                        len(saved),
                    )
                    % {"count": len(saved)},
                )
                return redirect("web:planning-calendar", project.slug)
        _mark_rows(rows, [m for items in errors.values() for m in items])
        for key, items in errors.items():
            match = re.fullmatch(r"phases-(\d+)-(\w+)", key)
            if match and int(match.group(1)) < len(rows):
                row = rows[int(match.group(1))]
                row["invalid"] = True
                row.setdefault("errors", {})[match.group(2)] = items
    else:
        rows = _phase_rows(project)
    summary: list[tuple[str, str]] = []
    for key, items in errors.items():
        anchor = key if key.startswith("phases-") and "[" not in key else "calendar-table"
        summary.extend((anchor, m) for m in items)
    context = _context(
        request,
        project,
        "calendar",
        rows=rows,
        blank_row=_blank_row(),
        kinds=PhaseKind.choices,
        errors=errors,
        summary=summary,
        table_errors=[m for k, items in errors.items() if not k.startswith("phases-") for m in items],
        can_publish=project.status == ProjectStatus.DRAFT,
    )
    return render(request, "web/planning/calendar.html", context, status=status)


# --- layers ----------------------------------------------------------------------------------------

VECTOR_FIELDS = {
    "name",
    "description",
    "file",
    "color",
    "fill_color",
    "weight",
    "legend",
    "source_srid",
    "layer",
}
RASTER_FIELDS = {"name", "description", "file", "legend"}
ANNOTATION_FIELDS = {"layer", "title", "text", "geometry"}
LAYER_FIELDS = {
    "name",
    "color",
    "fill_color",
    "weight",
    "opacity",
    "fill_opacity",
    "label_field",
    "legend",
    "is_published",
}


def _layer_field(key: str) -> str:
    """``style.color`` → ``color``, ``legend[2].label`` → ``legend``, ``replace`` → ``file``."""
    if key.startswith("style."):
        return key.split(".", 1)[1]
    if key.startswith("legend"):
        return "legend"
    return key


def legend_parse(text: str) -> list[dict[str, str]]:
    """One entry a line, « #2e7d32 Espaces verts »; the service checks the rest."""
    entries = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        match = LEGEND_LINE.match(line)
        if match is None:
            raise ValidationFailed(
                {
                    "legend": [
                        _("Légende, ligne %(n)s : « #2e7d32 Espaces verts » attendu (couleur puis libellé).")
                        % {"n": number}
                    ]
                }
            )
        entries.append({"color": match.group(1).lower(), "label": match.group(2)})
    return entries


def legend_text(legend: list[dict[str, str]]) -> str:
    return "\n".join(f"{entry.get('color', '')} {entry.get('label', '')}" for entry in legend or [])


def _number(raw: str, field: str) -> float | None:
    text = (raw or "").strip().replace(",", ".")
    if not text:
        return None
    try:
        return float(text)
    except ValueError as exc:
        raise ValidationFailed({field: [_("Nombre attendu.")]}) from exc


def _style_from(
    request: HttpRequest, keys: tuple[str, ...], base: dict[str, Any] | None = None
) -> dict[str, Any]:
    style: dict[str, Any] = dict(base or {})
    for key in keys:
        if key not in request.POST:
            continue
        raw = request.POST.get(key, "")
        if key in ("weight", "opacity", "fill_opacity"):
            style[key] = _number(raw, key)
        else:
            style[key] = raw.strip() or None
    return style


def _annotations_geojson(project: Project) -> dict[str, Any]:
    features = []
    for feature in LayerFeature.objects.filter(
        layer__project=project, layer__kind=LayerKind.ANNOTATION
    ).select_related("layer")[:2000]:
        features.append(
            {
                "type": "Feature",
                "geometry": json.loads(feature.geom.geojson),
                "properties": {"title": feature.title, "layer": feature.layer.name},
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _raster_status(layer: Layer) -> dict[str, Any]:
    label = RasterStatus(layer.raster_status).label if layer.raster_status in RasterStatus.values else ""
    return {
        "id": layer.pk,
        "name": layer.name,
        "status": layer.raster_status,
        "label": str(label),
        "error": layer.raster_error,
    }


def _layers_context(request: HttpRequest, project: Project, **extra: Any) -> dict[str, Any]:
    layers = list(project.layers.annotate(feature_count=Count("features")).order_by("position", "pk"))
    annotation_layers = [layer for layer in layers if layer.kind == LayerKind.ANNOTATION]
    failed_errors = extra.get("errors", {})
    rows = []
    for layer in layers:
        rows.append(
            {
                "layer": layer,
                "key": str(layer.pk),
                "errors": failed_errors.get(f"layer-{layer.pk}", {}),
                "kind_label": LayerKind(layer.kind).label,
                "raster": _raster_status(layer) if layer.kind == LayerKind.RASTER else None,
                "legend_text": legend_text(layer.legend),
                "fields": layer_services.layer_attribute_names(layer)
                if layer.kind == LayerKind.VECTOR
                else [],
                "annotations": list(layer.features.order_by("-created_at")[:200])
                if layer.kind == LayerKind.ANNOTATION
                else [],
            }
        )
    extra.setdefault("values", {})
    return _context(
        request,
        project,
        "layers",
        rows=rows,
        annotation_layers=annotation_layers,
        pending=any(r["raster"] and r["raster"]["status"] == RasterStatus.PENDING for r in rows),
        map_data={
            "perimeter": _geojson(project.perimeter),
            "annotations": _annotations_geojson(project),
            "statusUrl": reverse("web:planning-layers-status", args=[project.slug]),
        },
        vector_max_mb=settings.URBANISME_VECTOR_MAX_BYTES // (1024 * 1024),
        raster_max_mb=settings.URBANISME_RASTER_MAX_BYTES // (1024 * 1024),
        default_style=layer_services.DEFAULT_STYLE,
        **extra,
    )


@require_GET
@project_view(manage=True)
def layers(request: HttpRequest, project: Project) -> HttpResponse:
    return render(request, "web/planning/layers.html", _layers_context(request, project))


@require_GET
@project_view(manage=True)
def layers_status(request: HttpRequest, project: Project) -> HttpResponse:
    """The raster layers' conversion status, for the page that updates itself (never cached)."""
    rows = [
        _raster_status(layer)
        for layer in project.layers.filter(kind=LayerKind.RASTER).order_by("position", "pk")
    ]
    response = JsonResponse({"layers": rows})
    response["Cache-Control"] = "no-store"
    return response


def _vector(request: HttpRequest, project: Project) -> str:
    upload = request.FILES.get("file")
    if upload is None:
        raise ValidationFailed({"file": [_("Choisissez un fichier GeoJSON, Shapefile zippé ou GeoPackage.")]})
    srid_raw = request.POST.get("source_srid", "").strip().upper().removeprefix("EPSG:")
    if srid_raw and not srid_raw.isdigit():
        raise ValidationFailed({"source_srid": [_("Code EPSG attendu, par exemple 2154 (Lambert-93).")]})
    style = _style_from(request, ("color", "fill_color", "weight"))
    result = layer_services.vector_layer_import(
        project=project,
        actor=request.user,
        path_or_upload=upload,
        name=request.POST.get("name", ""),
        description=request.POST.get("description", ""),
        style={k: v for k, v in style.items() if v is not None},
        legend=legend_parse(request.POST.get("legend", "")),
        layer=request.POST.get("layer", "").strip() or None,
        source_srid=int(srid_raw) if srid_raw else None,
    )
    for warning in result.warnings:
        messages.warning(request, warning)
    return ngettext(
        "Couche « %(name)s » importée : %(count)s objet (%(crs)s).",
        "Couche « %(name)s » importée : %(count)s objets (%(crs)s).",
        result.features,
    ) % {"name": result.layer.name, "count": result.features, "crs": result.crs}


def _raster(request: HttpRequest, project: Project) -> str:
    upload = request.FILES.get("file")
    if upload is None:
        raise ValidationFailed({"file": [_("Choisissez une image GeoTIFF géoréférencée.")]})
    layer = rasters.raster_upload(
        project=project,
        actor=request.user,
        upload=upload,
        name=request.POST.get("name", ""),
        description=request.POST.get("description", ""),
        legend=legend_parse(request.POST.get("legend", "")),
    )
    return _("Image « %(name)s » reçue : conversion en cours. Elle sera affichée une fois prête.") % {
        "name": layer.name
    }


def _annotation_geometry(raw: str) -> dict[str, Any]:
    text = (raw or "").strip()
    if not text:
        raise ValidationFailed(
            {"geometry": [_("Dessinez la forme sur la carte ou collez sa géométrie GeoJSON.")]}
        )
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValidationFailed(
            {"geometry": [_("GeoJSON illisible : vérifiez les accolades et les virgules.")]}
        ) from exc
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        features = data.get("features") or []
        if len(features) != 1:
            raise ValidationFailed({"geometry": [_("Une seule forme à la fois, s'il vous plaît.")]})
        data = features[0]
    if isinstance(data, dict) and data.get("type") == "Feature":
        data = data.get("geometry")
    if not isinstance(data, dict):
        raise ValidationFailed(
            {"geometry": [_("Géométrie GeoJSON attendue (Point, LineString ou Polygon).")]}
        )
    return data


def _annotation(request: HttpRequest, project: Project) -> str:
    geometry = _annotation_geometry(request.POST.get("geometry", ""))
    wanted = request.POST.get("layer", "")
    if wanted:
        layer = project.layers.filter(
            pk=int(wanted) if wanted.isdigit() else 0, kind=LayerKind.ANNOTATION
        ).first()
        if layer is None:
            raise ValidationFailed({"layer": [_("Couche d'annotations inconnue.")]})
    else:
        layer = layer_services.annotation_layer_get_or_create(project)  # the page checked the rights
    feature = layer_services.annotation_add(
        layer=layer,
        actor=request.user,
        geometry=geometry,
        title=request.POST.get("title", ""),
        text=request.POST.get("text", ""),
    )
    return _("Annotation « %(title)s » ajoutée à « %(layer)s ».") % {
        "title": feature.title,
        "layer": layer.name,
    }


LAYER_ACTIONS: dict[str, tuple[Callable[[HttpRequest, Project], str], set[str]]] = {
    "vecteur": (_vector, VECTOR_FIELDS),
    "image": (_raster, RASTER_FIELDS),
    "annotation": (_annotation, ANNOTATION_FIELDS),
}


def _layers_failed(
    request: HttpRequest,
    project: Project,
    key: str,
    errors: dict[str, list[str]],
    known: set[str],
    status: int,
) -> HttpResponse:
    context = _layers_context(
        request,
        project,
        errors={key: errors},
        failed=key,
        values={key: request.POST},
        summary=_summary(errors, prefix=f"{key}-", known=known, fallback=f"form-{key}"),
    )
    return render(request, "web/planning/layers.html", context, status=status)


@require_POST
@project_view(manage=True)
def layers_action(request: HttpRequest, project: Project, action: str) -> HttpResponse:
    if action not in LAYER_ACTIONS:
        raise Http404(_("Action inconnue."))
    handler, known = LAYER_ACTIONS[action]
    try:
        done = handler(request, project)
    except (ValidationFailed, Conflict) as exc:
        errors = _flatten(_errors_of(exc, "file"), _layer_field)
        return _layers_failed(request, project, action, errors, known, exc.status)
    messages.success(request, done)
    anchor = "annotations" if action == "annotation" else "layers-list"
    return redirect(reverse("web:planning-layers", args=[project.slug]) + f"#{anchor}")


@require_POST
@project_view(manage=True)
def layer_action(request: HttpRequest, project: Project, pk: int, action: str) -> HttpResponse:
    layer = project.layers.filter(pk=pk).first()
    if layer is None or action not in ("modifier", "supprimer"):
        raise Http404(_("Couche introuvable."))
    key = f"layer-{layer.pk}"
    try:
        if action == "supprimer":
            name = layer.name
            layer_services.layer_delete(layer=layer, actor=request.user)
            messages.success(request, _("Couche « %(name)s » supprimée.") % {"name": name})
            return redirect(reverse("web:planning-layers", args=[project.slug]) + "#layers-list")
        keys = ("opacity",) if layer.kind == LayerKind.RASTER else (
            "color", "fill_color", "weight", "opacity", "fill_opacity", "label_field"
        )  # fmt: skip
        layer = layer_services.layer_update(
            layer=layer,
            actor=request.user,
            name=request.POST.get("name", ""),
            style=_style_from(request, keys, base=layer.style),
            legend=legend_parse(request.POST.get("legend", "")),
            is_published=bool(request.POST.get("is_published")),
        )
    except (ValidationFailed, Conflict) as exc:
        errors = _flatten(_errors_of(exc), _layer_field)
        return _layers_failed(request, project, key, errors, LAYER_FIELDS, exc.status)
    messages.success(request, _("Couche « %(name)s » enregistrée.") % {"name": layer.name})
    return redirect(reverse("web:planning-layers", args=[project.slug]) + f"#{key}")


@require_POST
@project_view(manage=True)
def annotation_delete(request: HttpRequest, project: Project, pk: int) -> HttpResponse:
    feature = LayerFeature.objects.filter(
        pk=pk, layer__project=project, layer__kind=LayerKind.ANNOTATION
    ).first()
    if feature is None:
        raise Http404(_("Annotation introuvable."))
    title = feature.title
    layer_services.annotation_delete(feature=feature, actor=request.user)
    messages.success(request, _("Annotation « %(title)s » supprimée.") % {"title": title})
    return redirect(reverse("web:planning-layers", args=[project.slug]) + "#annotations")


# --- moderation ------------------------------------------------------------------------------------

QUEUE_FILTERS = ("", Visibility.PENDING, Visibility.PUBLISHED, Visibility.HIDDEN)


def _moderation_context(
    request: HttpRequest, project: Project, params: QueryDict | None = None, **extra: Any
) -> dict[str, Any]:
    params = request.GET if params is None else params
    wanted = params.get("etat", "")
    state = wanted if wanted in QUEUE_FILTERS else ""
    queue = selectors.moderation_queue(project).prefetch_related(
        Prefetch("replies", queryset=Reply.objects.order_by("created_at"))
    )
    if state:
        queue = queue.filter(visibility=state)
    page = Paginator(queue, PAGE_SIZE).get_page(params.get("page") or 1)
    items = list(page.object_list)
    failed = re.fullmatch(r"([cr])(\d+)-(\w+)", extra.get("failed", ""))
    failed_errors = [
        m for items_ in extra.get("errors", {}).values() for field in items_.values() for m in field
    ]
    for item in items:  # the refused form of the page, shown open with its errors
        pairs: list[tuple[str, Any]] = [("c", item), *(("r", reply) for reply in item.replies.all())]
        for kind, thing in pairs:
            hit = failed is not None and failed.group(1) == kind and int(failed.group(2)) == thing.pk
            thing.failed_action = failed.group(3) if hit and failed else ""
            thing.failed_errors = failed_errors if hit else []
        visible = item.visibility != Visibility.PENDING and project.status != ProjectStatus.DRAFT
        shown_item: Any = item  # the page's extra attributes
        shown_item.public_url = _contribution_url(project, item) if visible else ""
    personal = permissions.can_view_personal_data(request.user, project)
    shown = [c for c in items if getattr(c, "author", None) is not None and (c.author.name or c.author.email)]
    if personal and shown:  # one row per author shown, before the page is rendered
        personal_data_accessed(
            user=request.user,
            topic=[f"contribution:{c.pk}" for c in shown],
            fields=["name", "email"],
            reason="web:planning-moderation",
        )
    counts = dict(
        Contribution.objects.filter(project=project)
        .values_list("visibility")
        .annotate(n=Count("pk"))
        .values_list("visibility", "n")
    )
    query = params.copy()
    query.pop("page", None)
    return _context(
        request,
        project,
        "moderation",
        page=page,
        items=items,
        personal=personal,
        state=state,
        filters=[
            ("", _("Toutes"), sum(counts.values())),
            (Visibility.PENDING, _("En attente"), counts.get(Visibility.PENDING, 0)),
            (Visibility.PUBLISHED, _("Publiées"), counts.get(Visibility.PUBLISHED, 0)),
            (Visibility.HIDDEN, _("Masquées"), counts.get(Visibility.HIDDEN, 0)),
        ],
        themes=list(project.themes.all()),
        query=query.urlencode(),
        return_query=params.urlencode(),
        **{"posted": {}, **extra},
    )


@require_GET
@project_view(manage=False)
def moderation(request: HttpRequest, project: Project) -> HttpResponse:
    return render(request, "web/planning/moderation.html", _moderation_context(request, project))


def _back_to_queue(request: HttpRequest, project: Project, anchor: str) -> HttpResponse:
    kept = QueryDict(request.POST.get("return_query", "")).copy()
    query = urlencode({key: kept[key] for key in ("etat", "page") if kept.get(key)})
    url = reverse("web:planning-moderation", args=[project.slug])
    return redirect(f"{url}?{query}#{anchor}" if query else f"{url}#{anchor}")


def _moderation_failed(request: HttpRequest, project: Project, key: str, exc: UrbanismeError) -> HttpResponse:
    errors = _errors_of(exc)
    summary = [(key, m) for items in errors.values() for m in items]
    params = QueryDict(request.POST.get("return_query", ""))
    context = _moderation_context(
        request, project, params, errors={key: errors}, summary=summary, failed=key, posted=request.POST
    )
    return render(request, "web/planning/moderation.html", context, status=exc.status)


@require_POST
@project_view(manage=False)
def moderation_action(request: HttpRequest, project: Project, pk: int, action: str) -> HttpResponse:
    contribution = Contribution.objects.filter(project=project, pk=pk).first()
    if contribution is None or action not in ("publier", "masquer", "theme", "reponse"):
        raise Http404(_("Contribution introuvable."))
    key = f"c{contribution.pk}-{action}"
    try:
        if action in ("publier", "masquer"):
            contribution = services.contribution_moderate(
                contribution=contribution,
                actor=request.user,
                action="publish" if action == "publier" else "hide",
                reason=request.POST.get("reason", ""),
            )
            done = (
                _("Contribution « %(title)s » publiée.")
                if action == "publier"
                else _("Contribution « %(title)s » masquée (motif public : %(reason)s).")
            ) % {"title": contribution.title, "reason": contribution.hidden_reason}
        elif action == "theme":
            raw = request.POST.get("theme", "")
            contribution = services.contribution_set_theme(
                contribution=contribution, actor=request.user, theme_id=int(raw) if raw.isdigit() else None
            )
            done = _("Thème de « %(title)s » : %(theme)s.") % {
                "title": contribution.title,
                "theme": contribution.theme.name if contribution.theme else _("aucun"),
            }
        else:
            services.official_answer(
                contribution=contribution,
                actor=request.user,
                text=request.POST.get("text", ""),
                pseudonym=request.POST.get("signature", "").strip(),
            )
            done = _("Réponse officielle publiée sous « %(title)s ».") % {"title": contribution.title}
    except (ValidationFailed, Conflict, Closed) as exc:
        return _moderation_failed(request, project, key, exc)
    messages.success(request, done)
    return _back_to_queue(request, project, f"contribution-{contribution.pk}")


@require_POST
@project_view(manage=False)
def reply_action(request: HttpRequest, project: Project, pk: int, reply_pk: int, action: str) -> HttpResponse:
    reply = Reply.objects.filter(contribution__project=project, contribution_id=pk, pk=reply_pk).first()
    if reply is None or action not in ("publier", "masquer"):
        raise Http404(_("Réponse introuvable."))
    key = f"r{reply.pk}-{action}"
    try:
        reply = services.reply_moderate(
            reply=reply,
            actor=request.user,
            action="publish" if action == "publier" else "hide",
            reason=request.POST.get("reason", ""),
        )
    except (ValidationFailed, Conflict) as exc:
        return _moderation_failed(request, project, key, exc)
    messages.success(request, _("Réponse publiée.") if action == "publier" else _("Réponse masquée."))
    return _back_to_queue(request, project, f"reply-{reply.pk}")


# --- on-behalf entry -------------------------------------------------------------------------------

ENTRY_FIELDS = {
    "channel",
    "channel_label",
    "phase",
    "spoken_date",
    "spoken_time",
    "kind",
    "theme",
    "title",
    "text",
    "pseudonym",
    "email",
    "where",
    "lat",
    "lon",
}
ENTRY_CHANNELS = [
    (value, label) for value, label in ContributionChannel.choices if value != ContributionChannel.WEB
]


def _entry_phases(project: Project) -> list[Phase]:
    today = timezone.localdate(timezone.now(), PARIS)
    return [
        p for p in project.phases.order_by("start_date") if p.allows_contributions and p.start_date <= today
    ]


def _spoken_at(raw_date: str, raw_time: str) -> datetime | None:
    """The day (and hour) the participant spoke, in Europe/Paris; noon when no hour is given."""
    try:
        day = _parse_date(raw_date)
    except ValueError as exc:
        raise ValidationFailed({"spoken_date": [_("Date illisible (jj/mm/aaaa attendu).")]}) from exc
    if day is None:
        return None
    hour = time(12, 0)
    if (raw_time or "").strip():
        try:
            hour = time.fromisoformat(raw_time.strip())
        except ValueError as exc:
            raise ValidationFailed({"spoken_time": [_("Heure illisible (hh:mm attendu).")]}) from exc
    value = datetime.combine(day, hour, tzinfo=PARIS)
    now = timezone.now()
    if value > now and day == timezone.localdate(now, PARIS) and not (raw_time or "").strip():
        return now  # today, before noon: « now » rather than a future hour
    return value


def _project_scale_geometry(project: Project) -> GEOSGeometry:
    """« À l'échelle du projet »: the perimeter's largest polygon, else a point inside it.

    A contribution holds one point, line or polygon (``geo.shapes``) and has no project-wide flag:
    the perimeter itself says « the whole project » on a map, when the shape rules accept it (size,
    vertices); a large or detailed perimeter falls back to a point on its surface.
    """
    largest = max(project.perimeter, key=lambda polygon: polygon.area)
    largest.srid = STORAGE_SRID
    try:
        return clean_drawn_shape(
            largest, limits=ShapeLimits(max_area_m2=settings.URBANISME_CONTRIBUTION_MAX_AREA_M2)
        ).geometry
    except InvalidGeometry:
        return project.perimeter.point_on_surface


@require_http_methods(["GET", "POST"])
@project_view(manage=False)
def entry(request: HttpRequest, project: Project) -> HttpResponse:
    phases = _entry_phases(project)
    source = request.POST if request.method == "POST" else request.GET
    values = {key: source.get(key, "") for key in ENTRY_FIELDS}
    values["where"] = values["where"] or "point"
    if not values["phase"] and phases:
        values["phase"] = str(phases[-1].pk)
    if not values["spoken_date"]:
        values["spoken_date"] = timezone.localdate(timezone.now(), PARIS).isoformat()
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        try:
            created = _entry_create(request, project, values)
        except (ValidationFailed, Closed, Conflict) as exc:
            errors = _errors_of(exc)
            errors = _flatten(
                errors, lambda key: {"geometry": "where", "created_at": "spoken_date"}.get(key, key)
            )
            status = exc.status
        except NotFound:
            errors = {"form": [_("Publiez le projet avant de saisir des contributions.")]}
            status = 409
        else:
            messages.success(
                request,
                _("Contribution « %(title)s » enregistrée (%(channel)s : %(label)s).")
                % {
                    "title": created.title,
                    "channel": ContributionChannel(created.channel).label,
                    "label": created.channel_label,
                },
            )
            keep = {
                "channel": values["channel"],
                "channel_label": values["channel_label"],
                "phase": values["phase"],
                "spoken_date": values["spoken_date"],
            }
            return redirect(reverse("web:planning-entry", args=[project.slug]) + "?" + urlencode(keep))
    context = _context(
        request,
        project,
        "entry",
        values=values,
        phases=phases,
        channels=ENTRY_CHANNELS,
        kinds=ContributionKind.choices,
        themes=list(project.themes.all()),
        errors=errors,
        summary=_summary(errors, prefix="entry-", known=ENTRY_FIELDS, fallback="entry-form"),
        published=project.status == ProjectStatus.PUBLISHED,
        map_data={"perimeter": _geojson(project.perimeter)},
    )
    return render(request, "web/planning/entry.html", context, status=status)


def _entry_create(request: HttpRequest, project: Project, values: dict[str, str]) -> Contribution:
    errors: dict[str, list[str]] = {}
    if values["channel"] not in dict(ENTRY_CHANNELS):
        errors["channel"] = [_("Choisissez d'où vient la contribution (réunion, registre…).")]
    phase_id = int(values["phase"]) if values["phase"].isdigit() else None
    if phase_id is None:
        errors["phase"] = [_("Choisissez la phase pendant laquelle la contribution a été recueillie.")]
    created_at = None
    try:
        created_at = _spoken_at(values["spoken_date"], values["spoken_time"])
    except ValidationFailed as exc:
        errors.update(exc.errors)
    geometry: Any = None
    if values["where"] == "project":
        geometry = _project_scale_geometry(project)
    else:
        if not values["lat"].strip() or not values["lon"].strip():
            errors["where"] = [
                _(
                    "Placez la contribution sur la carte, saisissez ses coordonnées ou choisissez « À l'échelle du projet »."
                )
            ]
        else:
            try:
                geometry = point_from_lonlat(
                    float(values["lon"].strip().replace(",", ".")),
                    float(values["lat"].strip().replace(",", ".")),
                )
            except ValueError as exc:  # InvalidGeometry is a ValueError too
                message = (
                    str(exc)
                    if isinstance(exc, InvalidGeometry)
                    else _("Coordonnées illisibles : des nombres sont attendus (48,8566).")
                )
                errors["where"] = [message]
    if errors:
        raise ValidationFailed(errors)
    theme = values["theme"]
    return services.contribution_create(
        project=project,
        actor=request.user,
        kind=values["kind"],
        title=values["title"],
        text=values["text"],
        geometry=geometry,
        pseudonym=values["pseudonym"],
        theme_id=int(theme) if theme.isdigit() else None,
        author=services.AuthorInput(email=values["email"], notify=bool(values["email"])),
        channel=values["channel"],
        channel_label=values["channel_label"],
        phase_id=phase_id,
        created_at=created_at,
    )


# --- bilan -----------------------------------------------------------------------------------------


def _bilan_context(request: HttpRequest, project: Project, **extra: Any) -> dict[str, Any]:
    counts = dict(
        Contribution.objects.filter(project=project)
        .values_list("visibility")
        .annotate(n=Count("pk"))
        .values_list("visibility", "n")
    )
    return _context(
        request,
        project,
        "bilan",
        published_count=counts.get(Visibility.PUBLISHED, 0),
        pending_count=counts.get(Visibility.PENDING, 0),
        hidden_count=counts.get(Visibility.HIDDEN, 0),
        followers=ProjectFollower.objects.filter(project=project, confirmed_at__isnull=False).count(),
        public_project=project.status != ProjectStatus.DRAFT,
        conclusion=extra.pop("conclusion", project.bilan_conclusion),
        **extra,
    )


@require_http_methods(["GET", "POST"])
@project_view(manage=True)
def bilan(request: HttpRequest, project: Project) -> HttpResponse:
    if request.method == "POST":
        conclusion = request.POST.get("conclusion", "")
        try:
            services.project_update(project=project, actor=request.user, bilan_conclusion=conclusion)
        except ValidationFailed as exc:
            errors = _flatten(exc.errors, lambda _key: "conclusion")
            context = _bilan_context(
                request,
                project,
                conclusion=conclusion,
                errors=errors,
                summary=_summary(errors, prefix="bilan-", fallback="bilan-conclusion"),
            )
            return render(request, "web/planning/bilan.html", context, status=exc.status)
        if request.POST.get("next") == "publier" and project.bilan_published_at is None:
            return redirect("web:planning-bilan-publish", project.slug)
        messages.success(request, _("Conclusions de l'équipe enregistrées."))
        return redirect("web:planning-bilan", project.slug)
    return render(request, "web/planning/bilan.html", _bilan_context(request, project))


@require_http_methods(["GET", "POST"])
@project_view(manage=True)
def bilan_publish(request: HttpRequest, project: Project) -> HttpResponse:
    """A confirmation step: publishing is final and tells the followers by e-mail."""
    if project.bilan_published_at is not None:
        messages.info(request, _("Le bilan est déjà publié."))
        return redirect("web:planning-bilan", project.slug)
    if request.method == "POST":
        if request.POST.get("confirm") != "oui":
            raise Http404(_("Confirmation manquante."))
        project = services.bilan_publish(project=project, actor=request.user)
        messages.success(request, _("Bilan publié. Les personnes abonnées au projet en sont informées."))
        return redirect("web:planning-bilan", project.slug)
    return render(request, "web/planning/bilan_confirm.html", _bilan_context(request, project))
