"""Raster tiles from Cloud-Optimised GeoTIFFs, read with rio-tiler inside ``rasterio.Env``.

Raster layers are declared by name → file path, either with :func:`register_raster_layer` (code,
tests) or by the model-free lookup hook ``TILES_RASTER_LOOKUP``: the dotted path of a function
``lookup(name) -> None | str | dict`` (a path, or ``{"path", "title", "minzoom", "maxzoom"}``).
The urbanisme app's uploaded plans will be found through that hook, so that neither app imports
the other.

Rendering choices:

* Web Mercator (rio-tiler's ``WebMercatorQuad``, i.e. ``geo.srid.TILE_SRID``), 256 px or 512 px;
* resampling: nearest once the tile is finer than the file (zoom past its native zoom), so that
  scanned plans stay sharp instead of blurring; below it, bilinear (GDAL picks the overview);
  paletted files always nearest (palette indexes do not blend). ``average`` for the overview
  reads was measured 1.7x slower on reprojected tiles for no visible gain;
* nodata, mask and alpha become transparency (PNG and WebP with an alpha channel);
* a tile outside the file's bounds, or without a single data pixel, is ``204 No Content`` (with the
  same caching headers): no bytes to send, and map clients draw nothing.

The version of a raster layer is its file's identity (path, size, modification time): replacing
the file changes every ETag and cache key.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import rasterio
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from PIL import Image

from geo.srid import TILE_SRID
from tiles import conf
from tiles.cache import etag
from tiles.errors import TileError
from tiles.layers import NAME_RE
from tiles.tilemath import Tile

# Bump when rendering changes (encoder options, resampling rules): it changes every ETag.
RENDER_REVISION = 2
TILE_SIZES = (256, 512)
CONTENT_TYPES = {"png": "image/png", "webp": "image/webp"}
# Local COGs need no directory listing (overviews are internal). (GDAL_CACHEMAX is left to GDAL:
# rasterio takes a small number there for bytes, and a 128-byte block cache made reads 3x slower.)
GDAL_ENV = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}
# zlib level 3: 2.4x faster than the default 6 on imagery-like 256 px tiles, for ~13 % more bytes.
PNG_OPTIONS = {"compress_level": 3}
WEBP_OPTIONS = {"quality": 85, "method": 2}


def _reader(path: str) -> Any:
    """rio-tiler's reader on Web Mercator. Imported on first use: rio-tiler takes ~0.5 s to import,
    which every management command and test run would otherwise pay."""
    from rio_tiler.constants import WEB_MERCATOR_TMS
    from rio_tiler.io import Reader

    assert WEB_MERCATOR_TMS.crs.to_epsg() == TILE_SRID, "rio-tiler's grid must be the tiles' SRID"
    return Reader(path, tms=WEB_MERCATOR_TMS)


@dataclass(frozen=True)
class RasterLayer:
    name: str
    path: str
    title: str = ""
    minzoom: int | None = None
    maxzoom: int | None = None


_REGISTRY: dict[str, RasterLayer] = {}


def register_raster_layer(
    name: str,
    path: str | os.PathLike[str],
    *,
    title: str = "",
    minzoom: int | None = None,
    maxzoom: int | None = None,
) -> RasterLayer:
    """Serve the COG at ``path`` as ``/tiles/raster/<name>/{z}/{x}/{y}.png|webp``."""
    if not NAME_RE.match(name):
        raise ValueError(f"invalid raster layer name: {name!r}")
    layer = RasterLayer(name, os.fspath(path), title or name, minzoom, maxzoom)
    _REGISTRY[name] = layer
    return layer


def unregister_raster_layer(name: str) -> None:
    _REGISTRY.pop(name, None)


def registered_raster_layers() -> list[RasterLayer]:
    """Layers registered in code; layers found through the lookup hook are not listed."""
    return sorted(_REGISTRY.values(), key=lambda layer: layer.name)


def raster_layer(name: str) -> RasterLayer:
    """The layer by name: the registry first, then the ``TILES_RASTER_LOOKUP`` hook; else 404."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    found: Any = None
    if NAME_RE.match(name) and (hook := conf.raster_lookup()):
        found = import_string(hook)(name)
    if isinstance(found, str | os.PathLike):
        return RasterLayer(name, os.fspath(found), name)
    if isinstance(found, Mapping):
        return RasterLayer(name=name, **{"title": name, **found})
    raise TileError("couche_inconnue", _("Couche raster inconnue : « %(name)s ».") % {"name": name})


def parse_tilesize(scale: str | None, raw: str | None) -> int:
    """256 px, or 512 px with ``@2x`` or ``?tilesize=512``."""
    size = 512 if scale else 256
    if raw:
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if size not in TILE_SIZES:
            raise TileError("taille_invalide", _("tilesize doit valoir 256 ou 512."), field="tilesize")
    return size


def _file_version(layer: RasterLayer) -> str:
    try:
        stat = os.stat(layer.path)
    except OSError as exc:
        raise TileError(
            "raster_illisible",
            _("Le fichier de la couche raster « %(name)s » est introuvable.") % {"name": layer.name},
        ) from exc
    return f"{stat.st_size}-{stat.st_mtime_ns}"


def tile_etag(layer: RasterLayer, tile: Tile, *, tilesize: int, fmt: str) -> str:
    return etag(
        "raster", RENDER_REVISION, layer.name, layer.path, _file_version(layer), str(tile), tilesize, fmt
    )


def resampling(src: Any, tile: Tile, tilesize: int) -> dict[str, str]:
    """Nearest past the file's native zoom (sharp plans) or for palettes; bilinear otherwise."""
    # A 512 px tile at zoom z has the pixel size of zoom z + 1.
    upsampling = tile.z + (tilesize // 256 - 1) > src.maxzoom
    method = "nearest" if upsampling or src.colormap else "bilinear"
    return {"resampling_method": method, "reproject_method": method}


def tile_image(layer: RasterLayer, tile: Tile, *, tilesize: int, fmt: str) -> bytes:
    """The encoded tile, or ``b""`` when the tile holds no data pixel (outside the file)."""
    with rasterio.Env(**GDAL_ENV), _reader(layer.path) as src:
        if not src.tile_exists(tile.x, tile.y, tile.z):
            return b""
        paletted = bool(src.colormap)
        image = src.tile(tile.x, tile.y, tile.z, tilesize=tilesize, **resampling(src, tile, tilesize))
        alpha = image.mask
        if paletted:
            # The colormap brings its own alpha and rio-tiler drops the file's mask (nodata or an
            # alpha band, as GDAL adds around a reprojected palette): keep both transparencies.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                image = image.apply_colormap(src.colormap)
            alpha = np.minimum(alpha, image.mask)
    if not alpha.any():
        return b""
    data = np.asarray(image.array.data)
    if data.dtype != np.uint8 or data.shape[0] not in (1, 3):
        raise TileError(
            "raster_non_pris_en_charge",
            _("Seuls les rasters 8 bits (RVB, niveaux de gris ou palette) sont pris en charge."),
        )
    bands = [data[0]] * 3 if data.shape[0] == 1 else list(data)
    picture = Image.fromarray(np.dstack([*bands, alpha]), "RGBA")
    out = io.BytesIO()
    if fmt == "webp":
        picture.save(out, "WEBP", **WEBP_OPTIONS)
    else:
        picture.save(out, "PNG", **PNG_OPTIONS)
    return out.getvalue()


def raster_info(layer: RasterLayer) -> dict[str, Any]:
    """Bounds (WGS84) and zoom range for TileJSON: from the file, unless the layer overrides them."""
    with rasterio.Env(**GDAL_ENV), _reader(layer.path) as src:
        west, south, east, north = src.get_geographic_bounds(src.tms.geographic_crs)
        minzoom, maxzoom = src.minzoom, src.maxzoom
    return {
        "bounds": [west, south, east, north],
        "minzoom": layer.minzoom if layer.minzoom is not None else minzoom,
        "maxzoom": layer.maxzoom if layer.maxzoom is not None else maxzoom,
    }
