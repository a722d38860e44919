"""The bilan de la concertation on the web: JSON, CSV, GeoJSON and a printable HTML page.

Thin views over ``urbanisme.bilan`` (figures, method, map) and ``opendata.exports`` (the anonymised
contribution rows, the CSV and GeoJSON encodings and the licence, so that the bilan's files follow
the open data conventions exactly; this is the one place outside ``config`` that imports
``opendata``).

Who sees what: the bilan of a published (or archived) project is public once
``Project.bilan_published_at`` is set. Before that, everyone else gets a 404 and the project's team
(``permissions.can_moderate_project``) sees a preview marked « brouillon », never cached.
``?phase=<id>`` narrows every output to one phase of the project.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from opendata import exports
from opendata.licence import licence
from urbanisme import permissions
from urbanisme.bilan import (
    PUBLIC_PROJECT_STATUSES,
    Bilan,
    bilan_as_dict,
    bilan_compute,
    bilan_map,
    contribution_areas,
)
from urbanisme.models import Phase, Project
from urbanisme.phases import paris_day

URL_NAMES = {
    "json": "urbanisme-bilan-json",
    "csv": "urbanisme-bilan-csv",
    "geojson": "urbanisme-bilan-geojson",
    "page": "urbanisme-bilan",
}
# Where the main URLconf mounts these views (used only if the names cannot be reversed).
FALLBACK_PATHS = {
    "json": "/api/urbanisme/projets/{slug}/bilan/",
    "csv": "/api/urbanisme/projets/{slug}/bilan.csv",
    "geojson": "/api/urbanisme/projets/{slug}/bilan.geojson",
    "page": "/projets/{slug}/bilan/",
}


class _NotFound(Exception):
    pass


@dataclass(frozen=True)
class _Access:
    project: Project
    phase: Phase | None
    preview: bool  # the team looking at a bilan the public cannot see yet


def _access(request: HttpRequest, slug: str) -> _Access:
    """The project and phase asked for, or :class:`_NotFound` (existence leaks nothing)."""
    project = Project.objects.select_related("organisation").filter(slug=slug).first()
    if project is None:
        raise _NotFound
    public = project.status in PUBLIC_PROJECT_STATUSES and project.bilan_published_at is not None
    if not public and not permissions.can_moderate_project(request.user, project):
        raise _NotFound
    phase = None
    wanted = request.GET.get("phase", "")
    if wanted:
        if not wanted.isdigit():
            raise _NotFound
        phase = Phase.objects.filter(project=project, pk=int(wanted)).first()
        if phase is None:
            raise _NotFound
    return _Access(project, phase, preview=not public)


def _granularity(request: HttpRequest) -> str | None:
    value = request.GET.get("granularity")
    return value if value in ("day", "week") else None


def _private(response: HttpResponse, access: _Access) -> HttpResponse:
    if access.preview:
        response["Cache-Control"] = "private, no-store"
        response["X-Robots-Tag"] = "noindex"
    return response


def _link(request: HttpRequest, what: str, access: _Access, *, absolute: bool = False) -> str:
    slug = access.project.slug
    try:
        path = reverse(URL_NAMES[what], kwargs={"slug": slug})
    except NoReverseMatch:
        path = FALLBACK_PATHS[what].format(slug=slug)
    if access.phase is not None:
        path = f"{path}?phase={access.phase.pk}"
    return request.build_absolute_uri(path) if absolute else path


def _json_not_found() -> JsonResponse:
    return JsonResponse({"code": "introuvable", "message": _("Bilan introuvable.")}, status=404)


# --- files -----------------------------------------------------------------------------------------


def _dataset(access: _Access) -> exports.Dataset:
    """The published contributions of the bilan's scope, as the ``contributions`` open data rows
    plus the zones that contain each one."""
    project, phase = access.project, access.phase
    contributions = exports.public_contributions().filter(project=project)
    if access.preview:  # the team previews a project that may not be public yet
        contributions = project.contributions.all()
    if phase is not None:
        contributions = contributions.filter(phase=phase)
    fields = [*exports.CONTRIBUTION_FIELDS]
    fields.insert(len(fields) - 2, exports.ZONES_FIELD)

    def rows() -> Any:
        zones = contribution_areas(project, phase=phase).zones_of()
        return exports.contribution_rows(contributions, zones=zones)

    scope = phase.label if phase is not None else _("tout le projet")
    return exports.Dataset(
        name=f"bilan-{project.slug}" + (f"-phase-{phase.pk}" if phase is not None else ""),
        title=_("Bilan de la concertation : %(project)s (%(scope)s)")
        % {"project": project.title, "scope": scope},
        description=_(
            "Contributions publiées, anonymisées : sans titre ni texte, sans pseudonyme ni auteur. Les "
            "répartitions, les soutiens et les réponses du bilan peuvent être recalculés à partir de ces "
            "lignes. Source : %(organisation)s."
        )
        % {"organisation": project.organisation.name},
        fields=fields,
        rows=rows,
        primary_key="id",
    )


@require_safe
def bilan_json(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        access = _access(request, slug)
    except _NotFound:
        return _json_not_found()
    bilan = bilan_compute(access.project, phase=access.phase, granularity=_granularity(request))
    dataset = _dataset(access)
    body = {
        **bilan_as_dict(bilan),
        "draft": access.preview,
        "license": licence(),
        "attribution": access.project.organisation.name,
        "links": {
            "self": _link(request, "json", access, absolute=True),
            "html": _link(request, "page", access, absolute=True),
            "csv": _link(request, "csv", access, absolute=True),
            "geojson": _link(request, "geojson", access, absolute=True),
        },
        "csv_schema": dataset.schema(),
    }
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False), content_type="application/json; charset=utf-8"
    )
    return _private(response, access)


def _file(request: HttpRequest, slug: str, fmt: str) -> HttpResponse:
    try:
        access = _access(request, slug)
    except _NotFound:
        return _json_not_found()
    dataset = _dataset(access)
    media, encode = exports.FORMATS[fmt]
    response = HttpResponse("".join(encode(dataset)), content_type=f"{media}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{dataset.name}.{fmt}"'
    return _private(response, access)


@require_safe
def bilan_csv(request: HttpRequest, slug: str) -> HttpResponse:
    return _file(request, slug, "csv")


@require_safe
def bilan_geojson(request: HttpRequest, slug: str) -> HttpResponse:
    return _file(request, slug, "geojson")


# --- the page --------------------------------------------------------------------------------------

CHART_WIDTH = 800
CHART_HEIGHT = 160


def _timeline_chart(bilan: Bilan) -> dict[str, Any] | None:
    """Bars of the participation series for an SVG (the table beside it carries the numbers)."""
    periods = bilan.participation.periods
    if not periods:
        return None
    top = max(p.count for p in periods) or 1
    step = CHART_WIDTH / len(periods)
    bars = []
    for index, period in enumerate(periods):
        height = round(period.count / top * (CHART_HEIGHT - 20), 1)
        bars.append(
            {
                "x": round(index * step + step * 0.1, 1),
                "y": round(CHART_HEIGHT - height, 1),
                "width": round(step * 0.8, 1),
                "height": height,
                "period": period,
            }
        )
    return {"width": CHART_WIDTH, "height": CHART_HEIGHT, "bars": bars, "max": top}


@require_safe
def bilan_page(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        access = _access(request, slug)
    except _NotFound as exc:
        raise Http404(_("Bilan introuvable.")) from exc
    project = access.project
    bilan = bilan_compute(project, phase=access.phase, granularity=_granularity(request))
    context = {
        "project": project,
        "phase": access.phase,
        "preview": access.preview,
        "bilan": bilan,
        "map": bilan_map(project, phase=access.phase, now=bilan.computed_at),
        "chart": _timeline_chart(bilan),
        "phase_titles": {p.id: p.label for p in bilan.phases},
        "computed_day": paris_day(bilan.computed_at),
        "licence": licence(),
        "links": {what: _link(request, what, access) for what in ("json", "csv", "geojson")},
        "links_absolute": {
            what: _link(request, what, access, absolute=True) for what in ("csv", "geojson", "page")
        },
        "page_path": _link(request, "page", _Access(project, None, access.preview)),
    }
    response = render(request, "urbanisme/bilan.html", context)
    return _private(response, access)
