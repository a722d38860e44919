"""Planning layers of a project: imported vector files, the team's annotations, style and legend.

Writes, like ``urbanisme.services``: keyword-only, atomic, the permission checked here
(``permissions.can_manage_project``) so that the API, the pages and the command share the rules;
refusals are ``urbanisme.errors`` with French messages.

A vector file goes through ``geo.importers.read_layer`` — the code that imports zones — so that
GeoJSON, Shapefile (zipped) and GeoPackage in any declared CRS land in the storage SRID, repaired,
with their attributes kept (JSON-safe) in ``LayerFeature.properties``. The file is read and checked
whole before anything is written. Raster layers (GeoTIFF → COG) live in ``urbanisme.rasters``.

Uploaded files reach GDAL only after their first bytes showed one of the accepted formats: GDAL
would open far more (a VRT, for one, can point at any file of the server).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry
from django.db import connection, transaction
from django.db.models import Max
from django.utils.text import slugify
from django.utils.translation import gettext as _

from geo.importers import GeometryKind, ImportFileError, format_list, read_layer
from geo.shapes import clean_drawn_shape
from geo.srid import InvalidGeometry, geometry_from_geojson, sql_geography
from urbanisme import permissions
from urbanisme.errors import Conflict, Forbidden, ValidationFailed
from urbanisme.models import TEXT_MAX_LENGTH, TITLE_MAX_LENGTH, Layer, LayerFeature, LayerKind, Project
from urbanisme.services import clean_text  # one text cleaner for the whole domain

# A layer must have something to do with its project: at least one feature this close to the
# perimeter (a file in the wrong CRS or for another town lands kilometres away).
REGION_MARGIN_M = 5000
MAX_FEATURES = 100_000
# A zipped Shapefile may not unpack to more than this many times the upload limit (zip bombs).
ZIP_RATIO = 5
HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
DASH_ARRAY = re.compile(r"^\s*\d{1,3}(\.\d+)?([\s,]+\d{1,3}(\.\d+)?){0,7}\s*$")
DEFAULT_STYLE: dict[str, Any] = {
    "color": "#3366cc",
    "weight": 2,
    "opacity": 1.0,
    "fill_color": "#3366cc",
    "fill_opacity": 0.2,
}
ANNOTATION_STYLE: dict[str, Any] = {**DEFAULT_STYLE, "color": "#c2410c", "fill_color": "#c2410c"}
# A raster has no attributes and no outline: its style is its opacity.
RASTER_STYLE: dict[str, Any] = {"opacity": 1.0}
STYLE_KEYS = ("color", "fill_color", "weight", "opacity", "fill_opacity", "dash_array", "label_field")
LEGEND_MAX_ENTRIES = 50
LEGEND_SHAPES = ("polygon", "line", "point")
_ZIP_MAGIC = b"PK\x03\x04"
_GPKG_MAGIC = b"SQLite format 3\x00"


@dataclass
class VectorImport:
    """What an import did: the layer, how many features, the CRS read, repairs and warnings."""

    layer: Layer
    created: bool
    features: int
    crs: str
    source: str
    repaired_fids: list[int] = field(default_factory=list)
    outside_region: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def repaired(self) -> int:
        return len(self.repaired_fids)

    def lines(self) -> list[str]:
        """The summary in French, one line per fact (for the management command)."""
        lines = [
            _("Couche « %(name)s » (%(slug)s) du projet « %(project)s »")
            % {"name": self.layer.name, "slug": self.layer.slug, "project": self.layer.project.slug},
            _("Système de coordonnées lu : %(crs)s") % {"crs": self.crs},
            _("Objets importés : %(count)s") % {"count": self.features},
            _("Géométries réparées : %(count)s") % {"count": self.repaired},
        ]
        lines.extend(_("Attention : %(warning)s") % {"warning": warning} for warning in self.warnings)
        return lines


# --- permission and small helpers ----------------------------------------------------------------


def require_manager(actor: Any, project: Project) -> None:
    if not permissions.can_manage_project(actor, project):
        raise Forbidden(_("Vous n'avez pas les droits nécessaires sur ce projet."))


def _clean_text(value: Any, *, max_length: int, field_name: str, required: bool = False) -> str:
    return clean_text(
        None if value is None else str(value), max_length=max_length, field=field_name, required=required
    )


def unique_layer_slug(project: Project, name: str) -> str:
    base = slugify(name)[:90] or "couche"
    taken = set(project.layers.values_list("slug", flat=True))
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def next_layer_position(project: Project) -> int:
    current = project.layers.aggregate(top=Max("position"))["top"]
    return 0 if current is None else current + 1


def _strip_nul(value: Any) -> Any:
    """PostgreSQL's jsonb refuses U+0000, which a GeoJSON string may hold."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_strip_nul(item) for item in value]
    if isinstance(value, dict):
        return {_strip_nul(key): _strip_nul(item) for key, item in value.items()}
    return value


def _too_big(limit: int) -> ValidationFailed:
    return ValidationFailed(
        {"file": [_("Fichier trop volumineux : %(max)d Mo au plus.") % {"max": limit // (1024 * 1024)}]},
        status=413,
        code="fichier_trop_gros",
    )


def _safe_stem(name: str) -> str:
    """The upload's own stem, kept to safe characters: GDAL names a GeoJSON's layer after it."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(name).stem).strip("_")[:60]
    return stem or "upload"


@contextlib.contextmanager
def spooled(path_or_upload: Any, *, limit: int, suffix: str = "") -> Iterator[Path]:
    """The upload as a file of a private temporary folder (removed afterwards), its size checked.

    ``path_or_upload`` is a path (the management command: linked, not copied) or an uploaded file
    (the API), which is streamed in chunks, never read into memory whole.
    """
    folder = Path(tempfile.mkdtemp(prefix="concerto-couche-"))
    try:
        if isinstance(path_or_upload, str | os.PathLike):
            source = Path(path_or_upload)
            if not source.is_file():
                raise ValidationFailed({"file": [_("Fichier introuvable : %(path)s") % {"path": source}]})
            if source.stat().st_size > limit:
                raise _too_big(limit)
            target = folder / f"{_safe_stem(source.name)}{suffix or source.suffix.lower()}"
            target.symlink_to(source.resolve())
        elif hasattr(path_or_upload, "temporary_file_path"):
            # A large upload Django already wrote to disk: linked, not copied a second time.
            name = str(getattr(path_or_upload, "name", "") or "")
            if int(path_or_upload.size) > limit:
                raise _too_big(limit)
            target = folder / f"{_safe_stem(name)}{suffix or Path(name).suffix.lower()}"
            target.symlink_to(Path(path_or_upload.temporary_file_path()).resolve())
        else:
            name = str(getattr(path_or_upload, "name", "") or "")
            target = folder / f"{_safe_stem(name)}{suffix or Path(name).suffix.lower()}"
            written = 0
            with target.open("wb") as out:
                chunks = (
                    path_or_upload.chunks()
                    if hasattr(path_or_upload, "chunks")
                    else iter(partial(path_or_upload.read, 1024 * 1024), b"")
                )
                for chunk in chunks:
                    written += len(chunk)
                    if written > limit:
                        raise _too_big(limit)
                    out.write(chunk)
        if target.stat().st_size == 0:
            raise ValidationFailed({"file": [_("Le fichier est vide.")]})
        yield target
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def vector_format(path: Path) -> str:
    """``geojson``, ``gpkg`` or ``zip`` from the first bytes (never from the name alone)."""
    with path.open("rb") as fh:
        head = fh.read(64)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"{"):
        return "geojson"
    if head.startswith(_GPKG_MAGIC):
        return "gpkg"
    if head.startswith(_ZIP_MAGIC):
        return "zip"
    raise ValidationFailed(
        {
            "file": [
                _(
                    "Format non accepté : envoyez un GeoJSON, un Shapefile zippé (.zip avec .shp, .shx, "
                    ".dbf et .prj) ou un GeoPackage (.gpkg)."
                )
            ]
        },
        status=422,
        code="format_non_accepte",
    )


def _check_zip(path: Path, limit: int) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValidationFailed(
            {"file": [_("Archive ZIP illisible.")]}, status=422, code="fichier_invalide"
        ) from exc
    if unpacked > ZIP_RATIO * limit:
        raise _too_big(limit)


def region_counts(project: Project, geometries: Sequence[GEOSGeometry]) -> int:
    """How many of ``geometries`` lie within ``REGION_MARGIN_M`` of the project's perimeter (one query)."""
    if not geometries:
        return 0
    near = f"ST_DWithin({sql_geography('ST_GeomFromEWKB(b.wkb)')}, {sql_geography('p.perimeter')}, %s)"
    sql = (
        f"SELECT count(*) FILTER (WHERE {near}) FROM urbanisme_project p, unnest(%s::bytea[]) AS b(wkb) "
        "WHERE p.id = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [REGION_MARGIN_M, [bytes(g.ewkb) for g in geometries], project.pk])
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def outside_region_error(project: Project, *, image: bool = False) -> ValidationFailed:
    values = {"project": project.title, "km": REGION_MARGIN_M // 1000}
    if image:
        message = _(
            "L'image se trouve entièrement hors de la zone du projet « %(project)s » (son périmètre et "
            "%(km)d km autour). Vérifiez son géoréférencement (système de coordonnées) ou le projet choisi."
        )
    else:
        message = _(
            "Le fichier se trouve entièrement hors de la zone du projet « %(project)s » (son périmètre et "
            "%(km)d km autour). Vérifiez le système de coordonnées du fichier (option source_srid, par "
            "exemple 2154 pour Lambert-93) ou le projet choisi."
        )
    return ValidationFailed({"file": [message % values]}, status=422, code="hors_zone_du_projet")


# --- style and legend ----------------------------------------------------------------------------


def _number(value: Any, low: float, high: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    if not low <= number <= high:  # NaN fails too
        return None
    return int(number) if number.is_integer() else number


def style_validate(
    style: Mapping[str, Any] | None,
    *,
    fields: Collection[str] | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The style as stored, or :class:`ValidationFailed` listing each bad key in French.

    Whitelist: ``color`` and ``fill_color`` (``#rrggbb``), ``weight`` (0–20 px), ``opacity`` and
    ``fill_opacity`` (0–1), ``dash_array`` (« 4 2 », up to 8 lengths) and ``label_field``, which
    must name an attribute of the layer's features when ``fields`` is given. Keys left out take
    ``defaults``; a ``None`` value removes the key.
    """
    if style is None:
        style = {}
    if not isinstance(style, Mapping):
        raise ValidationFailed({"style": [_("Le style doit être un objet JSON (clé : valeur).")]})
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = dict(defaults or {})

    def bad(key: str, message: str) -> None:
        errors.setdefault(f"style.{key}", []).append(message)

    for key, value in style.items():
        if key not in STYLE_KEYS:
            bad(
                str(key),
                _("Clé de style inconnue. Clés possibles : %(keys)s.") % {"keys": ", ".join(STYLE_KEYS)},
            )
            continue
        if value is None or value == "":
            cleaned.pop(key, None)
            continue
        if key in ("color", "fill_color"):
            if not isinstance(value, str) or not HEX_COLOR.match(value):
                bad(key, _("Couleur attendue au format #rrggbb (par exemple #2e7d32)."))
            else:
                cleaned[key] = value.lower()
        elif key == "weight":
            number = _number(value, 0, 20)
            if number is None:
                bad(key, _("Épaisseur attendue : un nombre de 0 à 20 (pixels)."))
            else:
                cleaned[key] = number
        elif key in ("opacity", "fill_opacity"):
            number = _number(value, 0, 1)
            if number is None:
                bad(key, _("Opacité attendue : un nombre de 0 (transparent) à 1 (opaque)."))
            else:
                cleaned[key] = number
        elif key == "dash_array":
            if not isinstance(value, str) or not DASH_ARRAY.match(value):
                bad(key, _("Pointillés attendus : jusqu'à 8 longueurs en pixels, par exemple « 6 4 »."))
            else:
                cleaned[key] = " ".join(re.split(r"[\s,]+", value.strip()))
        elif key == "label_field":
            if not isinstance(value, str):
                bad(key, _("Le champ d'étiquette doit être un nom de champ."))
            elif fields is not None and value not in fields:
                bad(
                    key,
                    _("Champ d'étiquette « %(field)s » absent des attributs de la couche (%(fields)s).")
                    % {"field": value, "fields": ", ".join(sorted(fields)) or _("aucun attribut")},
                )
            else:
                cleaned[key] = value
    if errors:
        raise ValidationFailed(errors)
    return cleaned


def legend_validate(legend: Any) -> list[dict[str, str]]:
    """A list of ``{"label", "color"[, "shape"]}`` entries (``shape``: polygon, line or point)."""
    if legend is None:
        return []
    if not isinstance(legend, list | tuple):
        raise ValidationFailed({"legend": [_("La légende doit être une liste d'entrées {label, color}.")]})
    if len(legend) > LEGEND_MAX_ENTRIES:
        raise ValidationFailed(
            {"legend": [_("%(max)d entrées de légende au plus.") % {"max": LEGEND_MAX_ENTRIES}]}
        )
    errors: dict[str, list[str]] = {}
    cleaned: list[dict[str, str]] = []
    for index, entry in enumerate(legend):
        where = f"legend[{index}]"
        if not isinstance(entry, Mapping):
            errors.setdefault(where, []).append(_("Entrée attendue : {label, color}."))
            continue
        unknown = set(entry) - {"label", "color", "shape"}
        if unknown:
            errors.setdefault(where, []).append(
                _("Clés inconnues : %(keys)s (possibles : label, color, shape).")
                % {"keys": ", ".join(sorted(map(str, unknown)))}
            )
        label = entry.get("label")
        if not isinstance(label, str) or not label.strip() or len(label.strip()) > 100:
            errors.setdefault(f"{where}.label", []).append(_("Libellé obligatoire, 100 caractères au plus."))
        color = entry.get("color")
        if not isinstance(color, str) or not HEX_COLOR.match(color):
            errors.setdefault(f"{where}.color", []).append(_("Couleur attendue au format #rrggbb."))
        shape = entry.get("shape")
        if shape is not None and shape not in LEGEND_SHAPES:
            errors.setdefault(f"{where}.shape", []).append(_("Forme attendue : polygon, line ou point."))
        if not errors:
            item = {"label": str(label).strip(), "color": str(color).lower()}
            if shape:
                item["shape"] = str(shape)
            cleaned.append(item)
    if errors:
        raise ValidationFailed(errors)
    return cleaned


def layer_attribute_names(layer: Layer) -> list[str]:
    """The attribute names of the layer's features, as the label field may use them."""
    if layer.kind == LayerKind.ANNOTATION:
        return ["title"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT jsonb_object_keys(properties) FROM urbanisme_layerfeature WHERE layer_id = %s",
            [layer.pk],
        )
        return sorted(row[0] for row in cursor.fetchall())


# --- vector import -------------------------------------------------------------------------------


def vector_layer_import(
    *,
    project: Project,
    actor: Any,
    path_or_upload: Any,
    name: str | None = None,
    style: Mapping[str, Any] | None = None,
    legend: Any = None,
    layer: str | None = None,
    source_srid: int | None = None,
    label_field: str | None = None,
    replace_layer: Layer | None = None,
    description: str = "",
) -> VectorImport:
    """Import a GeoJSON, zipped Shapefile or GeoPackage as a vector layer of ``project``.

    ``layer`` chooses the layer inside a file that holds several (GeoPackage); ``source_srid``
    overrides (or supplies) the file's CRS. With ``replace_layer`` the features of that vector
    layer are replaced by the file's (its name, style and legend kept unless given), so that a
    corrected file keeps the layer's URL. A file whose features all lie outside the project's zone
    (its perimeter and ``REGION_MARGIN_M`` around) is refused: it is almost always a CRS mistake.
    """
    require_manager(actor, project)
    if replace_layer is not None and (
        replace_layer.project_id != project.pk or replace_layer.kind != LayerKind.VECTOR
    ):
        raise ValidationFailed({"replace": [_("Seule une couche vecteur de ce projet peut être remplacée.")]})
    if replace_layer is None or name is not None:
        name = _clean_text(name, max_length=TITLE_MAX_LENGTH, field_name="name", required=True)
    description = _clean_text(description, max_length=TEXT_MAX_LENGTH, field_name="description")
    clean_legend = legend_validate(legend) if legend is not None else None
    limit = int(settings.URBANISME_VECTOR_MAX_BYTES)
    original = Path(str(getattr(path_or_upload, "name", None) or path_or_upload)).name

    try:
        if isinstance(path_or_upload, str | os.PathLike) and Path(path_or_upload).suffix.lower() == ".shp":
            # A Shapefile on disk (the command) is read in place, beside its .shx, .dbf and .prj.
            read = read_layer(
                Path(path_or_upload), kind=GeometryKind.ANY, layer=layer, source_srid=source_srid
            )
        else:
            with spooled(path_or_upload, limit=limit) as path:
                kind = vector_format(path)
                if kind == "zip":
                    _check_zip(path, limit)
                # GDAL chooses the driver from the name too: the extension of the content.
                typed = path.rename(path.with_suffix(f".{kind}"))
                read = read_layer(typed, kind=GeometryKind.ANY, layer=layer, source_srid=source_srid)
    except ImportFileError as exc:
        raise ValidationFailed({"file": [str(exc)]}, status=422, code="fichier_invalide") from exc

    if len(read.records) > MAX_FEATURES:
        raise ValidationFailed(
            {"file": [_("%(max)d objets au plus par couche.") % {"max": MAX_FEATURES}]},
            status=422,
            code="fichier_invalide",
        )
    inside = region_counts(project, [record.geometry for record in read.records])
    if inside == 0:
        raise outside_region_error(project)
    warnings = list(read.warnings)
    outside = len(read.records) - inside
    if outside:
        warnings.append(
            _("%(count)s objet(s) à plus de %(km)d km du périmètre du projet.")
            % {"count": outside, "km": REGION_MARGIN_M // 1000}
        )
    if read.repaired_fids:
        warnings.append(
            _("Géométries réparées (entités %(fids)s).") % {"fids": format_list(read.repaired_fids)}
        )
    fields = sorted({key for record in read.records for key in record.properties})
    wanted_style = dict(style or {})
    if label_field is not None:
        wanted_style["label_field"] = label_field
    base = replace_layer.style if replace_layer is not None and style is None else DEFAULT_STYLE
    clean_style = style_validate(wanted_style, fields=fields, defaults=base)
    if replace_layer is not None and style is None and clean_style.get("label_field") not in (None, *fields):
        clean_style.pop("label_field")  # the new file dropped the field the label used
        warnings.append(_("Le champ d'étiquette n'existe plus dans le fichier : étiquettes retirées."))

    with transaction.atomic():
        if replace_layer is not None:
            target = Layer.objects.select_for_update().get(pk=replace_layer.pk)
            target.features.all().delete()
            if name is not None:
                target.name = name
            if description:
                target.description = description
            created = False
        else:
            assert name is not None
            target = Layer(
                project=project,
                kind=LayerKind.VECTOR,
                name=name,
                slug=unique_layer_slug(project, name),
                description=description,
                position=next_layer_position(project),
            )
            created = True
        target.style = clean_style
        if clean_legend is not None:
            target.legend = clean_legend
        target.source = f"{original}:{read.layer_name}"[:300]
        target.crs = read.crs[:100]
        target.save()
        LayerFeature.objects.bulk_create(
            [
                LayerFeature(
                    layer=target,
                    geom=record.geometry,
                    properties=_strip_nul(record.properties),
                    source_id=str(record.fid),
                    created_by=actor if getattr(actor, "is_authenticated", False) else None,
                )
                for record in read.records
            ],
            batch_size=1000,
        )
    return VectorImport(
        layer=target,
        created=created,
        features=len(read.records),
        crs=read.crs,
        source=target.source,
        repaired_fids=list(read.repaired_fids),
        outside_region=outside,
        warnings=warnings,
    )


# --- annotations ---------------------------------------------------------------------------------


def annotation_layer_get_or_create(project: Project) -> Layer:
    """The project's annotation layer (the first one), created published and empty when missing."""
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=project.pk).first()  # one creator at a time
        existing = project.layers.filter(kind=LayerKind.ANNOTATION).order_by("position", "pk").first()
        if existing is not None:
            return existing
        name = _("Annotations de l'équipe")
        return Layer.objects.create(
            project=project,
            kind=LayerKind.ANNOTATION,
            name=name,
            slug=unique_layer_slug(project, "annotations"),
            style=dict(ANNOTATION_STYLE),
            position=next_layer_position(project),
        )


@transaction.atomic
def annotation_layer_create(
    *,
    project: Project,
    actor: Any,
    name: str,
    style: Mapping[str, Any] | None = None,
    legend: Any = None,
    description: str = "",
) -> Layer:
    """Another layer the team draws in (« Variante B », « Stationnement »…)."""
    require_manager(actor, project)
    name = _clean_text(name, max_length=TITLE_MAX_LENGTH, field_name="name", required=True)
    return Layer.objects.create(
        project=project,
        kind=LayerKind.ANNOTATION,
        name=name,
        slug=unique_layer_slug(project, name),
        description=_clean_text(description, max_length=TEXT_MAX_LENGTH, field_name="description"),
        style=style_validate(style, fields=["title"], defaults=ANNOTATION_STYLE),
        legend=legend_validate(legend),
        position=next_layer_position(project),
    )


@transaction.atomic
def annotation_add(*, layer: Layer, actor: Any, geometry: Any, title: str, text: str = "") -> LayerFeature:
    """A point, line or polygon drawn by the team, with a title and a text, on an annotation layer.

    The shape goes through ``geo.shapes.clean_drawn_shape`` (the checks of contributions) and must
    lie near the project (``REGION_MARGIN_M``).
    """
    layer = Layer.objects.select_related("project").get(pk=layer.pk)
    require_manager(actor, layer.project)
    if layer.kind != LayerKind.ANNOTATION:
        raise Conflict(
            _("La couche « %(name)s » n'est pas une couche d'annotations : on n'y dessine pas.")
            % {"name": layer.name}
        )
    title = _clean_text(title, max_length=TITLE_MAX_LENGTH, field_name="title", required=True)
    text = _clean_text(text, max_length=TEXT_MAX_LENGTH, field_name="text")
    try:
        geom = geometry if isinstance(geometry, GEOSGeometry) else geometry_from_geojson(geometry)
        shape = clean_drawn_shape(geom)
    except InvalidGeometry as exc:
        raise ValidationFailed({"geometry": [str(exc)]}, status=422, code="geometrie_invalide") from exc
    if region_counts(layer.project, [shape.geometry]) == 0:
        raise ValidationFailed(
            {
                "geometry": [
                    _("L'annotation doit être placée à moins de %(km)d km du périmètre du projet.")
                    % {"km": REGION_MARGIN_M // 1000}
                ]
            },
            status=422,
            code="hors_zone_du_projet",
        )
    return LayerFeature.objects.create(
        layer=layer,
        geom=shape.geometry,
        title=title,
        text=text,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )


@transaction.atomic
def annotation_delete(*, feature: LayerFeature, actor: Any) -> None:
    feature = LayerFeature.objects.select_related("layer__project").get(pk=feature.pk)
    require_manager(actor, feature.layer.project)
    if feature.layer.kind != LayerKind.ANNOTATION:
        raise Conflict(_("Seules les annotations se suppriment une à une ; réimportez le fichier."))
    feature.delete()


# --- update and delete ---------------------------------------------------------------------------


@transaction.atomic
def layer_update(
    *,
    layer: Layer,
    actor: Any,
    name: str | None = None,
    description: str | None = None,
    style: Mapping[str, Any] | None = None,
    legend: Any = None,
    position: int | None = None,
    is_published: bool | None = None,
) -> Layer:
    """Change what is given; ``style`` replaces the whole style (validated, defaults filled in)."""
    layer = Layer.objects.select_for_update().select_related("project").get(pk=layer.pk)
    require_manager(actor, layer.project)
    if name is not None:
        layer.name = _clean_text(name, max_length=TITLE_MAX_LENGTH, field_name="name", required=True)
    if description is not None:
        layer.description = _clean_text(description, max_length=TEXT_MAX_LENGTH, field_name="description")
    if style is not None:
        defaults = {
            LayerKind.ANNOTATION: ANNOTATION_STYLE,
            LayerKind.RASTER: RASTER_STYLE,
        }.get(LayerKind(layer.kind), DEFAULT_STYLE)
        fields = layer_attribute_names(layer) if layer.kind != LayerKind.RASTER else []
        layer.style = style_validate(style, fields=fields, defaults=defaults)
    if legend is not None:
        layer.legend = legend_validate(legend)
    if position is not None:
        if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position <= 1000:
            raise ValidationFailed({"position": [_("Position attendue : un entier de 0 à 1000.")]})
        layer.position = position
    if is_published is not None:
        if not isinstance(is_published, bool):
            raise ValidationFailed({"is_published": [_("Valeur attendue : true ou false.")]})
        layer.is_published = is_published
    layer.save()
    return layer


@transaction.atomic
def layer_delete(*, layer: Layer, actor: Any) -> None:
    """Delete the layer, its features and (after commit) its files."""
    layer = Layer.objects.select_for_update().select_related("project").get(pk=layer.pk)
    require_manager(actor, layer.project)
    files = [f for f in (layer.raster_original, layer.raster_cog) if f and f.name]
    names = [(f.storage, str(f.name)) for f in files]
    layer.delete()
    for storage, name in names:
        transaction.on_commit(partial(storage.delete, name), robust=True)
