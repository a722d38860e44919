"""The planning layers API of a project: thin views over ``urbanisme.layers`` and ``urbanisme.rasters``.

Included under ``api/urbanisme/projets/<slug>/`` (``urbanisme.layer_urls``). Reading is public for
published layers of published projects; the project team (``can_manage_project``) also sees
drafts and unpublished layers, and writes. Tiles are linked, not imported: vector and annotation
layers are drawn by the ``planning`` tile layer filtered on the layer's id, rasters by
``/tiles/raster/couche-<id>/`` once their COG is ready.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.gis.db.models.functions import AsGeoJSON
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions as drf_permissions
from rest_framework import serializers
from rest_framework import status as http
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from urbanisme import layers, permissions, rasters
from urbanisme.errors import NotFound, ValidationFailed
from urbanisme.models import Layer, LayerFeature, LayerKind, Project, ProjectStatus, RasterStatus

# The tile layer of tiles/layers.py that draws vector and annotation layers (filter ``layer``).
PLANNING_TILE_LAYER = "planning"
# The GeoJSON of a layer's detail stops here; the tiles draw any number of features.
MAX_FEATURES_IN_API = 5000


class LayerErrorSerializer(serializers.Serializer):
    """The one error shape of ``config.api_errors`` (documentation only)."""

    code = serializers.CharField()
    message = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)


def _errors(*statuses: int) -> dict[int, OpenApiResponse]:
    meaning = {
        400: gettext_lazy("Données invalides (style, légende, champs)"),
        403: gettext_lazy("Réservé à l'équipe du projet"),
        404: gettext_lazy("Projet ou couche introuvable (ou non publié)"),
        409: gettext_lazy("Opération impossible sur ce type de couche"),
        413: gettext_lazy("Fichier trop volumineux"),
        422: gettext_lazy("Fichier refusé : format, géoréférencement, géométrie, hors de la zone du projet"),
    }
    return {code: OpenApiResponse(LayerErrorSerializer, description=meaning[code]) for code in statuses}


class LayerCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=LayerKind.choices)
    name = serializers.CharField(required=False, allow_blank=True, max_length=1000)
    description = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    file = serializers.FileField(required=False, help_text="GeoJSON, Shapefile zippé, GeoPackage ou GeoTIFF")
    style = serializers.JSONField(required=False, help_text="objet JSON (ou son texte en multipart)")
    legend = serializers.JSONField(required=False, help_text="liste [{label, color, shape}]")
    layer = serializers.CharField(
        required=False, allow_blank=True, help_text="couche du fichier (GeoPackage)"
    )
    source_srid = serializers.IntegerField(required=False, min_value=1, max_value=999_999)
    label_field = serializers.CharField(required=False, allow_blank=True)
    replace = serializers.SlugField(required=False, help_text="couche vecteur dont les objets sont remplacés")


class LayerUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=1000)
    description = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    style = serializers.JSONField(required=False)
    legend = serializers.JSONField(required=False)
    position = serializers.IntegerField(required=False, min_value=0, max_value=1000)
    is_published = serializers.BooleanField(required=False)


class AnnotationSerializer(serializers.Serializer):
    geometry = serializers.JSONField(help_text="géométrie GeoJSON (Point, LineString ou Polygon, WGS84)")
    title = serializers.CharField(max_length=1000)
    text = serializers.CharField(required=False, allow_blank=True, max_length=20000)


def _validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _json_value(value: Any, field: str) -> Any:
    """Multipart carries JSON as text; a JSON body carries it as is."""
    if isinstance(value, str):
        try:
            return json.loads(value) if value.strip() else None
        except ValueError as exc:
            raise ValidationFailed({field: [_("JSON illisible.")]}) from exc
    return value


def _project(slug: str, user: Any) -> Project:
    project = Project.objects.filter(slug=slug).first()
    if project is None or (
        project.status != ProjectStatus.PUBLISHED and not permissions.can_manage_project(user, project)
    ):
        raise NotFound(_("Projet introuvable."))
    return project


def _visible_layers(project: Project, manager: bool) -> QuerySet[Layer]:
    qs = project.layers.all()
    return qs if manager else qs.filter(is_published=True)


def _layer(project: Project, slug: str, manager: bool) -> Layer:
    layer = _visible_layers(project, manager).filter(slug=slug).first()
    if layer is None:
        raise NotFound(_("Couche introuvable."))
    return layer


def _tiles_base(request: Request) -> str:
    return request.build_absolute_uri(reverse("tiles:index"))


def layer_data(layer: Layer, request: Request, *, manager: bool) -> dict[str, Any]:
    """A layer as the map needs it: style, legend, and where its tiles are."""
    data: dict[str, Any] = {
        "id": layer.pk,
        "slug": layer.slug,
        "kind": layer.kind,
        "name": layer.name,
        "description": layer.description,
        "style": layer.style,
        "legend": layer.legend,
        "position": layer.position,
        "is_published": layer.is_published,
        "crs": layer.crs,
    }
    base = _tiles_base(request)
    if layer.kind == LayerKind.RASTER:
        ready = layer.raster_status == RasterStatus.READY
        key = rasters.raster_tile_key(layer)
        data["raster"] = {
            "status": layer.raster_status,
            "bounds": list(layer.footprint.extent) if layer.footprint else None,
            **({"error": layer.raster_error} if manager and layer.raster_error else {}),
        }
        data["tiles"] = (
            {
                "tilejson": f"{base}raster/{key}.json",
                "tiles": [f"{base}raster/{key}/{{z}}/{{x}}/{{y}}.png"],
            }
            if ready
            else None
        )
    else:
        query = f"?layer={layer.pk}"
        data["tiles"] = {
            "tilejson": f"{base}{PLANNING_TILE_LAYER}.json{query}",
            "tiles": [f"{base}{PLANNING_TILE_LAYER}/{{z}}/{{x}}/{{y}}.mvt{query}"],
            "source_layer": PLANNING_TILE_LAYER,
        }
    if manager:
        data["source"] = layer.source
    return data


def feature_collection(layer: Layer) -> dict[str, Any]:
    """The layer's features as GeoJSON, serialised by PostGIS (one query, no GEOS objects)."""
    rows = list(
        layer.features.order_by("pk").values_list(
            "pk", "title", "text", "properties", AsGeoJSON("geom", precision=7)
        )[: MAX_FEATURES_IN_API + 1]
    )
    truncated = len(rows) > MAX_FEATURES_IN_API
    features = [
        {
            "type": "Feature",
            "id": pk,
            "geometry": json.loads(geometry),
            "properties": {"title": title, "text": text}
            if layer.kind == LayerKind.ANNOTATION
            else properties,
        }
        for pk, title, text, properties, geometry in rows[:MAX_FEATURES_IN_API]
    ]
    return {"type": "FeatureCollection", "features": features, "truncated": truncated}


def _annotation_data(feature: LayerFeature) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": feature.pk,
        "geometry": json.loads(feature.geom.json),
        "properties": {"title": feature.title, "text": feature.text},
    }


class _WritesNeedAnAccount(drf_permissions.BasePermission):
    """Reading is public; writing needs a signed-in member of the team (checked by the services)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method in drf_permissions.SAFE_METHODS or bool(
            request.user and request.user.is_authenticated
        )


class LayerListCreate(APIView):
    permission_classes = [_WritesNeedAnAccount]
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(
        operation_id="urbanisme_couches_list",
        summary="Couches du projet (style, légende, tuiles)",
        responses={200: OpenApiTypes.OBJECT, **_errors(404)},
    )
    def get(self, request: Request, slug: str) -> Response:
        project = _project(slug, request.user)
        manager = permissions.can_manage_project(request.user, project)
        found = _visible_layers(project, manager).order_by("position", "pk")
        return Response({"layers": [layer_data(layer, request, manager=manager) for layer in found]})

    @extend_schema(
        operation_id="urbanisme_couches_create",
        summary="Ajouter une couche : import vecteur, GeoTIFF ou couche d'annotations (équipe du projet)",
        request={"multipart/form-data": LayerCreateSerializer, "application/json": LayerCreateSerializer},
        responses={
            201: OpenApiTypes.OBJECT,
            200: OpenApiResponse(
                OpenApiTypes.OBJECT, description=gettext_lazy("Objets d'une couche remplacés")
            ),
            **_errors(400, 403, 404, 413, 422),
        },
    )
    def post(self, request: Request, slug: str) -> Response:
        project = _project(slug, request.user)
        data = _validated(LayerCreateSerializer, request.data)
        kind = data["kind"]
        style = _json_value(data.get("style"), "style")
        legend = _json_value(data.get("legend"), "legend")
        upload = data.get("file")
        if kind != LayerKind.ANNOTATION and upload is None:
            raise ValidationFailed({"file": [_("Joignez le fichier de la couche.")]})
        if kind == LayerKind.VECTOR:
            replace = None
            if data.get("replace"):
                replace = project.layers.filter(slug=data["replace"]).first()
                if replace is None:
                    raise NotFound(_("Couche à remplacer introuvable."))
            report = layers.vector_layer_import(
                project=project,
                actor=request.user,
                path_or_upload=upload,
                name=data.get("name") or None,
                style=style,
                legend=legend,
                layer=data.get("layer") or None,
                source_srid=data.get("source_srid"),
                label_field=data.get("label_field") or None,
                replace_layer=replace,
                description=data.get("description", ""),
            )
            body = layer_data(report.layer, request, manager=True)
            body["import"] = {
                "features": report.features,
                "crs": report.crs,
                "repaired": report.repaired,
                "outside_region": report.outside_region,
                "warnings": report.warnings,
            }
            return Response(body, status=http.HTTP_201_CREATED if report.created else http.HTTP_200_OK)
        if kind == LayerKind.RASTER:
            layer = rasters.raster_upload(
                project=project,
                actor=request.user,
                upload=upload,
                name=data.get("name", ""),
                legend=legend,
                style=style,
                description=data.get("description", ""),
            )
        else:
            layer = layers.annotation_layer_create(
                project=project,
                actor=request.user,
                name=data.get("name", ""),
                style=style,
                legend=legend,
                description=data.get("description", ""),
            )
        return Response(layer_data(layer, request, manager=True), status=http.HTTP_201_CREATED)


class LayerDetail(APIView):
    permission_classes = [_WritesNeedAnAccount]
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(
        operation_id="urbanisme_couches_detail",
        summary="Une couche, avec ses objets en GeoJSON (vecteur et annotations)",
        responses={200: OpenApiTypes.OBJECT, **_errors(404)},
    )
    def get(self, request: Request, slug: str, layer: str) -> Response:
        project = _project(slug, request.user)
        manager = permissions.can_manage_project(request.user, project)
        found = _layer(project, layer, manager)
        body = layer_data(found, request, manager=manager)
        if found.kind != LayerKind.RASTER:
            body["features"] = feature_collection(found)
        return Response(body)

    @extend_schema(
        operation_id="urbanisme_couches_update",
        summary="Modifier une couche : nom, style, légende, ordre, publication (équipe du projet)",
        request=LayerUpdateSerializer,
        responses={200: OpenApiTypes.OBJECT, **_errors(400, 403, 404)},
    )
    def patch(self, request: Request, slug: str, layer: str) -> Response:
        project = _project(slug, request.user)
        layers.require_manager(request.user, project)
        found = _layer(project, layer, True)
        data = _validated(LayerUpdateSerializer, request.data)
        updated = layers.layer_update(
            layer=found,
            actor=request.user,
            name=data.get("name"),
            description=data.get("description"),
            style=_json_value(data["style"], "style") if "style" in data else None,
            legend=_json_value(data["legend"], "legend") if "legend" in data else None,
            position=data.get("position"),
            is_published=data.get("is_published"),
        )
        return Response(layer_data(updated, request, manager=True))

    @extend_schema(
        operation_id="urbanisme_couches_delete",
        summary="Supprimer une couche et ses fichiers (équipe du projet)",
        responses={204: None, **_errors(403, 404)},
    )
    def delete(self, request: Request, slug: str, layer: str) -> Response:
        project = _project(slug, request.user)
        layers.require_manager(request.user, project)
        layers.layer_delete(layer=_layer(project, layer, True), actor=request.user)
        return Response(status=http.HTTP_204_NO_CONTENT)


class AnnotationCreate(APIView):
    permission_classes = [drf_permissions.IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="urbanisme_couches_objets_create",
        summary="Dessiner une annotation (point, ligne ou polygone, titre et texte) — équipe du projet",
        request=AnnotationSerializer,
        responses={201: OpenApiTypes.OBJECT, **_errors(400, 403, 404, 409, 422)},
    )
    def post(self, request: Request, slug: str, layer: str) -> Response:
        project = _project(slug, request.user)
        layers.require_manager(request.user, project)
        data = _validated(AnnotationSerializer, request.data)
        feature = layers.annotation_add(
            layer=_layer(project, layer, True),
            actor=request.user,
            geometry=data["geometry"],
            title=data["title"],
            text=data.get("text", ""),
        )
        return Response(_annotation_data(feature), status=http.HTTP_201_CREATED)


class AnnotationDelete(APIView):
    permission_classes = [drf_permissions.IsAuthenticated]

    @extend_schema(
        operation_id="urbanisme_couches_objets_delete",
        summary="Effacer une annotation — équipe du projet",
        parameters=[OpenApiParameter("feature", int, OpenApiParameter.PATH)],
        responses={204: None, **_errors(403, 404, 409)},
    )
    def delete(self, request: Request, slug: str, layer: str, feature: int) -> Response:
        project = _project(slug, request.user)
        layers.require_manager(request.user, project)
        found = _layer(project, layer, True).features.filter(pk=feature).first()
        if found is None:
            raise NotFound(_("Objet introuvable."))
        layers.annotation_delete(feature=found, actor=request.user)
        return Response(status=http.HTTP_204_NO_CONTENT)
