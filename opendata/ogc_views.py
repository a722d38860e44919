"""OGC API – Features, Part 1 Core, GeoJSON encoding, over the declared collections.

Thin views: parse the parameters (``opendata.ogc``), read one page of a collection's public
queryset (one statement for the page, one for ``numberMatched``, plus a declared prefetch), render.
Geometries are stored in EPSG:4326 lon/lat, which is CRS84 order: no transformation is needed.
Every link is absolute, built from the request, so that clients (GDAL, QGIS) follow them as given.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from django.contrib.gis.db.models import Extent
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Max, Min
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from opendata import openapi
from opendata.collections import REGISTRY, Collection
from opendata.licence import licence
from opendata.ogc import (
    CONFORMANCE,
    CRS84,
    OGCError,
    parse_bbox,
    parse_datetime,
    parse_format,
    parse_limit,
    parse_offset,
)

JSON = "application/json"
GEOJSON = "application/geo+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"


def _respond(data: Any, *, content_type: str = JSON, status: int = 200) -> HttpResponse:
    return HttpResponse(
        json.dumps(data, ensure_ascii=False, cls=DjangoJSONEncoder),
        content_type=f"{content_type}; charset=utf-8",
        status=status,
    )


def _error(exc: OGCError) -> HttpResponse:
    return _respond(exc.as_json(), status=exc.status)


def _not_found(description: str) -> HttpResponse:
    return _error(OGCError(description, code="NotFound", status=404))


def _url(request: HttpRequest, name: str, *args: str, query: dict[str, Any] | None = None) -> str:
    path = reverse(name, args=args)
    if query:
        path = f"{path}?{urlencode(query)}"
    return request.build_absolute_uri(path)


def _link(href: str, rel: str, type_: str, title: str | None = None) -> dict[str, str]:
    link = {"href": href, "rel": rel, "type": type_}
    if title:
        link["title"] = title
    return link


def _collection(request: HttpRequest, name: str) -> Collection | None:
    return REGISTRY.get(name)


@require_safe
def landing(request: HttpRequest) -> HttpResponse:
    try:
        parse_format(request.GET.get("f"))
    except OGCError as exc:
        return _error(exc)
    return _respond(
        {
            "title": _("Concerto : données ouvertes (OGC API – Features)"),
            "description": _(
                "Signalements publics, zones de compétence, territoires, projets urbains, contributions "
                "aux concertations et couches des projets, en GeoJSON."
            ),
            "links": [
                _link(_url(request, "ogc:landing"), "self", JSON, _("Cette page")),
                _link(_url(request, "ogc:openapi"), "service-desc", OPENAPI, _("Définition de l'API")),
                _link(_url(request, "ogc:conformance"), "conformance", JSON, _("Conformité")),
                _link(_url(request, "ogc:collections"), "data", JSON, _("Collections")),
                _link(licence()["path"], "license", "text/html", licence()["title"]),
            ],
        }
    )


@require_safe
def conformance(request: HttpRequest) -> HttpResponse:
    return _respond({"conformsTo": CONFORMANCE})


@require_safe
def openapi_document(request: HttpRequest) -> HttpResponse:
    return _respond(
        openapi.document(request.build_absolute_uri(reverse("ogc:landing"))), content_type=OPENAPI
    )


def _extent(collection: Collection) -> dict[str, Any]:
    aggregates: dict[str, Any] = {"bbox": Extent(collection.geometry_field)}
    if collection.temporal_field:
        aggregates["t_min"] = Min(collection.temporal_field)
        aggregates["t_max"] = Max(collection.temporal_field)
    values = collection.counting().aggregate(**aggregates)
    bbox = values["bbox"]
    extent: dict[str, Any] = {
        "spatial": {"bbox": [list(bbox) if bbox else [-180.0, -90.0, 180.0, 90.0]], "crs": CRS84}
    }
    if collection.temporal_field:
        t_min, t_max = values["t_min"], values["t_max"]
        extent["temporal"] = {
            "interval": [[t_min.isoformat() if t_min else None, t_max.isoformat() if t_max else None]],
            "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
        }
    return extent


def _collection_json(request: HttpRequest, collection: Collection) -> dict[str, Any]:
    return {
        "id": collection.id,
        "title": str(collection.title),
        "description": str(collection.description),
        "itemType": "feature",
        "crs": [CRS84],
        "extent": _extent(collection),
        "license": licence()["name"],
        "links": [
            _link(_url(request, "ogc:collection", collection.id), "self", JSON, str(collection.title)),
            _link(_url(request, "ogc:items", collection.id), "items", GEOJSON, _("Objets")),
            _link(licence()["path"], "license", "text/html", licence()["title"]),
        ],
    }


@require_safe
def collections(request: HttpRequest) -> HttpResponse:
    try:
        parse_format(request.GET.get("f"))
    except OGCError as exc:
        return _error(exc)
    return _respond(
        {
            "links": [_link(_url(request, "ogc:collections"), "self", JSON, _("Collections"))],
            "collections": [_collection_json(request, c) for c in REGISTRY.values()],
        }
    )


@require_safe
def collection(request: HttpRequest, collection_id: str) -> HttpResponse:
    found = _collection(request, collection_id)
    if found is None:
        return _not_found(_("Collection inconnue : %(id)s.") % {"id": collection_id})
    return _respond(_collection_json(request, found))


def _feature(collection: Collection, obj: Any) -> dict[str, Any]:
    geom = getattr(obj, collection.geometry_field)
    return {
        "type": "Feature",
        "id": collection.feature_id(obj),
        "geometry": json.loads(geom.json) if geom is not None else None,
        "properties": collection.properties(obj),
    }


@require_safe
def items(request: HttpRequest, collection_id: str) -> HttpResponse:
    found = _collection(request, collection_id)
    if found is None:
        return _not_found(_("Collection inconnue : %(id)s.") % {"id": collection_id})
    params = request.GET
    try:
        parse_format(params.get("f"))
        bbox = parse_bbox(params.get("bbox"))
        interval = parse_datetime(params.get("datetime"))
        limit = parse_limit(params.get("limit"))
        offset = parse_offset(params.get("offset"))
    except OGCError as exc:
        return _error(exc)

    def filtered(qs: Any) -> Any:
        if bbox is not None:
            qs = qs.filter(**{f"{found.geometry_field}__intersects": bbox})
        if interval is not None and found.datetime_filter is not None:
            qs = found.datetime_filter(qs, interval)
        return qs

    matched = filtered(found.counting()).count()
    page = list(filtered(found.queryset()).order_by(*found.ordering)[offset : offset + limit])
    features = [_feature(found, obj) for obj in page]

    # Links keep every parameter the client sent (unknown ones too), with the effective limit.
    base = {key: params.get(key) for key in params if key not in ("offset", "limit")}
    base["limit"] = str(limit)

    def items_url(**extra: Any) -> str:
        return _url(request, "ogc:items", found.id, query={**base, **extra})

    links = [
        _link(items_url(offset=offset), "self", GEOJSON, _("Cette page")),
        _link(items_url(offset=offset, f="json"), "alternate", JSON, _("Cette page en JSON")),
        _link(_url(request, "ogc:collection", found.id), "collection", JSON, str(found.title)),
    ]
    if offset + len(page) < matched:
        links.append(_link(items_url(offset=offset + limit), "next", GEOJSON, _("Page suivante")))
    if offset > 0:
        links.append(_link(items_url(offset=max(offset - limit, 0)), "prev", GEOJSON, _("Page précédente")))
    return _respond(
        {
            "type": "FeatureCollection",
            "features": features,
            "numberMatched": matched,
            "numberReturned": len(features),
            "timeStamp": timezone.now().replace(microsecond=0).isoformat().replace("+00:00", "Z"),
            "links": links,
        },
        content_type=GEOJSON,
    )


@require_safe
def item(request: HttpRequest, collection_id: str, feature_id: str) -> HttpResponse:
    found = _collection(request, collection_id)
    if found is None:
        return _not_found(_("Collection inconnue : %(id)s.") % {"id": collection_id})
    try:
        parse_format(request.GET.get("f"))
    except OGCError as exc:
        return _error(exc)
    obj = found.lookup(found.queryset(), feature_id).first()
    if obj is None:
        return _not_found(_("Objet inconnu : %(id)s.") % {"id": feature_id})
    feature = _feature(found, obj)
    feature["links"] = [
        _link(_url(request, "ogc:item", found.id, feature_id), "self", GEOJSON),
        _link(_url(request, "ogc:collection", found.id), "collection", JSON, str(found.title)),
    ]
    return _respond(feature, content_type=GEOJSON)
