"""Raster tiles from a COG made here (Lambert-93, red west half, blue east half, a nodata corner)."""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.signalements.world import at
from tiles import raster
from tiles.tilemath import Tile, tile_for_lonlat

RED, BLUE = (220, 20, 20), (20, 20, 220)


@pytest.fixture
def plan(cog_path: Path) -> Iterator[raster.RasterLayer]:
    layer = raster.register_raster_layer("plan-test", cog_path, title="Plan de test")
    yield layer
    raster.unregister_raster_layer("plan-test")


def pixel_of(lon: float, lat: float, tile: Tile, size: int) -> tuple[int, int]:
    """Where a WGS84 point falls in a tile image of ``size`` pixels."""
    n = 1 << tile.z
    fx = (lon + 180.0) / 360.0 * n - tile.x
    fy = (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n - tile.y
    assert 0 <= fx < 1 and 0 <= fy < 1, "the point is not in this tile"
    return int(fx * size), int(fy * size)


def fetch(client, tile: Tile, suffix: str = ".png", query: str = "", **headers: str):  # type: ignore[no-untyped-def]
    return client.get(f"/tiles/raster/plan-test/{tile.z}/{tile.x}/{tile.y}{suffix}{query}", headers=headers)


def image(response) -> Image.Image:  # type: ignore[no-untyped-def]
    picture = Image.open(io.BytesIO(response.content))
    picture.load()
    return picture


@pytest.mark.parametrize(
    ("suffix", "query", "fmt", "size"),
    [
        (".png", "", "PNG", 256),
        ("@2x.png", "", "PNG", 512),
        (".webp", "", "WEBP", 256),
        (".webp", "?tilesize=512", "WEBP", 512),
    ],
)
def test_known_pixels_sizes_and_formats(client, plan, suffix, query, fmt, size):
    # given the z17 tile of a point 150 m west of the Hôtel de Ville (red), inside the plan
    lon, lat = at(-150, -100)
    tile = tile_for_lonlat(lon, lat, 17)
    response = fetch(client, tile, suffix, query)
    assert response.status_code == 200
    assert response["Content-Type"] == f"image/{fmt.lower()}"
    picture = image(response)
    assert picture.format == fmt and picture.size == (size, size)
    rgba = picture.convert("RGBA")
    # then the pixel under that point is red and opaque (lossy WebP: within a few units)
    r, g, b, a = rgba.getpixel(pixel_of(lon, lat, tile, size))
    tolerance = 0 if fmt == "PNG" else 12
    assert a == 255
    assert all(abs(c - e) <= tolerance for c, e in zip((r, g, b), RED, strict=True))


def test_transparent_outside_the_data_and_in_the_nodata_corner(client, plan):
    # the z14 tile holds the whole 800 m plan and land around it
    centre = at(0, 0)
    tile = tile_for_lonlat(*centre, 14)
    picture = image(fetch(client, tile)).convert("RGBA")
    outside = next(
        p for p in (at(-700, 0), at(700, 0), at(0, 700), at(0, -700)) if tile_for_lonlat(*p, 14) == tile
    )
    assert picture.getpixel(pixel_of(*outside, tile, 256))[3] == 0
    assert picture.getpixel(pixel_of(*at(150, -200), tile, 256))[:3] == BLUE
    # the nodata corner (north-east 200 m x 200 m) is transparent, next to opaque data
    lon, lat = at(300, 300)
    finer = tile_for_lonlat(lon, lat, 15)
    picture = image(fetch(client, finer)).convert("RGBA")
    assert picture.getpixel(pixel_of(lon, lat, finer, 256))[3] == 0
    assert picture.getpixel(pixel_of(*at(150, 150), finer, 256)) == (*BLUE, 255)


def test_upsampling_stays_sharp(client, plan):
    # at zoom 20 (well past the plan's 1 m pixels) the red/blue edge is not blended
    lon, lat = at(0, -100)
    tile = tile_for_lonlat(lon, lat, 20)
    pixels = np.asarray(image(fetch(client, tile)).convert("RGBA")).reshape(-1, 4)
    colours = {tuple(int(v) for v in p[:3]) for p in pixels if p[3]}
    assert colours == {RED, BLUE}


def test_out_of_bounds_tile_is_204_with_caching_headers(client, plan):
    far = tile_for_lonlat(*at(0, 0), 14)
    response = fetch(client, Tile(14, far.x + 5, far.y))
    assert response.status_code == 204 and response.content == b""
    assert response["ETag"] and response["Cache-Control"].startswith("public, max-age=")


def test_etag_304_and_cache(client, plan, tile_cache):
    tile = tile_for_lonlat(*at(-150, -100), 17)
    first = fetch(client, tile)
    assert first["X-Tiles-Cache"] == "miss"
    second = fetch(client, tile)
    assert second["X-Tiles-Cache"] == "hit" and second.content == first.content
    assert fetch(client, tile, If_None_Match=first["ETag"]).status_code == 304
    assert fetch(client, tile, ".webp")["ETag"] != first["ETag"]


def test_replacing_the_file_changes_the_etag(client, cog_path, tmp_path):
    copy = tmp_path / "plan.tif"
    copy.write_bytes(cog_path.read_bytes())
    raster.register_raster_layer("plan-test", copy)
    try:
        tile = tile_for_lonlat(*at(-150, -100), 17)
        before = fetch(client, tile)["ETag"]
        copy.write_bytes(cog_path.read_bytes() + b"\0")
        assert fetch(client, tile)["ETag"] != before
    finally:
        raster.unregister_raster_layer("plan-test")


def lookup(name: str) -> dict | None:
    return {"path": lookup.path, "title": "Trouvé par le crochet"} if name == "plan-crochet" else None  # type: ignore[attr-defined]


def test_lookup_hook_errors_and_tilejson(client, plan, cog_path, settings):
    # layers can come from a hook (the urbanisme app's uploads), without a model in tiles
    lookup.path = str(cog_path)  # type: ignore[attr-defined]
    settings.TILES_RASTER_LOOKUP = "tests.tiles.test_raster.lookup"
    tile = tile_for_lonlat(*at(-150, -100), 17)
    assert client.get(f"/tiles/raster/plan-crochet/{tile.z}/{tile.x}/{tile.y}.png").status_code == 200
    unknown = client.get(f"/tiles/raster/absent/{tile.z}/{tile.x}/{tile.y}.png")
    assert unknown.status_code == 404 and unknown.json()["code"] == "couche_inconnue"
    bad_size = fetch(client, tile, ".png", "?tilesize=300")
    assert bad_size.status_code == 400 and bad_size.json()["code"] == "taille_invalide"
    assert fetch(client, Tile(3, 9, 0)).json()["code"] == "tuile_hors_limites"
    document = client.get("/tiles/raster/plan-test.json").json()
    assert document["tilejson"] == "3.0.0"
    assert document["tiles"] == ["http://testserver/tiles/raster/plan-test/{z}/{x}/{y}.png"]
    west, south, east, north = document["bounds"]
    assert west < at(0, 0)[0] < east and south < at(0, 0)[1] < north
    assert document["maxzoom"] >= 16
    assert "plan-test" in {layer["name"] for layer in client.get("/tiles/").json()["raster"]}


def test_missing_file_is_a_clear_error(client, tmp_path):
    raster.register_raster_layer("plan-test", tmp_path / "absent.tif")
    try:
        response = fetch(client, Tile(14, 8298, 5636))
        assert response.status_code == 500 and response.json()["code"] == "raster_illisible"
    finally:
        raster.unregister_raster_layer("plan-test")
