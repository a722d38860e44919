"""Raster layers: a GeoTIFF made here (Lambert-93, over the project) is uploaded, checked, converted
to a COG and served as tiles; images without georeferencing are refused with a clear message.

The conversion runs in-process here, and once through a real Celery worker (``integration``).
"""

from __future__ import annotations

import io
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from django.contrib.gis.geos import Point
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import include, path
from PIL import Image
from rasterio.control import GroundControlPoint
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning
from rasterio.transform import from_origin
from rest_framework.test import APIClient

from tests.factories import PARIS_LAT, PARIS_LON, offset
from tests.urbanisme.world import Concertation, build_concertation
from tiles.tilemath import Tile, tile_for_lonlat
from urbanisme import rasters
from urbanisme.errors import Forbidden, ValidationFailed
from urbanisme.models import Layer, LayerKind, RasterStatus

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urbanisme.test_rasters")]

urlpatterns = [
    path("api/urbanisme/projets/<slug:slug>/", include("urbanisme.layer_urls")),
    path("tiles/", include("tiles.urls")),
]

GREEN = (30, 160, 60)
SIZE = 256
PIXEL_M = 2.0


def lonlat(east_m: float, north_m: float) -> tuple[float, float]:
    return offset(PARIS_LON, PARIS_LAT, east_m, north_m)


def lambert(east_m: float, north_m: float) -> tuple[float, float]:
    point = Point(*lonlat(east_m, north_m), srid=4326)
    point.transform(2154)
    return point.x, point.y


def plan_array(count: int = 3) -> np.ndarray:
    """A green plan with a white cross through its middle (so overviews have something to average)."""
    data = np.zeros((count, SIZE, SIZE), dtype=np.uint8)
    for band, value in enumerate(GREEN[:count]):
        data[band] = value
    data[:, SIZE // 2 - 2 : SIZE // 2 + 2, :] = 255
    data[:, :, SIZE // 2 - 2 : SIZE // 2 + 2] = 255
    return data


def geotiff(
    target: Path,
    *,
    crs: str | None = "EPSG:2154",
    georeferenced: bool = True,
    dtype: str = "uint8",
    count: int = 3,
    gcps: bool = False,
) -> Path:
    """A 256 x 256 GeoTIFF at 2 m, centred on the project's centre (200 m, 150 m), in Lambert-93."""
    x, y = lambert(200, 150)
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "width": SIZE,
        "height": SIZE,
        "count": count,
        "dtype": dtype,
    }
    if crs and georeferenced and not gcps:
        profile["crs"] = crs
    if georeferenced and not gcps:
        profile["transform"] = from_origin(x - SIZE, y + SIZE, PIXEL_M, PIXEL_M)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # what some of these files are
        dst = rasterio.open(target, "w", **profile)
    with dst:
        dst.write(plan_array(count).astype(dtype))
        if gcps:
            west, north = x - SIZE, y + SIZE
            dst.gcps = (
                [
                    GroundControlPoint(0, 0, west, north),
                    GroundControlPoint(0, SIZE, west + SIZE * PIXEL_M, north),
                    GroundControlPoint(SIZE, 0, west, north - SIZE * PIXEL_M),
                    GroundControlPoint(SIZE, SIZE, west + SIZE * PIXEL_M, north - SIZE * PIXEL_M),
                ],
                CRS.from_epsg(2154),
            )
    return target


def as_upload(source: Path, name: str | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name or source.name, source.read_bytes(), content_type="image/tiff")


@pytest.fixture
def storage(settings, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.TILES_RASTER_LOOKUP = "urbanisme.rasters.raster_tile_lookup"
    return tmp_path


@pytest.fixture
def plan_tif(tmp_path: Path) -> Path:
    return geotiff(tmp_path / "plan_guide.tif")


@pytest.fixture
def published(monkeypatch) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """The conversions published after commit (the broker is not reached in these tests)."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("geo.outbox.publish_fast", lambda task, kwargs: calls.extend(kwargs))
    return calls


def upload_plan(concertation: Concertation, source: Path, **extra: Any) -> Layer:
    return rasters.raster_upload(
        project=concertation.project,
        actor=concertation.planner,
        upload=as_upload(source),
        name=extra.pop("name", "Plan guide"),
        **extra,
    )


def fetch(client: Any, layer: Layer, tile: Tile, suffix: str = ".png") -> Any:
    key = rasters.raster_tile_key(layer)
    return client.get(f"/tiles/raster/{key}/{tile.z}/{tile.x}/{tile.y}{suffix}")


# --- upload, conversion, tiles -------------------------------------------------------------------


def test_upload_convert_and_serve(
    concertation: Concertation, storage, plan_tif, published, client, django_capture_on_commit_callbacks
):
    # when the planner uploads a Lambert-93 GeoTIFF
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        layer = upload_plan(concertation, plan_tif, legend=[{"label": "Plan guide", "color": "#1ea03c"}])
    # then the layer is pending, with its footprint in WGS84 around the project, and its conversion
    # is published once the transaction commits
    assert (layer.kind, layer.raster_status, layer.crs, layer.slug) == (
        LayerKind.RASTER,
        RasterStatus.PENDING,
        "EPSG:2154",
        "plan-guide",
    )
    assert len(callbacks) == 1 and published == [{"layer_id": layer.pk}]
    assert layer.footprint.srid == 4326
    assert layer.footprint.contains(Point(*lonlat(200, 150), srid=4326))
    west, _south, east, _north = layer.footprint.extent
    assert abs((east - west) / (offset(0, PARIS_LAT, 512, 0)[0]) - 1) < 0.01  # 512 m wide
    assert layer.raster_original.name and Path(layer.raster_original.path).is_file()
    assert str(storage) in layer.raster_original.path  # private storage
    # no tiles before the COG is ready
    inside = tile_for_lonlat(*lonlat(150, 100), 17)
    assert fetch(client, layer, inside).status_code == 404

    # when the worker converts it
    started = time.perf_counter()
    converted = rasters.raster_to_cog(layer_id=layer.pk)
    seconds = time.perf_counter() - started
    # then the COG is valid: tiled, with overviews, in Web Mercator, in the private storage
    assert (
        converted is not None
        and converted.raster_status == RasterStatus.READY
        and converted.raster_error == ""
    )
    with rasterio.open(converted.raster_cog.path) as cog:
        assert cog.driver == "GTiff"
        assert cog.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert cog.profile["tiled"] and cog.block_shapes[0] == (256, 256)
        assert cog.overviews(1), "overviews"
        assert cog.crs.to_epsg() == 3857
        assert cog.count == 4  # RGB + the alpha band around the reprojected image
    print(f"\nCOG conversion of a {SIZE}x{SIZE} GeoTIFF: {seconds * 1000:.0f} ms")
    # and a tile inside the plan is a PNG of green, opaque pixels...
    response = fetch(client, converted, inside)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    picture = np.asarray(Image.open(io.BytesIO(response.content)).convert("RGBA"))
    opaque = picture[picture[..., 3] == 255]
    assert len(opaque) > 0.9 * 256 * 256
    assert tuple(int(v) for v in np.median(opaque[:, :3], axis=0)) == GREEN
    print(f"raster tile z17 inside: {len(response.content)} bytes (PNG)")
    # ... a tile half outside is transparent beyond the edge...
    edge = tile_for_lonlat(*lonlat(-60, 150), 17)
    edge_picture = np.asarray(Image.open(io.BytesIO(fetch(client, converted, edge).content)).convert("RGBA"))
    assert (edge_picture[..., 3] == 0).any() and (edge_picture[..., 3] == 255).any()
    # ... and a tile away from it is empty (204), as the tiles app answers outside a raster
    far = tile_for_lonlat(*lonlat(3000, 150), 17)
    assert fetch(client, converted, far).status_code == 204
    assert fetch(client, converted, inside, ".webp").status_code == 200
    # the TileJSON of the layer
    document = client.get(f"/tiles/raster/{rasters.raster_tile_key(converted)}.json").json()
    assert document["name"] == "Plan guide"
    assert document["bounds"][0] < lonlat(200, 150)[0] < document["bounds"][2]


def test_unpublished_raster_has_no_tiles_and_a_second_conversion_is_a_no_op(
    concertation: Concertation, storage, plan_tif, published, client
):
    layer = upload_plan(concertation, plan_tif)
    ready = rasters.raster_to_cog(layer_id=layer.pk)
    assert ready is not None
    cog = ready.raster_cog.name
    assert rasters.raster_to_cog(layer_id=layer.pk).raster_cog.name == cog  # type: ignore[union-attr]
    inside = tile_for_lonlat(*lonlat(150, 100), 17)
    assert fetch(client, ready, inside).status_code == 200
    Layer.objects.filter(pk=layer.pk).update(is_published=False)
    assert fetch(client, ready, inside).status_code == 404
    assert client.get("/tiles/raster/couche-abc/17/1/1.png").status_code == 404


def test_ground_control_points_are_georeferencing_too(
    concertation: Concertation, storage, tmp_path, published
):
    layer = upload_plan(concertation, geotiff(tmp_path / "scan.tif", gcps=True), name="Scan calé")
    assert layer.footprint.contains(Point(*lonlat(200, 150), srid=4326))
    assert rasters.raster_to_cog(layer_id=layer.pk).raster_status == RasterStatus.READY  # type: ignore[union-attr]


def test_a_paletted_plan_keeps_its_colours(concertation: Concertation, storage, tmp_path, published, client):
    source = tmp_path / "zonage.tif"
    x, y = lambert(200, 150)
    with rasterio.open(
        source,
        "w",
        driver="GTiff",
        width=SIZE,
        height=SIZE,
        count=1,
        dtype="uint8",
        crs="EPSG:2154",
        transform=from_origin(x - SIZE, y + SIZE, PIXEL_M, PIXEL_M),
    ) as dst:
        dst.write(np.full((1, SIZE, SIZE), 1, dtype=np.uint8))
        dst.write_colormap(1, {0: (0, 0, 0, 255), 1: (*GREEN, 255)})
    layer = rasters.raster_to_cog(layer_id=upload_plan(concertation, source, name="Zonage").pk)
    assert layer is not None and layer.raster_status == RasterStatus.READY
    edge = tile_for_lonlat(*lonlat(-60, 150), 17)
    picture = np.asarray(Image.open(io.BytesIO(fetch(client, layer, edge).content)).convert("RGBA"))
    colours = {tuple(int(v) for v in p) for p in picture.reshape(-1, 4)}
    # green inside, transparent outside (never the palette's opaque black of index 0)
    assert colours == {(*GREEN, 255), (0, 0, 0, 0)}


# --- refusals ------------------------------------------------------------------------------------


def plain_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), GREEN).save(out, "PNG")
    return out.getvalue()


def test_images_without_georeferencing_are_refused_with_a_clear_message(
    concertation: Concertation, storage, tmp_path
):
    cases = {
        "plan.png": SimpleUploadedFile("plan.png", plain_png()),
        "sans_crs.tif": as_upload(geotiff(tmp_path / "sans_crs.tif", crs=None)),
        "brut.tif": as_upload(geotiff(tmp_path / "brut.tif", georeferenced=False)),
    }
    messages = {}
    for name, upload in cases.items():
        with pytest.raises(ValidationFailed) as refused:
            rasters.raster_upload(
                project=concertation.project, actor=concertation.planner, upload=upload, name=name
            )
        assert refused.value.status == 422 and refused.value.code == "image_non_georeferencee"
        messages[name] = refused.value.errors["file"][0]
        assert messages[name].startswith("Cette image n'est pas géoréférencée : ")
    assert "c'est une image PNG, sans coordonnées" in messages["plan.png"]
    assert "aucun système de coordonnées (CRS)" in messages["sans_crs.tif"]
    assert "ni coordonnées ni système de coordonnées" in messages["brut.tif"]
    assert not Layer.objects.exists()
    assert not any((storage / "private").rglob("*.tif")) if (storage / "private").exists() else True


def test_other_refusals(concertation: Concertation, storage, tmp_path, settings):
    def refused(upload: Any) -> ValidationFailed:
        with pytest.raises(ValidationFailed) as caught:
            rasters.raster_upload(
                project=concertation.project, actor=concertation.planner, upload=upload, name="X"
            )
        return caught.value

    sixteen = refused(as_upload(geotiff(tmp_path / "mnt.tif", dtype="uint16")))
    assert sixteen.code == "image_non_prise_en_charge" and "8 bits" in sixteen.message
    broken = refused(SimpleUploadedFile("x.tif", b"II*\x00" + b"\x00" * 100))
    assert broken.code == "image_illisible"
    csv = refused(SimpleUploadedFile("x.tif", b"a;b\n"))
    assert csv.code == "image_illisible" and "GeoTIFF" in csv.message
    # far away (another town): refused like a vector file
    x, y = lambert(200, 150)
    far = tmp_path / "loin.tif"
    with rasterio.open(
        far,
        "w",
        driver="GTiff",
        width=16,
        height=16,
        count=1,
        dtype="uint8",
        crs="EPSG:2154",
        transform=from_origin(x + 50_000, y, 2, 2),
    ) as dst:
        dst.write(np.zeros((1, 16, 16), dtype=np.uint8))
    assert refused(as_upload(far)).code == "hors_zone_du_projet"
    settings.URBANISME_RASTER_MAX_BYTES = 1000
    too_big = refused(as_upload(geotiff(tmp_path / "gros.tif")))
    assert too_big.status == 413 and too_big.code == "fichier_trop_gros"
    settings.URBANISME_RASTER_MAX_BYTES = 10_000_000
    settings.URBANISME_RASTER_MAX_PIXELS = 1000
    assert refused(as_upload(geotiff(tmp_path / "grand.tif"))).code == "image_trop_grande"
    with pytest.raises(Forbidden):
        rasters.raster_upload(
            project=concertation.project, actor=concertation.moderator, upload=as_upload(far), name="X"
        )


def test_a_file_that_cannot_be_converted_is_marked_failed_in_french(
    concertation: Concertation, storage, plan_tif, published
):
    layer = upload_plan(concertation, plan_tif)
    Path(layer.raster_original.path).write_bytes(b"II*\x00 truncated")
    failed = rasters.raster_to_cog(layer_id=layer.pk)
    assert failed is not None and failed.raster_status == RasterStatus.FAILED
    assert failed.raster_error.startswith("La conversion de l'image a échoué : ")
    missing = upload_plan(concertation, plan_tif, name="Perdu")
    Path(missing.raster_original.path).unlink()
    lost = rasters.raster_to_cog(layer_id=missing.pk)
    assert lost is not None and "introuvable" in lost.raster_error


def test_sweeper_selection_and_giving_up(concertation: Concertation, storage, plan_tif, published):
    from datetime import timedelta

    from django.utils import timezone

    layer = upload_plan(concertation, plan_tif)
    assert rasters.rasters_unconverted_ids() == []  # just uploaded: its task is on its way
    Layer.objects.filter(pk=layer.pk).update(updated_at=timezone.now() - timedelta(minutes=20))
    assert rasters.rasters_unconverted_ids() == [layer.pk]
    from urbanisme.tasks import rasters_sweep_task

    assert rasters_sweep_task() == 1 and published[-1] == {"layer_id": layer.pk}
    Layer.objects.filter(pk=layer.pk).update(created_at=timezone.now() - timedelta(days=2))
    assert rasters.rasters_unconverted_ids() == []
    assert rasters.rasters_give_up() == 1
    layer.refresh_from_db()
    assert layer.raster_status == RasterStatus.FAILED and "n'a pas abouti" in layer.raster_error


def test_phases_tick_task_returns_the_count(concertation: Concertation):
    from urbanisme.tasks import phases_tick_task

    assert isinstance(phases_tick_task(), int)


# --- API -----------------------------------------------------------------------------------------


def test_api_upload_status_and_tiles(concertation: Concertation, storage, plan_tif, published, settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024  # Django writes the upload to disk: it is linked, not copied
    api = APIClient()
    api.force_login(concertation.planner)
    url = f"/api/urbanisme/projets/{concertation.project.slug}/couches/"
    response = api.post(
        url,
        {
            "kind": "raster",
            "name": "Orthophoto 2025",
            "file": as_upload(plan_tif),
            "style": '{"opacity": 0.7}',
        },
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (
        body["raster"]["status"] == "pending" and body["tiles"] is None and body["style"] == {"opacity": 0.7}
    )
    west, south, east, north = body["raster"]["bounds"]
    assert west < lonlat(200, 150)[0] < east and south < lonlat(200, 150)[1] < north
    rasters.raster_to_cog(layer_id=body["id"])
    [listed] = APIClient().get(url).json()["layers"]
    assert listed["raster"]["status"] == "ready"
    key = f"couche-{body['id']}"
    assert listed["tiles"] == {
        "tilejson": f"http://testserver/tiles/raster/{key}.json",
        "tiles": [f"http://testserver/tiles/raster/{key}/{{z}}/{{x}}/{{y}}.png"],
    }
    png = api.post(
        url,
        {"kind": "raster", "name": "Perspective", "file": SimpleUploadedFile("p.png", plain_png())},
        format="multipart",
    )
    assert png.status_code == 422
    assert png.json()["message"].startswith("Cette image n'est pas géoréférencée : ")


# --- a real worker ---------------------------------------------------------------------------------

BROKER_URL = os.environ.get("CONCERTO_TEST_RASTER_BROKER_URL", "redis://127.0.0.1:6379/14")
WORKER_NAME = f"raster-test-{os.getpid()}@localhost"
CELERY = Path(sys.executable).with_name("celery")


@pytest.fixture
def raster_worker(storage, settings, celery_worker):  # type: ignore[no-untyped-def]
    """The session's real worker (tests/worker.py), with this test's files where the worker keeps its own."""
    settings.PRIVATE_MEDIA_ROOT = celery_worker.files_dir / "private"
    settings.MEDIA_ROOT = celery_worker.files_dir / "media"
    return celery_worker


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_converts_the_upload(raster_worker, plan_tif, client):
    # given a committed upload (its task is published after the commit, to the imports_tiles queue)
    concertation = build_concertation(slug="worker")
    with transaction.atomic():
        layer = upload_plan(concertation, plan_tif)
    # then the worker converts it and the tiles serve it
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        layer.refresh_from_db()
        if layer.raster_status != RasterStatus.PENDING:
            break
        time.sleep(0.2)
    assert layer.raster_status == RasterStatus.READY, layer.raster_error
    assert fetch(client, layer, tile_for_lonlat(*lonlat(150, 100), 17)).status_code == 200


def test_a_hostile_geotiff_with_absurd_dimensions_is_refused_before_any_decoding(
    concertation: Concertation, storage, tmp_path
):
    # given a sparse GeoTIFF whose header claims 200,000 x 200,000 pixels (40 gigapixels) in a few KB
    x, y = lambert(200, 150)
    bomb = tmp_path / "bombe.tif"
    with rasterio.open(
        bomb,
        "w",
        driver="GTiff",
        width=200_000,
        height=200_000,
        count=1,
        dtype="uint8",
        crs="EPSG:2154",
        transform=from_origin(x, y, 0.001, 0.001),
        tiled=True,
        compress="deflate",
        sparse_ok=True,
    ):
        pass
    assert bomb.stat().st_size < 5_000_000
    # when a planner uploads it, then it is refused with a clear 422 and nothing is stored
    with pytest.raises(ValidationFailed) as caught:
        rasters.raster_upload(
            project=concertation.project, actor=concertation.planner, upload=as_upload(bomb), name="Bombe"
        )
    assert caught.value.code == "image_trop_grande" and caught.value.status == 422
    assert "200000 x 200000" in caught.value.message
    assert not concertation.project.layers.exists()
