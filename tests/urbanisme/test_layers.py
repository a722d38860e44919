"""Planning layers on PostGIS: vector import (Lambert-93 GeoJSON and GeoPackage), style and legend,
annotations, the layers API, and the concertation vector tiles (perimeters, contributions, layers).

The API routes are mounted here as config will mount them (``api/urbanisme/projets/<slug>/``).
"""

from __future__ import annotations

import json
import subprocess
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.gis.geos import Point
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import include, path
from rest_framework.test import APIClient

from tests.factories import PARIS_LAT, PARIS_LON, offset, square
from tests.tiles.conftest import features as mvt_features
from tests.urbanisme.world import Concertation, build_concertation
from tiles import layers as tile_layers
from tiles import versioning
from tiles.tilemath import Tile, tile_for_lonlat
from urbanisme import layers, services
from urbanisme.errors import Conflict, Forbidden, ValidationFailed
from urbanisme.models import Layer, LayerFeature, LayerKind, ProjectStatus, Visibility

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urbanisme.test_layers")]

urlpatterns = [
    path("api/urbanisme/projets/<slug:slug>/", include("urbanisme.layer_urls")),
    path("tiles/", include("tiles.urls")),
]


# --- files made here -----------------------------------------------------------------------------


def lonlat(east_m: float, north_m: float) -> tuple[float, float]:
    """WGS84 of a point at metres east/north of the perimeter's south-west corner."""
    return offset(PARIS_LON, PARIS_LAT, east_m, north_m)


def lambert(east_m: float, north_m: float) -> list[float]:
    """The same point in Lambert-93 (EPSG:2154), as the file of a French planning office holds it."""
    point = Point(*lonlat(east_m, north_m), srid=4326)
    point.transform(2154)
    return [round(point.x, 3), round(point.y, 3)]


def lambert_geojson(features: list[dict[str, Any]] | None = None, *, declare_crs: bool = True) -> bytes:
    """Three features in Lambert-93: a block (polygon), a new street (line), a tree (point)."""
    if features is None:
        features = [
            {
                "type": "Feature",
                "properties": {
                    "nom": "Îlot A",
                    "zonage": "UA",
                    "hauteur_max": 18.5,
                    "logements": 40,
                    "livraison": "2028-06-30",
                },
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [
                            lambert(50, 50),
                            lambert(150, 50),
                            lambert(150, 120),
                            lambert(50, 120),
                            lambert(50, 50),
                        ]
                    ],
                },
            },
            {
                "type": "Feature",
                "properties": {"nom": "Rue nouvelle", "zonage": None, "largeur_m": 12},
                "geometry": {"type": "LineString", "coordinates": [lambert(0, 150), lambert(400, 150)]},
            },
            {
                "type": "Feature",
                "properties": {"nom": "Chêne remarquable", "essence": "Quercus robur"},
                "geometry": {"type": "Point", "coordinates": lambert(200, 200)},
            },
        ]
    document: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if declare_crs:
        document["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2154"}}
    return json.dumps(document, ensure_ascii=False).encode()


@pytest.fixture
def geojson_2154(tmp_path: Path) -> Path:
    target = tmp_path / "plan_masse.geojson"
    target.write_bytes(lambert_geojson())
    return target


@pytest.fixture
def geopackage_2154(tmp_path: Path, geojson_2154: Path) -> Path:
    """A GeoPackage with two layers (« ilots », « rues »), written by ogr2ogr from the GeoJSON."""
    target = tmp_path / "projet.gpkg"
    subprocess.run(
        ["ogr2ogr", "-f", "GPKG", str(target), str(geojson_2154), "-nln", "ilots"], check=True, timeout=60
    )
    subprocess.run(
        [
            "ogr2ogr",
            "-f",
            "GPKG",
            "-update",
            str(target),
            str(geojson_2154),
            "-nln",
            "rues",
            "-where",
            "nom = 'Rue nouvelle'",
        ],
        check=True,
        timeout=60,
    )
    return target


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def near(geom: Any, lon: float, lat: float, metres: float = 1.0) -> bool:
    point = Point(lon, lat, srid=4326)
    return geom.distance(point) * 111_000 < metres


# --- vector import -------------------------------------------------------------------------------


def test_lambert93_geojson_lands_in_place_with_its_attributes(concertation: Concertation, geojson_2154):
    # given a GeoJSON in Lambert-93 (a block, a street and a tree with their attributes)
    # when the planner imports it
    report = layers.vector_layer_import(
        project=concertation.project,
        actor=concertation.planner,
        path_or_upload=geojson_2154,
        name="Plan masse",
        style={"color": "#2E7D32", "weight": 3, "label_field": "nom"},
        legend=[{"label": "Îlots", "color": "#2e7d32", "shape": "polygon"}],
    )
    # then the layer holds three features in WGS84, where they belong
    layer = report.layer
    assert (layer.kind, layer.name, layer.slug, layer.crs) == (
        LayerKind.VECTOR,
        "Plan masse",
        "plan-masse",
        "EPSG:2154",
    )
    assert report.features == 3 and report.created and report.warnings == []
    assert layer.source == "plan_masse.geojson:plan_masse"
    found = {f.properties["nom"]: f for f in layer.features.all()}
    block, street, tree = found["Îlot A"], found["Rue nouvelle"], found["Chêne remarquable"]
    assert block.geom.srid == 4326 and block.geom.geom_type == "MultiPolygon"
    assert near(block.geom.centroid, *lonlat(100, 85))
    assert street.geom.geom_type == "MultiLineString" and near(street.geom, *lonlat(200, 150))
    assert tree.geom.geom_type == "Point" and near(tree.geom, *lonlat(200, 200), 0.05)
    # and the attributes are kept as they were (types included), for the popup; GDAL gives every
    # feature the layer's whole schema (null where a feature had no such attribute)
    assert block.properties == {
        "nom": "Îlot A",
        "zonage": "UA",
        "hauteur_max": 18.5,
        "logements": 40,
        "livraison": "2028-06-30",
        "largeur_m": None,
        "essence": None,
    }
    assert street.properties["largeur_m"] == 12 and street.properties["zonage"] is None
    # and the style is validated, normalised and completed
    assert layer.style == {
        "color": "#2e7d32",
        "weight": 3,
        "opacity": 1.0,
        "fill_color": "#3366cc",
        "fill_opacity": 0.2,
        "label_field": "nom",
    }
    assert layer.legend == [{"label": "Îlots", "color": "#2e7d32", "shape": "polygon"}]


def test_geopackage_layer_is_chosen_and_an_upload_is_streamed(concertation: Concertation, geopackage_2154):
    content = geopackage_2154.read_bytes()
    # a GeoPackage of two layers needs the layer's name
    with pytest.raises(ValidationFailed) as several:
        layers.vector_layer_import(
            project=concertation.project,
            actor=concertation.planner,
            path_or_upload=upload("projet.gpkg", content),
            name="Rues",
        )
    assert "plusieurs couches (ilots, rues)" in several.value.errors["file"][0]
    report = layers.vector_layer_import(
        project=concertation.project,
        actor=concertation.planner,
        path_or_upload=upload("projet.gpkg", content),
        name="Rues",
        layer="rues",
    )
    [street] = report.layer.features.all()
    assert street.properties["nom"] == "Rue nouvelle" and report.crs == "EPSG:2154"
    assert near(street.geom, *lonlat(200, 150))


def test_replace_keeps_the_layer_its_url_and_its_style(concertation: Concertation, geojson_2154):
    first = layers.vector_layer_import(
        project=concertation.project,
        actor=concertation.planner,
        path_or_upload=geojson_2154,
        name="Plan masse",
        style={"color": "#aa0000", "label_field": "nom"},
    ).layer
    corrected = lambert_geojson(
        [
            {
                "type": "Feature",
                "properties": {"nom": "Îlot B"},
                "geometry": {"type": "Point", "coordinates": lambert(300, 100)},
            }
        ]
    )
    report = layers.vector_layer_import(
        project=concertation.project,
        actor=concertation.planner,
        path_or_upload=upload("plan_masse_v2.geojson", corrected),
        replace_layer=first,
    )
    assert report.layer.pk == first.pk and not report.created
    assert report.layer.slug == "plan-masse" and report.layer.style["color"] == "#aa0000"
    assert [f.properties["nom"] for f in report.layer.features.all()] == ["Îlot B"]


def test_a_file_far_from_the_project_is_refused_in_french(concertation: Concertation):
    # given the same block, but 30 km away (a file for another town, or a wrong CRS)
    far = lambert_geojson(
        [
            {
                "type": "Feature",
                "properties": {"nom": "Ailleurs"},
                "geometry": {"type": "Point", "coordinates": lambert(30_000, 0)},
            }
        ]
    )
    with pytest.raises(ValidationFailed) as refused:
        layers.vector_layer_import(
            project=concertation.project,
            actor=concertation.planner,
            path_or_upload=upload("ailleurs.geojson", far),
            name="Ailleurs",
        )
    assert refused.value.status == 422 and refused.value.code == "hors_zone_du_projet"
    assert "entièrement hors de la zone du projet" in refused.value.message
    assert "2154" in refused.value.message
    assert not Layer.objects.filter(name="Ailleurs").exists()


def test_a_file_read_in_the_wrong_crs_is_refused(concertation: Concertation):
    # Lambert-93 coordinates without a CRS need --source-srid; forcing 4326 puts them off the Earth
    bare = upload("sans_crs.geojson", lambert_geojson(declare_crs=False))
    # RFC 7946 GeoJSON without "crs" is WGS84 for GDAL: Lambert metres are not longitudes
    with pytest.raises(ValidationFailed) as refused:
        layers.vector_layer_import(
            project=concertation.project, actor=concertation.planner, path_or_upload=bare, name="X"
        )
    assert refused.value.status == 422
    # with the right CRS given, the same file is accepted
    report = layers.vector_layer_import(
        project=concertation.project,
        actor=concertation.planner,
        path_or_upload=upload("sans_crs.geojson", lambert_geojson(declare_crs=False)),
        name="X",
        source_srid=2154,
    )
    assert report.features == 3


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (
            b'<OGRVRTDataSource><OGRVRTLayer name="x"><SrcDataSource>/etc/passwd</SrcDataSource></OGRVRTLayer></OGRVRTDataSource>',
            "format_non_accepte",
        ),
        (b"nom;x;y\nA;1;2\n", "format_non_accepte"),
        (b'{"type": "FeatureCollection", "features": [', "fichier_invalide"),
        (b"PK\x03\x04 not a zip", "fichier_invalide"),
    ],
)
def test_unaccepted_or_broken_files_never_reach_the_database(concertation: Concertation, content, code):
    with pytest.raises(ValidationFailed) as refused:
        layers.vector_layer_import(
            project=concertation.project,
            actor=concertation.planner,
            path_or_upload=upload("couche.geojson", content),
            name="Couche",
        )
    assert refused.value.code == code and refused.value.status == 422
    assert not concertation.project.layers.exists()


def test_size_limit_and_permissions(concertation: Concertation, geojson_2154, settings):
    settings.URBANISME_VECTOR_MAX_BYTES = 100
    with pytest.raises(ValidationFailed) as too_big:
        layers.vector_layer_import(
            project=concertation.project,
            actor=concertation.planner,
            path_or_upload=upload("gros.geojson", geojson_2154.read_bytes()),
            name="Gros",
        )
    assert too_big.value.status == 413 and too_big.value.code == "fichier_trop_gros"
    settings.URBANISME_VECTOR_MAX_BYTES = 10_000_000
    for actor in (concertation.moderator, concertation.outsider, None):
        with pytest.raises(Forbidden):
            layers.vector_layer_import(
                project=concertation.project, actor=actor, path_or_upload=geojson_2154, name="Plan"
            )


# --- style and legend ----------------------------------------------------------------------------


def test_style_whitelist_with_french_errors():
    assert layers.style_validate(
        {"color": "#ABCDEF", "weight": "2.5", "opacity": 0, "dash_array": "6, 4", "label_field": "nom"},
        fields=["nom"],
    ) == {"color": "#abcdef", "weight": 2.5, "opacity": 0, "dash_array": "6 4", "label_field": "nom"}
    with pytest.raises(ValidationFailed) as bad:
        layers.style_validate(
            {
                "color": "vert",
                "fill_color": "#12345",
                "weight": 25,
                "opacity": 1.5,
                "fill_opacity": True,
                "dash_array": "6 -4",
                "label_field": "hauteur",
                "font": "Comic Sans",
            },
            fields=["nom", "zonage"],
        )
    errors = bad.value.errors
    assert set(errors) == {
        "style.color",
        "style.fill_color",
        "style.weight",
        "style.opacity",
        "style.fill_opacity",
        "style.dash_array",
        "style.label_field",
        "style.font",
    }
    assert errors["style.color"] == ["Couleur attendue au format #rrggbb (par exemple #2e7d32)."]
    assert errors["style.weight"] == ["Épaisseur attendue : un nombre de 0 à 20 (pixels)."]
    assert "absent des attributs de la couche (nom, zonage)" in errors["style.label_field"][0]
    assert errors["style.font"][0].startswith("Clé de style inconnue.")
    with pytest.raises(ValidationFailed):
        layers.style_validate(["#ff0000"])  # type: ignore[arg-type]


def test_legend_entries_are_checked():
    assert layers.legend_validate([{"label": " Espaces verts ", "color": "#00AA00"}]) == [
        {"label": "Espaces verts", "color": "#00aa00"}
    ]
    with pytest.raises(ValidationFailed) as bad:
        layers.legend_validate([{"label": "", "color": "rouge", "shape": "cercle", "x": 1}])
    assert set(bad.value.errors) == {"legend[0]", "legend[0].label", "legend[0].color", "legend[0].shape"}
    with pytest.raises(ValidationFailed):
        layers.legend_validate([{"label": "a", "color": "#000000"}] * 51)


def test_label_field_must_exist_in_the_attributes(concertation: Concertation, geojson_2154):
    with pytest.raises(ValidationFailed) as bad:
        layers.vector_layer_import(
            project=concertation.project,
            actor=concertation.planner,
            path_or_upload=geojson_2154,
            name="Plan",
            label_field="NOM_ILOT",
        )
    assert "« NOM_ILOT » absent des attributs" in bad.value.errors["style.label_field"][0]
    assert (
        "essence, hauteur_max, largeur_m, livraison, logements, nom, zonage"
        in bad.value.errors["style.label_field"][0]
    )


# --- annotations ---------------------------------------------------------------------------------


def test_planners_draw_points_lines_and_polygons(concertation: Concertation):
    layer = layers.annotation_layer_get_or_create(concertation.project)
    assert layers.annotation_layer_get_or_create(concertation.project).pk == layer.pk
    assert (layer.kind, layer.slug, layer.is_published) == (LayerKind.ANNOTATION, "annotations", True)
    shapes = {
        "Point": concertation.point(100, 100),
        "LineString": concertation.line((0, 0), (200, 100)),
        "Polygon": concertation.polygon((10, 10), (60, 10), (60, 60), (10, 60)),
    }
    for kind, geometry in shapes.items():
        feature = layers.annotation_add(
            layer=layer,
            actor=concertation.planner,
            geometry=geometry,
            title=f"Repère {kind}",
            text="Voir la notice.",
        )
        assert feature.geom.geom_type == kind and feature.geom.srid == 4326
        assert feature.created_by == concertation.planner
    assert layer.features.count() == 3


def test_invalid_annotations_are_refused(concertation: Concertation, geojson_2154):
    layer = layers.annotation_layer_get_or_create(concertation.project)
    cases = [
        (concertation.line((0, 0), (0, 0.1)), "La ligne est trop courte"),
        # a « bow tie » split in two by its repair: the planner must redraw it
        (concertation.polygon((0, 0), (100, 100), (100, 0), (0, 100)), "Le polygone se recoupe lui-même"),
        ({"type": "MultiPoint", "coordinates": [[2.35, 48.85]]}, "Type de géométrie non accepté"),
        ({"type": "Point", "coordinates": "ici"}, "La géométrie GeoJSON est illisible."),
        (concertation.point(20_000, 0), "à moins de 5 km du périmètre"),
    ]
    for geometry, message in cases:
        with pytest.raises(ValidationFailed) as refused:
            layers.annotation_add(layer=layer, actor=concertation.planner, geometry=geometry, title="Essai")
        assert message in refused.value.errors["geometry"][0]
    with pytest.raises(ValidationFailed):
        layers.annotation_add(
            layer=layer, actor=concertation.planner, geometry=concertation.point(), title=" "
        )
    with pytest.raises(Forbidden):
        layers.annotation_add(
            layer=layer, actor=concertation.moderator, geometry=concertation.point(), title="Essai"
        )
    vector = layers.vector_layer_import(
        project=concertation.project, actor=concertation.planner, path_or_upload=geojson_2154, name="Plan"
    ).layer
    with pytest.raises(Conflict):
        layers.annotation_add(
            layer=vector, actor=concertation.planner, geometry=concertation.point(), title="Essai"
        )
    assert layer.features.count() == 0


def test_update_and_delete(concertation: Concertation, geojson_2154, django_capture_on_commit_callbacks):
    layer = layers.vector_layer_import(
        project=concertation.project, actor=concertation.planner, path_or_upload=geojson_2154, name="Plan"
    ).layer
    updated = layers.layer_update(
        layer=layer,
        actor=concertation.planner,
        name="Plan masse (v2)",
        style={"fill_color": "#ffcc00", "label_field": "essence"},
        is_published=False,
        position=4,
    )
    assert (updated.name, updated.slug, updated.is_published, updated.position) == (
        "Plan masse (v2)",
        "plan",
        False,
        4,
    )
    assert updated.style["fill_color"] == "#ffcc00" and updated.style["label_field"] == "essence"
    with pytest.raises(ValidationFailed):
        layers.layer_update(layer=layer, actor=concertation.planner, style={"label_field": "inconnu"})
    with pytest.raises(Forbidden):
        layers.layer_delete(layer=layer, actor=concertation.outsider)
    with django_capture_on_commit_callbacks(execute=True):
        layers.layer_delete(layer=layer, actor=concertation.planner)
    assert not Layer.objects.filter(pk=layer.pk).exists()
    assert not LayerFeature.objects.filter(layer_id=layer.pk).exists()


def test_management_command(concertation: Concertation, geojson_2154):
    out = StringIO()
    call_command(
        "import_planning_layer",
        concertation.project.slug,
        str(geojson_2154),
        "--name",
        "Plan masse",
        "--style-json",
        '{"color": "#2e7d32"}',
        "--label-field",
        "nom",
        stdout=out,
    )
    text = out.getvalue()
    assert "Couche « Plan masse » (plan-masse)" in text and "Objets importés : 3" in text
    assert "Système de coordonnées lu : EPSG:2154" in text
    call_command(
        "import_planning_layer",
        concertation.project.slug,
        str(geojson_2154),
        "--replace",
        "plan-masse",
        stdout=out,
    )
    assert Layer.objects.get(slug="plan-masse").features.count() == 3
    with pytest.raises(CommandError, match="Couleur attendue"):
        call_command(
            "import_planning_layer",
            concertation.project.slug,
            str(geojson_2154),
            "--name",
            "X",
            "--style-json",
            '{"color": "vert"}',
        )
    with pytest.raises(CommandError, match="Projet inconnu"):
        call_command("import_planning_layer", "absent", str(geojson_2154), "--name", "X")


# --- API -----------------------------------------------------------------------------------------


@pytest.fixture
def planner_api(concertation: Concertation) -> APIClient:
    client = APIClient()
    client.force_login(concertation.planner)
    return client


def base(concertation: Concertation) -> str:
    return f"/api/urbanisme/projets/{concertation.project.slug}/couches/"


def test_api_import_list_detail_update_delete(concertation: Concertation, planner_api, geojson_2154):
    # the planner uploads a Lambert-93 GeoJSON with a style and a legend (multipart: JSON as text)
    response = planner_api.post(
        base(concertation),
        {
            "kind": "vector",
            "name": "Plan masse",
            "file": upload("plan.geojson", geojson_2154.read_bytes()),
            "style": json.dumps({"color": "#2e7d32", "label_field": "nom"}),
            "legend": json.dumps([{"label": "Îlots", "color": "#2e7d32"}]),
        },
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["import"] == {
        "features": 3,
        "crs": "EPSG:2154",
        "repaired": 0,
        "outside_region": 0,
        "warnings": [],
    }
    layer_id = created["id"]
    assert created["tiles"]["tilejson"] == f"http://testserver/tiles/planning.json?layer={layer_id}"
    assert created["tiles"]["tiles"] == [
        f"http://testserver/tiles/planning/{{z}}/{{x}}/{{y}}.mvt?layer={layer_id}"
    ]
    # the public sees it in the list and in detail, with its features in GeoJSON
    public = APIClient()
    listed = public.get(base(concertation)).json()["layers"]
    assert [(item["slug"], item["kind"], item["style"]["color"]) for item in listed] == [
        ("plan-masse", "vector", "#2e7d32")
    ]
    assert "source" not in listed[0]
    detail = public.get(f"{base(concertation)}plan-masse/").json()
    collection = detail["features"]
    assert collection["type"] == "FeatureCollection" and not collection["truncated"]
    by_name = {f["properties"]["nom"]: f for f in collection["features"]}
    assert by_name["Chêne remarquable"]["geometry"]["type"] == "Point"
    lon, lat = by_name["Chêne remarquable"]["geometry"]["coordinates"]
    assert abs(lon - lonlat(200, 200)[0]) < 1e-5 and abs(lat - lonlat(200, 200)[1]) < 1e-5
    assert by_name["Îlot A"]["properties"]["hauteur_max"] == 18.5
    # the planner unpublishes it: gone for the public, still there for the team
    patched = planner_api.patch(
        f"{base(concertation)}plan-masse/",
        {"is_published": False, "style": {"color": "#000000"}},
        format="json",
    )
    assert patched.status_code == 200 and patched.json()["is_published"] is False
    assert public.get(base(concertation)).json()["layers"] == []
    assert public.get(f"{base(concertation)}plan-masse/").status_code == 404
    assert planner_api.get(f"{base(concertation)}plan-masse/").status_code == 200
    # bad style: one JSON error shape with per-field messages
    bad = planner_api.patch(f"{base(concertation)}plan-masse/", {"style": {"weight": 99}}, format="json")
    assert bad.status_code == 400
    assert bad.json()["errors"] == {"style.weight": ["Épaisseur attendue : un nombre de 0 à 20 (pixels)."]}
    # delete
    assert planner_api.delete(f"{base(concertation)}plan-masse/").status_code == 204
    assert planner_api.get(f"{base(concertation)}plan-masse/").status_code == 404


def test_api_refusals(concertation: Concertation, planner_api, geojson_2154):
    anonymous = APIClient()
    assert (
        anonymous.post(base(concertation), {"kind": "annotation", "name": "A"}, format="json").status_code
        == 403
    )
    outsider = APIClient()
    outsider.force_login(concertation.outsider)
    denied = outsider.post(base(concertation), {"kind": "annotation", "name": "A"}, format="json")
    assert denied.status_code == 403 and denied.json()["code"] == "interdit"
    missing = planner_api.post(base(concertation), {"kind": "vector", "name": "A"}, format="multipart")
    assert missing.status_code == 400 and missing.json()["errors"] == {
        "file": ["Joignez le fichier de la couche."]
    }
    wrong = planner_api.post(
        base(concertation),
        {"kind": "vector", "name": "A", "file": upload("a.csv", b"a;b\n1;2\n")},
        format="multipart",
    )
    assert wrong.status_code == 422 and wrong.json()["code"] == "format_non_accepte"
    assert APIClient().get("/api/urbanisme/projets/absent/couches/").status_code == 404


def test_api_annotations(concertation: Concertation, planner_api):
    created = planner_api.post(
        base(concertation), {"kind": "annotation", "name": "Variante B"}, format="json"
    )
    assert created.status_code == 201 and created.json()["slug"] == "variante-b"
    url = f"{base(concertation)}variante-b/objets/"
    drawn = planner_api.post(
        url,
        {
            "geometry": concertation.line((0, 0), (300, 200)),
            "title": "Piste cyclable",
            "text": "Double sens.",
        },
        format="json",
    )
    assert drawn.status_code == 201, drawn.json()
    feature = drawn.json()
    assert feature["geometry"]["type"] == "LineString" and feature["properties"]["title"] == "Piste cyclable"
    invalid = planner_api.post(
        url, {"geometry": concertation.point(20_000, 0), "title": "Loin"}, format="json"
    )
    assert invalid.status_code == 422 and invalid.json()["code"] == "hors_zone_du_projet"
    moderator = APIClient()
    moderator.force_login(concertation.moderator)
    assert (
        moderator.post(url, {"geometry": concertation.point(), "title": "Non"}, format="json").status_code
        == 403
    )
    detail = APIClient().get(f"{base(concertation)}variante-b/").json()
    assert [f["properties"] for f in detail["features"]["features"]] == [
        {"title": "Piste cyclable", "text": "Double sens."}
    ]
    assert planner_api.delete(f"{url}{feature['id']}/").status_code == 204
    assert not LayerFeature.objects.filter(pk=feature["id"]).exists()


def test_draft_projects_are_hidden_from_the_public(concertation: Concertation, planner_api):
    services.project_set_status(
        project=concertation.project, actor=concertation.planner, status=ProjectStatus.DRAFT
    )
    assert APIClient().get(base(concertation)).status_code == 404
    assert planner_api.get(base(concertation)).status_code == 200


def test_api_list_query_count(concertation: Concertation, geojson_2154):
    for n in range(5):
        layers.vector_layer_import(
            project=concertation.project,
            actor=concertation.planner,
            path_or_upload=geojson_2154,
            name=f"Couche {n}",
        )
    layers.annotation_layer_get_or_create(concertation.project)
    client = APIClient()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(base(concertation))
    assert response.status_code == 200 and len(response.json()["layers"]) == 6
    assert len(captured.captured_queries) == 2  # the project, the layers
    with CaptureQueriesContext(connection) as captured:
        client.get(f"{base(concertation)}couche-3/")
    assert len(captured.captured_queries) == 3  # the project, the layer, its features


# --- vector tiles --------------------------------------------------------------------------------

# The project (400 m x 300 m) at zoom 15 may straddle tiles: the tests read all that cover it.
Z = 15


def project_tiles(z: int = Z) -> list[Tile]:
    west, south = lonlat(-10, -10)
    east, north = lonlat(410, 310)
    nw, se = tile_for_lonlat(west, north, z), tile_for_lonlat(east, south, z)
    return [Tile(z, x, y) for x in range(nw.x, se.x + 1) for y in range(nw.y, se.y + 1)]


def tile_url(layer: str, tile: Tile, query: str = "") -> str:
    return f"/tiles/{layer}/{tile.z}/{tile.x}/{tile.y}.mvt{query}"


def read_features(client: Any, layer: str, query: str = "", key: str = "id") -> dict[Any, dict[str, Any]]:
    """The features of ``layer`` over the project, merged across tiles by ``key``."""
    found: dict[Any, dict[str, Any]] = {}
    for tile in project_tiles():
        response = client.get(tile_url(layer, tile, query))
        assert response.status_code in (200, 204), response.content
        for feature in mvt_features(response.content, layer):
            found[feature["properties"][key]] = feature
    return found


def contribute(concertation: Concertation, **extra: Any) -> Any:
    return services.contribution_create(
        project=concertation.project,
        kind=extra.pop("kind", "idee"),
        title=extra.pop("title", "Plus d'arbres"),
        text="Planter des arbres le long de la rue.",
        geometry=extra.pop("geometry", concertation.point()),
        pseudonym="Jeanne du 3e",
        author=services.AuthorInput(name="Jeanne Dupont", email="jeanne.dupont@example.org"),
        **extra,
    )


def test_projects_tiles_show_published_perimeters_with_their_phase(concertation: Concertation, client):
    # given a draft project beside the published one
    services.project_create(
        actor=concertation.planner,
        territory=concertation.territory,
        organisation=concertation.organisation,
        title="Projet en préparation",
        slug="brouillon",
        perimeter=square(100, 100, 300, 200),
    )
    found = read_features(client, "projects", key="slug")
    assert set(found) == {concertation.project.slug}
    props = found[concertation.project.slug]["properties"]
    assert props == {
        "slug": "place-du-marche",
        "title": "Réaménagement de la place du Marché",
        "status": "publie",
        "phase": "concertation_prealable",
    }
    assert found[concertation.project.slug]["geometry"]["type"] in ("Polygon", "MultiPolygon")


def test_contribution_tiles_hold_only_public_fields_of_published_contributions(
    concertation: Concertation, client
):
    theme = concertation.project.themes.get(name="Mobilité")
    answered = contribute(concertation, theme_id=theme.pk, geometry=concertation.line((10, 10), (300, 200)))
    services.official_answer(contribution=answered, actor=concertation.moderator, text="Merci, c'est prévu.")
    plain = contribute(
        concertation, kind="question", geometry=concertation.polygon((20, 20), (80, 20), (80, 80))
    )
    hidden = contribute(concertation, title="Propos injurieux")
    services.contribution_moderate(
        contribution=hidden, actor=concertation.moderator, action="hide", reason="Injures"
    )
    # a contribution awaiting moderation, on another project moderated a priori, nearby
    other = build_concertation(moderation="a_priori", slug="square-voisin")
    pending = contribute(other)
    assert pending.visibility == Visibility.PENDING

    found = read_features(client, "contributions")
    assert set(found) == {answered.pk, plain.pk}
    public = {f.name for f in tile_layers.CONTRIBUTIONS.fields}
    for feature in found.values():
        assert set(feature["properties"]) <= public
        text = json.dumps(feature["properties"], ensure_ascii=False)
        for personal in ("Jeanne", "jeanne.dupont", "Dupont", "Plus d'arbres"):
            assert personal not in text
    first = found[answered.pk]["properties"]
    assert first["project"] == "place-du-marche" and first["kind"] == "idee" and first["theme"] == "Mobilité"
    assert first["is_answered"] is True and first["supports_count"] == 0
    assert first["created_at"] == concertation.today.isoformat()
    assert (
        found[plain.pk]["properties"]["is_answered"] is False and "theme" not in found[plain.pk]["properties"]
    )
    assert found[answered.pk]["geometry"]["type"] == "LineString"
    assert found[plain.pk]["geometry"]["type"] == "Polygon"
    # filters
    assert set(read_features(client, "contributions", "?kind=question")) == {plain.pk}
    assert read_features(client, "contributions", "?project=square-voisin") == {}
    bad = client.get(tile_url("contributions", project_tiles()[0], "?kind=colere"))
    assert bad.status_code == 400 and bad.json()["code"] == "filtre_invalide"


def test_a_new_contribution_changes_the_version_and_shows_at_once(concertation: Concertation, client):
    [tile] = [t for t in project_tiles(16) if t == tile_for_lonlat(*lonlat(200, 150), 16)]
    before = client.get(tile_url("contributions", tile))
    version = versioning.data_version("contributions")
    contribution = contribute(concertation, geometry=concertation.point(200, 150))
    assert versioning.data_version("contributions") > version
    after = client.get(tile_url("contributions", tile), headers={"If-None-Match": before["ETag"]})
    assert after.status_code == 200 and after["ETag"] != before["ETag"]
    assert contribution.pk in {f["properties"]["id"] for f in mvt_features(after.content, "contributions")}
    # moderation (another write) is a new version too: the hidden contribution leaves the tile
    services.contribution_moderate(
        contribution=contribution, actor=concertation.moderator, action="hide", reason="Doublon"
    )
    hidden = client.get(tile_url("contributions", tile), headers={"If-None-Match": after["ETag"]})
    assert hidden.status_code == 204


def test_planning_tiles_carry_style_attributes_and_annotations(
    concertation: Concertation, client, geojson_2154
):
    plan = layers.vector_layer_import(
        project=concertation.project,
        actor=concertation.planner,
        path_or_upload=geojson_2154,
        name="Plan masse",
        style={"color": "#2e7d32", "label_field": "nom", "weight": 3},
    ).layer
    notes = layers.annotation_layer_get_or_create(concertation.project)
    note = layers.annotation_add(
        layer=notes,
        actor=concertation.planner,
        geometry=concertation.point(300, 250),
        title="Futur marché",
        text="Halle couverte.",
    )
    hidden = layers.vector_layer_import(
        project=concertation.project, actor=concertation.planner, path_or_upload=geojson_2154, name="Variante"
    ).layer
    layers.layer_update(layer=hidden, actor=concertation.planner, is_published=False)

    found = read_features(client, "planning")
    assert {f["properties"]["layer"] for f in found.values()} == {"plan-masse", "annotations"}
    block = next(f for f in found.values() if f["properties"].get("nom") == "Îlot A")
    assert block["properties"] == {
        "id": block["properties"]["id"],
        "layer_id": plan.pk,
        "layer": "plan-masse",
        "layer_name": "Plan masse",
        "project": "place-du-marche",
        "kind": "vector",
        "label": "Îlot A",
        "color": "#2e7d32",
        "fill_color": "#3366cc",
        "weight": 3,
        "opacity": 1,
        "fill_opacity": 0.2,
        # the file's attributes, as they were
        "nom": "Îlot A",
        "zonage": "UA",
        "hauteur_max": 18.5,
        "logements": 40,
        "livraison": "2028-06-30",
    }
    drawn = found[note.pk]["properties"]
    assert (drawn["kind"], drawn["title"], drawn["text"], drawn["label"]) == (
        "annotation",
        "Futur marché",
        "Halle couverte.",
        "Futur marché",
    )
    # one layer at a time, as the layers API links it
    assert {
        f["properties"]["layer_id"] for f in read_features(client, "planning", f"?layer={plan.pk}").values()
    } == {plan.pk}
    # the TileJSON carries the filter into the tiles URL
    doc = client.get(f"/tiles/planning.json?layer={plan.pk}").json()
    assert doc["tiles"] == [f"http://testserver/tiles/planning/{{z}}/{{x}}/{{y}}.mvt?layer={plan.pk}"]
    assert doc["vector_layers"][0]["id"] == "planning"
    assert set(doc["vector_layers"][0]["fields"]) == {f.name for f in tile_layers.PLANNING.fields}
    west, south, east, north = doc["bounds"]
    assert west < lonlat(200, 150)[0] < east and south < lonlat(200, 150)[1] < north
    # a new style is a new version
    tile = project_tiles()[0]
    tag = client.get(tile_url("planning", tile))["ETag"]
    layers.layer_update(layer=plan, actor=concertation.planner, style={"color": "#000000"})
    assert client.get(tile_url("planning", tile))["ETag"] != tag


def test_draft_project_layers_and_contributions_stay_out_of_tiles(
    concertation: Concertation, client, geojson_2154
):
    layers.vector_layer_import(
        project=concertation.project, actor=concertation.planner, path_or_upload=geojson_2154, name="Plan"
    )
    contribute(concertation)
    services.project_set_status(
        project=concertation.project, actor=concertation.planner, status=ProjectStatus.DRAFT
    )
    assert read_features(client, "planning") == {}
    assert read_features(client, "contributions") == {}
    assert read_features(client, "projects", key="slug") == {}


def test_tile_view_queries_and_tilejson(concertation: Concertation, client):
    contribute(concertation, geometry=concertation.point(200, 150))
    tile = tile_for_lonlat(*lonlat(200, 150), 16)
    for layer in ("projects", "contributions", "planning"):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(tile_url(layer, tile))
        statements = [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]
        assert response.status_code in (200, 204)
        assert len(statements) == 2, statements  # the data version, then one ST_AsMVT statement
        assert "tiles_dataversion" in statements[0] and statements[1].count("ST_AsMVT(") == 1
    doc = client.get("/tiles/contributions.json?project=place-du-marche").json()
    assert doc["tiles"] == ["http://testserver/tiles/contributions/{z}/{x}/{y}.mvt?project=place-du-marche"]
    assert set(doc["vector_layers"][0]["fields"]) == {
        "id",
        "project",
        "kind",
        "theme",
        "supports_count",
        "created_at",
        "is_answered",
    }
    names = {layer["name"] for layer in client.get("/tiles/").json()["vector"]}
    assert {"projects", "contributions", "planning"} <= names


def test_projects_tile_etag_follows_the_calendar_day(concertation: Concertation, client, monkeypatch):
    from datetime import timedelta

    tile = tile_for_lonlat(*lonlat(200, 150), 14)
    today = tile_layers.PROJECTS.today()
    tag = client.get(tile_url("projects", tile))["ETag"]
    assert client.get(tile_url("projects", tile))["ETag"] == tag
    monkeypatch.setattr(tile_layers.VectorLayer, "today", lambda self: today + timedelta(days=30))
    later = client.get(tile_url("projects", tile))
    assert later["ETag"] != tag
    [feature] = mvt_features(later.content, "projects")
    assert feature["properties"]["phase"] == "bilan"


@pytest.mark.urls("config.urls")
def test_the_routes_as_config_mounts_them(concertation: Concertation, geojson_2154):
    layers.vector_layer_import(
        project=concertation.project, actor=concertation.planner, path_or_upload=geojson_2154, name="Plan"
    )
    listed = APIClient().get(f"/api/urbanisme/projets/{concertation.project.slug}/couches/")
    assert listed.status_code == 200 and [item["slug"] for item in listed.json()["layers"]] == ["plan"]
    tile_url_template = listed.json()["layers"][0]["tiles"]["tiles"][0]
    tile = tile_for_lonlat(*lonlat(200, 150), 16)
    response = APIClient().get(tile_url_template.format(z=tile.z, x=tile.x, y=tile.y))
    assert response.status_code == 200 and mvt_features(response.content, "planning")
