"""The open data index and the live (streamed) exports."""

from __future__ import annotations

import json

from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from opendata import exports
from opendata.licence import licence


@require_safe
def index(request: HttpRequest) -> HttpResponse:
    """Datasets, their files (daily export: sizes, dates), live URLs, schema and licence."""
    datasets = []
    for dataset in exports.DATASETS.values():
        files = exports.files_of(dataset)
        for item in files:
            item["url"] = request.build_absolute_uri(item.pop("path"))
        datasets.append(
            {
                "name": dataset.name,
                "title": str(dataset.title),
                "description": str(dataset.description),
                "license": licence(),
                "schema": request.build_absolute_uri(reverse("opendata:schema", args=[dataset.name])),
                "live": {
                    fmt: request.build_absolute_uri(reverse("opendata:export", args=[dataset.name, fmt]))
                    for fmt in exports.FORMATS
                },
                "files": files,
            }
        )
    body = {
        "title": _("Concerto : données ouvertes"),
        "license": licence(),
        "ogcapi": request.build_absolute_uri(reverse("ogc:landing")),
        "datasets": datasets,
    }
    return HttpResponse(json.dumps(body, ensure_ascii=False), content_type="application/json; charset=utf-8")


def _dataset(name: str) -> exports.Dataset:
    dataset = exports.DATASETS.get(name)
    if dataset is None:
        raise Http404(_("Jeu de données inconnu."))
    return dataset


@require_safe
def schema(request: HttpRequest, name: str) -> HttpResponse:
    return HttpResponse(
        json.dumps(_dataset(name).schema(), ensure_ascii=False, indent=2),
        content_type="application/json; charset=utf-8",
    )


@require_safe
def export(request: HttpRequest, name: str, fmt: str) -> StreamingHttpResponse:
    dataset = _dataset(name)
    if fmt not in exports.FORMATS:
        raise Http404(_("Format inconnu."))
    media, encode = exports.FORMATS[fmt]
    response = StreamingHttpResponse(
        (chunk.encode("utf-8") for chunk in encode(dataset)), content_type=f"{media}; charset=utf-8"
    )
    response["Content-Disposition"] = f'inline; filename="{dataset.name}.{fmt}"'
    return response
