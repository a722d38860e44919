"""Raster layers of a project: a georeferenced GeoTIFF, checked, converted to a COG, served as tiles.

The road of a plan: :func:`raster_upload` streams the file to a private temporary folder (size
limit), checks it with rasterio — a TIFF that GDAL reads, 8-bit, with a CRS and a geotransform
(or ground control points) — records its footprint in the storage SRID, keeps the original in
private storage and, once committed, publishes ``urbanisme.raster_to_cog``. The worker's
:func:`raster_to_cog` writes the Cloud-Optimised GeoTIFF and marks the layer ready (or failed, with a
French message). ``tiles`` finds ready, published rasters through :func:`raster_tile_lookup`
(``settings.TILES_RASTER_LOOKUP``): neither app imports the other.

Why the COG is written in Web Mercator (EPSG:3857) on the GoogleMapsCompatible grid, rather than
in the file's own CRS: GDAL's COG driver then reprojects once, at conversion, and aligns blocks
and overviews with the tiles and zoom levels, so each tile request reads one or a few aligned
blocks of the right overview with no reprojection (rio-tiler would otherwise warp every tile
through a WarpedVRT, in the request). Measured here (2 shared cores) on a 4096 x 4096 Lambert-93
image at 0.5 m: a z17 PNG tile in 21 ms instead of 70 ms, a z19 one in 12 ms instead of 26 ms. The
cost is paid once, by the worker: the conversion took 15 s instead of 3.5 s and the file is 1.6x
larger (GDAL picks the zoom level closest to the file's resolution, here z18 at 0.39 m, so the
image is slightly upsampled), plus one resampling of the pixels (bilinear; nearest for palettes,
which must not blend), invisible at the zooms a plan is read. Areas outside the image become
transparent (an alpha band, or the file's nodata when it has one).

Local files only, whatever ``MEDIA_STORAGE`` says: GDAL converts and rio-tiler reads them by path
(range reads on every tile). With S3 the private storage keeps ``rasters/`` names on files under
``RASTER_ROOT`` (a volume shared by the web pods and the media workers, ``config.storage_s3``) and
sends photo originals to the private bucket; downloading a COG for every tile, or reading it through
GDAL's ``/vsis3/``, would put an object-store round trip in each tile request.
"""

from __future__ import annotations

import logging
import secrets
import tempfile
import time
import warnings
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import rasterio
from django.conf import settings
from django.contrib.gis.geos import Polygon
from django.core.files import File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rasterio._err import CPLE_BaseError
from rasterio.enums import ColorInterp
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.shutil import copy as rio_copy
from rasterio.transform import from_gcps
from rasterio.windows import Window

from geo.srid import InvalidGeometry, polygon_from_crs_ring
from urbanisme.errors import ValidationFailed
from urbanisme.layers import (
    RASTER_STYLE,
    legend_validate,
    next_layer_position,
    outside_region_error,
    region_counts,
    require_manager,
    spooled,
    style_validate,
    unique_layer_slug,
)
from urbanisme.models import TITLE_MAX_LENGTH, Layer, LayerKind, Project, ProjectStatus, RasterStatus
from urbanisme.services import clean_text

logger = logging.getLogger(__name__)

# Each image is checked, then converted, with GDAL's sibling-file lookups off: an upload is one
# file, and a stray .aux.xml or .tfw must not change what it says.
GDAL_ENV = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR", "GDAL_NUM_THREADS": "ALL_CPUS"}
# Pixels of the largest image accepted (width x height): 40,000 x 25,000 at 10 cm is 4 km x 2.5 km.
MAX_PIXELS_DEFAULT = 1_000_000_000
COG_BLOCKSIZE = 256
COG_OPTIONS: dict[str, Any] = {
    "driver": "COG",
    "TILING_SCHEME": "GoogleMapsCompatible",
    "BLOCKSIZE": COG_BLOCKSIZE,
    "COMPRESS": "DEFLATE",
    "PREDICTOR": "YES",
    "OVERVIEWS": "AUTO",
    "BIGTIFF": "IF_SAFER",
}
# A tile key: what /tiles/raster/<key>/... carries (tiles' layer-name rules: [a-z][a-z0-9_-]*).
TILE_KEY_PREFIX = "couche-"
# A pending conversion is published again by the sweeper after this long without news...
SWEEP_AFTER = timedelta(minutes=15)
# ... and given up (failed) after this long: a file that kills the worker must not loop forever.
GIVE_UP_AFTER = timedelta(days=1)

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_IMAGE_MAGIC = {
    b"\x89PNG": "PNG",
    b"\xff\xd8\xff": "JPEG",
    b"GIF8": "GIF",
    b"RIFF": "WebP",
    b"BM": "BMP",
    b"%PDF": "PDF",
}


class ConversionError(Exception):
    """A conversion that cannot succeed with this file; the message is French, for the team."""


@dataclass(frozen=True)
class RasterCheck:
    crs_label: str
    footprint: Polygon
    width: int
    height: int
    bands: int
    paletted: bool


def _refused(message: str, *, code: str = "image_non_georeferencee") -> ValidationFailed:
    return ValidationFailed({"file": [message]}, status=422, code=code)


def _not_georeferenced(reason: str) -> ValidationFailed:
    return _refused(_("Cette image n'est pas géoréférencée : %(reason)s") % {"reason": reason})


def _max_pixels() -> int:
    return int(getattr(settings, "URBANISME_RASTER_MAX_PIXELS", MAX_PIXELS_DEFAULT))


def raster_check(path: Path) -> RasterCheck:
    """Refuse what the tiles could not show, with a message that says what to send instead."""
    with path.open("rb") as fh:
        head = fh.read(8)
    if not head.startswith(_TIFF_MAGIC):
        kind = next((name for magic, name in _IMAGE_MAGIC.items() if head.startswith(magic)), None)
        if kind is not None:
            raise _not_georeferenced(
                _(
                    "c'est une image %(kind)s, sans coordonnées. Envoyez un GeoTIFF (exporté avec son "
                    "système de coordonnées depuis QGIS ou votre logiciel de SIG)."
                )
                % {"kind": kind}
            )
        raise _refused(
            _("Fichier illisible : seules les images GeoTIFF (.tif) sont acceptées."), code="image_illisible"
        )
    try:
        with (
            rasterio.Env(**GDAL_ENV),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path, driver="GTiff") as src:
                return _check_dataset(src)
    except (RasterioError, CPLE_BaseError) as exc:
        raise _refused(
            _("Image TIFF illisible ou endommagée (%(reason)s).") % {"reason": str(exc)[:200]},
            code="image_illisible",
        ) from exc


def _check_dataset(src: Any) -> RasterCheck:
    width, height = int(src.width), int(src.height)
    if width * height > _max_pixels():
        raise _refused(
            _("Image trop grande : %(w)d x %(h)d pixels (%(max)d millions au plus).")
            % {"w": width, "h": height, "max": _max_pixels() // 1_000_000},
            code="image_trop_grande",
        )
    gcps, gcp_crs = src.gcps
    if src.crs is not None and not src.transform.is_identity:
        crs, transform = src.crs, src.transform
    elif gcps and gcp_crs is not None:
        crs, transform = gcp_crs, from_gcps(gcps)
    elif src.crs is None and not src.transform.is_identity:
        raise _not_georeferenced(
            _(
                "le fichier a des coordonnées mais aucun système de coordonnées (CRS). Enregistrez-le "
                "avec son CRS (par exemple EPSG:2154, Lambert-93)."
            )
        )
    else:
        raise _not_georeferenced(
            _(
                "ce TIFF n'a ni coordonnées ni système de coordonnées. Géoréférencez-le (par exemple "
                "avec le géoréférenceur de QGIS) et envoyez le GeoTIFF obtenu."
            )
        )
    interps = list(src.colorinterp)
    bands = [i for i, interp in enumerate(interps) if interp != ColorInterp.alpha]
    paletted = interps[:1] == [ColorInterp.palette]
    if set(src.dtypes) != {"uint8"} or len(bands) not in (1, 3):
        raise _refused(
            _(
                "Image non prise en charge (%(count)d bande(s) de type %(dtype)s) : seules les images "
                "8 bits en niveaux de gris, en couleurs RVB (avec ou sans transparence) ou à palette "
                "sont acceptées."
            )
            % {"count": src.count, "dtype": ", ".join(sorted(set(src.dtypes)))},
            code="image_non_prise_en_charge",
        )
    # The first block must decode: a truncated file is refused now, not by the worker later.
    src.read(1, window=Window(0, 0, min(width, COG_BLOCKSIZE), min(height, COG_BLOCKSIZE)))
    try:
        footprint = polygon_from_crs_ring(_edge_points(transform, width, height), crs_wkt=crs.to_wkt())
    except InvalidGeometry as exc:
        raise _not_georeferenced(str(exc)) from exc
    epsg = crs.to_epsg()
    label = f"EPSG:{epsg}" if epsg else (crs.to_string() or _("système de coordonnées sans code EPSG"))
    return RasterCheck(
        crs_label=label[:100],
        footprint=footprint,
        width=width,
        height=height,
        bands=len(bands),
        paletted=paletted,
    )


def _edge_points(transform: Any, width: int, height: int, per_edge: int = 8) -> list[tuple[float, float]]:
    """The image's outline in its CRS: corners and points along each edge, clockwise from the top left."""
    steps = [i / per_edge for i in range(per_edge)]
    pixels = (
        [(width * t, 0.0) for t in steps]
        + [(float(width), height * t) for t in steps]
        + [(width * (1 - t), float(height)) for t in steps]
        + [(0.0, height * (1 - t)) for t in steps]
    )
    return [tuple(transform @ pixel) for pixel in pixels]


# --- upload --------------------------------------------------------------------------------------


def raster_upload(
    *,
    project: Project,
    actor: Any,
    upload: Any,
    name: str,
    legend: Any = None,
    style: Any = None,
    description: str = "",
) -> Layer:
    """Check and keep a GeoTIFF as a raster layer; the COG is written by a task after the commit.

    Refusals: 413 over ``URBANISME_RASTER_MAX_BYTES``; 422 « Cette image n'est pas géoréférencée :
    … » for a PNG, a JPEG or a TIFF without CRS or coordinates; 422 for what cannot be drawn
    (16-bit, multispectral) or lies entirely outside the project's zone.
    """
    require_manager(actor, project)
    name = clean_text(name, max_length=TITLE_MAX_LENGTH, field="name", required=True)
    description = clean_text(description, max_length=5000, field="description")
    clean_legend = legend_validate(legend)
    clean_style = style_validate(style, fields=[], defaults=RASTER_STYLE)
    with spooled(upload, limit=int(settings.URBANISME_RASTER_MAX_BYTES), suffix=".tif") as path:
        checked = raster_check(path)
        if region_counts(project, [checked.footprint]) == 0:
            raise outside_region_error(project, image=True)
        with transaction.atomic():
            layer = Layer(
                project=project,
                kind=LayerKind.RASTER,
                name=name,
                slug=unique_layer_slug(project, name),
                description=description,
                style=clean_style,
                legend=clean_legend,
                position=next_layer_position(project),
                source=Path(str(getattr(upload, "name", None) or upload)).name[:300],
                crs=checked.crs_label,
                footprint=checked.footprint,
                raster_status=RasterStatus.PENDING,
            )
            with path.open("rb") as fh:
                layer.raster_original.save(f"{secrets.token_hex(8)}.tif", File(fh), save=False)
            stored = str(layer.raster_original.name)
            try:
                layer.save()
            except Exception:
                layer.raster_original.storage.delete(stored)
                raise
            transaction.on_commit(partial(_enqueue_conversion, layer.pk), robust=True)
    return layer


def _enqueue_conversion(layer_id: int) -> None:
    """After commit; with the broker down the layer stays pending and ``rasters_sweep`` publishes it."""
    from geo.outbox import publish_fast
    from urbanisme.tasks import raster_to_cog_task

    try:
        publish_fast(raster_to_cog_task, [{"layer_id": layer_id}])
    except Exception as exc:
        logger.warning(
            "raster layer %s: conversion not published (%s); the sweeper will retry", layer_id, exc
        )


# --- conversion ----------------------------------------------------------------------------------


def cog_write(source: Path | str, target: Path, *, paletted: bool) -> None:
    """Write ``target`` as a COG in Web Mercator, tiled 256 px, with overviews (see the module's doc)."""
    resampling = "NEAREST" if paletted else "BILINEAR"
    with rasterio.Env(**GDAL_ENV):
        rio_copy(
            str(source),
            str(target),
            RESAMPLING=resampling,
            OVERVIEW_RESAMPLING="NEAREST" if paletted else "AVERAGE",
            **COG_OPTIONS,
        )


def cog_validate(path: Path) -> dict[str, Any]:
    """What tiles need of the file: a tiled GTiff with the COG layout, in EPSG:3857, with overviews."""
    with rasterio.Env(**GDAL_ENV), rasterio.open(path) as cog:
        facts = {
            "driver": cog.driver,
            "layout": cog.tags(ns="IMAGE_STRUCTURE").get("LAYOUT"),
            "tiled": bool(cog.profile.get("tiled")),
            "blocks": cog.block_shapes[0],
            "epsg": cog.crs.to_epsg() if cog.crs else None,
            "overviews": cog.overviews(1),
            "size": (cog.width, cog.height),
        }
        problems = []
        if facts["driver"] != "GTiff" or facts["layout"] != "COG":
            problems.append(_("la structure n'est pas celle d'un COG"))
        if not facts["tiled"] or facts["blocks"] != (COG_BLOCKSIZE, COG_BLOCKSIZE):
            problems.append(_("l'image n'est pas découpée en blocs"))
        if facts["epsg"] != 3857:
            problems.append(_("le système de coordonnées n'est pas EPSG:3857"))
        if max(cog.width, cog.height) > COG_BLOCKSIZE and not facts["overviews"]:
            problems.append(_("les aperçus (overviews) manquent"))
        if not problems:
            # The smallest overview decodes: the file is whole.
            level = facts["overviews"][-1] if facts["overviews"] else 1
            cog.read(1, out_shape=(max(1, cog.height // level), max(1, cog.width // level)))
    if problems:
        raise ConversionError(_("COG invalide : %(list)s.") % {"list": ", ".join(problems)})
    return facts


def raster_to_cog(*, layer_id: int) -> Layer | None:
    """Convert a pending raster layer to its COG and mark it ready, or failed with a French message.

    Idempotent: a layer that is not pending (ready, failed, deleted, re-uploaded meanwhile) is left
    as it is, so a duplicate task (the sweeper's) costs at most one wasted conversion. Errors of the
    file become ``failed``; errors of the machine (``OSError``: disk full, storage away) propagate
    for the task's retries.
    """
    layer = Layer.objects.filter(pk=layer_id, kind=LayerKind.RASTER).first()
    if layer is None or layer.raster_status != RasterStatus.PENDING:
        return layer
    original = str(layer.raster_original.name or "")
    # A conversion is under way: the sweeper leaves it alone for SWEEP_AFTER.
    Layer.objects.filter(pk=layer.pk).update(updated_at=timezone.now())
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="concerto-cog-") as folder:
        target = Path(folder) / "cog.tif"
        try:
            if not original or not layer.raster_original.storage.exists(original):
                raise ConversionError(_("le fichier d'origine est introuvable ; envoyez l'image à nouveau."))
            source = Path(layer.raster_original.path)
            with rasterio.Env(**GDAL_ENV), rasterio.open(source, driver="GTiff") as src:
                paletted = list(src.colorinterp)[:1] == [ColorInterp.palette]
            cog_write(source, target, paletted=paletted)
            facts = cog_validate(target)
        except ConversionError as exc:
            return _mark_failed(layer.pk, original, str(exc))
        except (RasterioError, CPLE_BaseError) as exc:
            return _mark_failed(layer.pk, original, _("GDAL : %(reason)s") % {"reason": str(exc)[:300]})
        seconds = time.perf_counter() - started
        with transaction.atomic():
            locked = Layer.objects.select_for_update().filter(pk=layer.pk).first()
            if (
                locked is None
                or locked.raster_status != RasterStatus.PENDING
                or locked.raster_original.name != original
            ):
                return locked  # deleted, converted by a twin task, or replaced while converting
            previous = locked.raster_cog.name
            with target.open("rb") as fh:
                locked.raster_cog.save(f"{secrets.token_hex(8)}.tif", File(fh), save=False)
            locked.raster_status = RasterStatus.READY
            locked.raster_error = ""
            locked.save(update_fields=["raster_cog", "raster_status", "raster_error", "updated_at"])
            if previous:
                transaction.on_commit(partial(locked.raster_cog.storage.delete, previous), robust=True)
    logger.info(
        "raster layer %s converted to COG in %.2f s (%s x %s px, overviews %s)",
        layer_id,
        seconds,
        *facts["size"],
        facts["overviews"],
    )
    return locked


def _mark_failed(layer_id: int, original: str, reason: str) -> Layer | None:
    with transaction.atomic():
        locked = Layer.objects.select_for_update().filter(pk=layer_id).first()
        if (
            locked is None
            or locked.raster_status != RasterStatus.PENDING
            or locked.raster_original.name != original
        ):
            return locked
        locked.raster_status = RasterStatus.FAILED
        locked.raster_error = _("La conversion de l'image a échoué : %(reason)s") % {"reason": reason}
        locked.save(update_fields=["raster_status", "raster_error", "updated_at"])
    logger.warning("raster layer %s: conversion failed: %s", layer_id, reason)
    return locked


def rasters_unconverted_ids(*, older_than: timedelta = SWEEP_AFTER, limit: int = 100) -> list[int]:
    """Pending raster layers without news for ``older_than`` (task lost, worker crashed), oldest first."""
    now = timezone.now()
    return list(
        Layer.objects.filter(
            kind=LayerKind.RASTER,
            raster_status=RasterStatus.PENDING,
            updated_at__lte=now - older_than,
            created_at__gt=now - GIVE_UP_AFTER,
        )
        .order_by("updated_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def rasters_give_up(*, older_than: timedelta = GIVE_UP_AFTER) -> int:
    """Mark failed the layers still pending long after their upload; returns how many."""
    return Layer.objects.filter(
        kind=LayerKind.RASTER,
        raster_status=RasterStatus.PENDING,
        created_at__lte=timezone.now() - older_than,
    ).update(
        raster_status=RasterStatus.FAILED,
        raster_error=_(
            "La conversion de l'image n'a pas abouti : envoyez-la à nouveau ou contactez l'administrateur."
        ),
        updated_at=timezone.now(),
    )


# --- tiles ---------------------------------------------------------------------------------------


def raster_tile_key(layer: Layer) -> str:
    """The name of the layer under ``/tiles/raster/`` (stable, whatever the layer's slug becomes)."""
    return f"{TILE_KEY_PREFIX}{layer.pk}"


def raster_tile_lookup(name: str) -> dict[str, Any] | None:
    """``settings.TILES_RASTER_LOOKUP``: the COG of a ready, published raster of a published project.

    One indexed query per tile request (before the ETag, so unpublishing takes effect at once).
    """
    if not name.startswith(TILE_KEY_PREFIX) or not name[len(TILE_KEY_PREFIX) :].isdigit():
        return None
    layer = (
        Layer.objects.filter(
            pk=int(name[len(TILE_KEY_PREFIX) :]),
            kind=LayerKind.RASTER,
            raster_status=RasterStatus.READY,
            is_published=True,
            project__status=ProjectStatus.PUBLISHED,
        )
        .only("pk", "name", "raster_cog")
        .first()
    )
    if layer is None or not layer.raster_cog:
        return None
    return {"path": layer.raster_cog.path, "title": layer.name}
