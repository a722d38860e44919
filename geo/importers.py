"""Read GIS files (GeoJSON, Shapefile, zipped Shapefile, GeoPackage) into plain records.

Everything that depends on the file lives here: opening it through GDAL, choosing the layer,
reading its CRS, checking fields and geometry types, reprojecting to ``STORAGE_SRID`` and
repairing geometries. ``geo.services`` then writes the records without ever touching GDAL, so the
import rules (upsert, services, categories) are tested independently of the file formats.

Every refusal raises :class:`ImportFileError` with a French message a person can act on, *before*
anything is written: a file is imported whole or not at all.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any

from django.contrib.gis.gdal import (
    CoordTransform,
    DataSource,
    GDALException,
    OGRGeometry,
    SpatialReference,
    SRSException,
)
from django.contrib.gis.geos import (
    GeometryCollection,
    GEOSException,
    GEOSGeometry,
    LineString,
    MultiLineString,
    MultiPoint,
    MultiPolygon,
    Polygon,
)
from django.utils.translation import gettext as _

from geo.srid import STORAGE_SRID

# How many faulty features a refusal message lists before "and N more".
MAX_LISTED = 10

# OGR geometry type codes once the 2.5D flag and the ISO Z/M offsets are removed.
_POLYGON_TYPES = {3, 6, 10, 12, 14, 15, 16, 17}  # Polygon, MultiPolygon, CurvePolygon, MultiSurface...
_LINE_TYPES = {2, 5, 8, 9, 11, 13}  # LineString, MultiLineString, CircularString, CompoundCurve...
_POINT_TYPES = {1, 4}
_UNKNOWN_TYPES = {0, 7}  # Unknown (mixed) and GeometryCollection: checked feature by feature.
_NO_GEOMETRY = 100


class ImportFileError(Exception):
    """A file, layer or feature that cannot be imported; the message is French and says what to do."""


class GeometryKind(StrEnum):
    POLYGON = "polygon"
    LINE = "line"
    # Points, lines or polygons, mixed in one layer (planning layers): each feature keeps its kind.
    ANY = "any"


@dataclass(frozen=True)
class FeatureRecord:
    """One feature read from a file: its FID, its geometry in ``STORAGE_SRID`` and its fields."""

    fid: int
    # MultiPolygon or MultiLineString, valid, SRID = STORAGE_SRID; with GeometryKind.ANY also
    # Point or MultiPoint.
    geometry: GEOSGeometry
    properties: dict[str, Any]  # JSON-safe values (dates as ISO strings), keyed by the file's names


@dataclass
class LayerRead:
    """A whole layer read and checked; ``fields`` maps each requested field to its name in the file."""

    path: Path
    layer_name: str
    crs: str
    records: list[FeatureRecord]
    fields: dict[str, str]
    repaired_fids: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def source(self) -> str:
        """What ``source`` columns store: ``<file stem>:<layer name>``, stable across re-imports."""
        return f"{self.path.stem}:{self.layer_name}"[:200]

    @property
    def repaired(self) -> int:
        return len(self.repaired_fids)


def read_layer(
    path: str | Path,
    *,
    kind: GeometryKind,
    required_fields: Sequence[str] = (),
    optional_fields: Sequence[str] = (),
    layer: str | None = None,
    source_srid: int | None = None,
) -> LayerRead:
    """Read one layer of ``path`` into records, or raise :class:`ImportFileError`.

    ``required_fields`` must exist (matched exactly, else case-insensitively, since Shapefile
    truncates and upper-cases names); ``optional_fields`` are resolved the same way when present
    in the layer. ``source_srid`` overrides the CRS the file declares, and is required when it
    declares none: guessing a CRS would silently put zones in the wrong place.
    """
    path = Path(path)
    datasource = _open(path, layer)
    ogr_layer = _choose_layer(datasource, path, layer)
    name = ogr_layer.name

    _check_layer_type(ogr_layer.geom_type.num, name, kind)
    if len(ogr_layer) == 0:
        raise ImportFileError(
            _("La couche « %(layer)s » est vide : aucune entité à importer.") % {"layer": name}
        )

    available = list(ogr_layer.fields)
    resolved = {requested: _resolve_field(requested, available, name) for requested in required_fields}
    for requested in optional_fields:
        if requested not in resolved:
            resolved[requested] = _resolve_field(requested, available, name)

    source_srs, crs_label, warnings = _source_srs(ogr_layer.srs, source_srid, name)
    transform = None if source_srs.srid == STORAGE_SRID else _transform_to_storage(source_srs)

    records: list[FeatureRecord] = []
    repaired: list[int] = []
    problems: list[str] = []
    for feature in ogr_layer:
        fid = feature.fid
        try:
            ogr_geom = feature.geom
        except GDALException:
            problems.append(_("entité %(fid)s : géométrie absente") % {"fid": fid})
            continue
        try:
            geometry, was_repaired = _to_storage_geometry(ogr_geom, transform, kind)
        except ImportFileError as exc:
            problems.append(_("entité %(fid)s : %(reason)s") % {"fid": fid, "reason": exc})
            continue
        if was_repaired:
            repaired.append(fid)
        properties = {name_: _field_value(feature, name_) for name_ in feature.fields}
        records.append(FeatureRecord(fid=fid, geometry=geometry, properties=properties))

    if problems:
        raise ImportFileError(
            _(
                "Import refusé, aucune donnée n'a été importée. Entités en erreur dans « %(layer)s » : %(list)s"
            )
            % {"layer": name, "list": format_list(problems)}
        )
    return LayerRead(
        path=path,
        layer_name=name,
        crs=crs_label,
        records=records,
        fields=resolved,
        repaired_fids=repaired,
        warnings=warnings,
    )


def format_list(items: Iterable[object]) -> str:
    """``a ; b ; c`` with at most ``MAX_LISTED`` items, so that a bad file does not flood the terminal."""
    texts = [str(item) for item in items]
    shown = " ; ".join(texts[:MAX_LISTED])
    if len(texts) > MAX_LISTED:
        shown += " " + _("(et %(count)s autres)") % {"count": len(texts) - MAX_LISTED}
    return shown


# --- Opening the file and choosing the layer -------------------------------------------------


def _open(path: Path, layer: str | None) -> DataSource:
    if not path.is_file():
        raise ImportFileError(_("Fichier introuvable : %(path)s") % {"path": path})
    gdal_path = _zip_path(path, layer) if path.suffix.lower() == ".zip" else str(path)
    try:
        return DataSource(gdal_path)
    except GDALException as exc:
        raise ImportFileError(
            _(
                "Fichier illisible : %(path)s. Formats acceptés : GeoJSON, Shapefile (.shp ou .zip), "
                "GeoPackage."
            )
            % {"path": path}
        ) from exc


def _zip_path(path: Path, layer: str | None) -> str:
    """The ``/vsizip/`` path of the Shapefile inside an archive (its stem is its layer name)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = [n for n in archive.namelist() if n.lower().endswith(".shp")]
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportFileError(_("Archive ZIP illisible : %(path)s") % {"path": path}) from exc
    if not members:
        raise ImportFileError(_("L'archive %(path)s ne contient aucun fichier .shp.") % {"path": path})
    if layer is not None:
        chosen = [m for m in members if PurePosixPath(m).stem == layer]
        if not chosen:
            raise _unknown_layer(layer, [PurePosixPath(m).stem for m in members])
    elif len(members) > 1:
        raise _several_layers([PurePosixPath(m).stem for m in members])
    else:
        chosen = members
    return f"/vsizip/{path.resolve()}/{chosen[0]}"


def _choose_layer(datasource: DataSource, path: Path, layer: str | None) -> Any:
    names = [datasource[index].name for index in range(datasource.layer_count)]
    if not names:
        raise ImportFileError(_("Le fichier %(path)s ne contient aucune couche.") % {"path": path})
    if layer is None:
        if len(names) > 1:
            raise _several_layers(names)
        return datasource[0]
    if layer not in names:
        raise _unknown_layer(layer, names)
    return datasource[names.index(layer)]


def _unknown_layer(layer: str, names: list[str]) -> ImportFileError:
    return ImportFileError(
        _("Couche « %(layer)s » introuvable. Couches disponibles : %(names)s.")
        % {"layer": layer, "names": ", ".join(names)}
    )


def _several_layers(names: list[str]) -> ImportFileError:
    return ImportFileError(
        _("Le fichier contient plusieurs couches (%(names)s) : choisissez-en une (option --layer).")
        % {"names": ", ".join(names)}
    )


def _resolve_field(requested: str, available: list[str], layer: str) -> str:
    if requested in available:
        return requested
    folded = [name for name in available if name.casefold() == requested.casefold()]
    if len(folded) == 1:
        return folded[0]
    raise ImportFileError(
        _("Champ « %(field)s » absent de la couche « %(layer)s ». Champs disponibles : %(fields)s.")
        % {"field": requested, "layer": layer, "fields": ", ".join(available) or _("aucun")}
    )


def _flat_type(code: int) -> int:
    """The OGR geometry type without 2.5D flag nor ISO Z/M offsets (1003 → 3, 0x80000003 → 3)."""
    code &= 0x7FFFFFFF
    return code if code == _NO_GEOMETRY else code % 1000


def _check_layer_type(code: int, layer: str, kind: GeometryKind) -> None:
    flat = _flat_type(code)
    if kind is GeometryKind.ANY and flat != _NO_GEOMETRY:
        return
    expected = _POLYGON_TYPES if kind is GeometryKind.POLYGON else _LINE_TYPES
    if flat in expected or flat in _UNKNOWN_TYPES:
        return
    found = {
        _NO_GEOMETRY: _("aucune géométrie"),
        **dict.fromkeys(_POINT_TYPES, _("des points")),
        **dict.fromkeys(_LINE_TYPES, _("des lignes")),
        **dict.fromkeys(_POLYGON_TYPES, _("des polygones")),
    }.get(flat, _("des géométries de type %(code)s") % {"code": code})
    wanted = {
        GeometryKind.POLYGON: _("des polygones"),
        GeometryKind.LINE: _("des lignes"),
        GeometryKind.ANY: _("des points, des lignes ou des polygones"),
    }[kind]
    raise ImportFileError(
        _("La couche « %(layer)s » contient %(found)s ; elle doit contenir %(wanted)s.")
        % {"layer": layer, "found": found, "wanted": wanted}
    )


# --- Coordinate reference systems -------------------------------------------------------------


def _source_srs(
    declared: SpatialReference | None, source_srid: int | None, layer: str
) -> tuple[SpatialReference, str, list[str]]:
    """The CRS to read coordinates in, its label for the report, and warnings.

    Django's ``SpatialReference`` uses the traditional GIS axis order (x = longitude/easting)
    whatever the authority says, which is how every OGR driver hands coordinates over: GDAL 3's
    EPSG:4326 latitude-first order never reaches us.
    """
    warnings: list[str] = []
    declared_label = _crs_label(declared) if declared is not None else None
    if source_srid is not None:
        try:
            forced = SpatialReference(int(source_srid))
        except (GDALException, SRSException, ValueError, TypeError) as exc:
            raise ImportFileError(_("SRID inconnu : %(srid)s.") % {"srid": source_srid}) from exc
        label = f"EPSG:{int(source_srid)}"
        if declared_label is not None and declared_label != label:
            warnings.append(
                _("Le fichier déclare %(declared)s ; %(forced)s imposé par --source-srid a été utilisé.")
                % {"declared": declared_label, "forced": label}
            )
        return forced, label, warnings
    if declared is None:
        raise ImportFileError(
            _(
                "La couche « %(layer)s » ne déclare pas de système de coordonnées : précisez-le "
                "(option --source-srid, par exemple 2154 pour Lambert-93)."
            )
            % {"layer": layer}
        )
    return declared, declared_label or "", warnings


def _crs_label(srs: SpatialReference) -> str:
    """``EPSG:2154`` when the CRS matches an EPSG code (ESRI .prj files carry none), else its name."""
    if srs.srid is None:
        with contextlib.suppress(GDALException, SRSException):
            srs.identify_epsg()
    return f"EPSG:{srs.srid}" if srs.srid else (srs.name or _("système de coordonnées sans nom"))


def _transform_to_storage(source: SpatialReference) -> CoordTransform:
    try:
        return CoordTransform(source, SpatialReference(STORAGE_SRID))
    except (GDALException, SRSException) as exc:
        raise ImportFileError(
            _("Impossible de convertir le système de coordonnées %(crs)s vers EPSG:%(srid)s.")
            % {"crs": _crs_label(source), "srid": STORAGE_SRID}
        ) from exc


# --- Geometries ----------------------------------------------------------------------------------


def _to_storage_geometry(
    ogr_geom: OGRGeometry, transform: CoordTransform | None, kind: GeometryKind
) -> tuple[GEOSGeometry, bool]:
    """A valid, 2D, storage-SRID Multi* geometry and whether it had to be repaired.

    Repair happens after reprojection, because validity is what the stored geometry needs (a
    reprojection may also break a barely valid ring).
    """
    if ogr_geom.empty:
        raise ImportFileError(_("géométrie vide"))
    if ogr_geom.has_curve:
        ogr_geom = ogr_geom.get_linear_geometry()
    ogr_geom.set_3d(False)
    ogr_geom.set_measured(False)
    try:
        if transform is not None:
            ogr_geom.transform(transform)
        geom = GEOSGeometry(memoryview(ogr_geom.wkb), srid=STORAGE_SRID)
    except (GDALException, GEOSException) as exc:
        raise ImportFileError(_("géométrie illisible ou impossible à reprojeter")) from exc
    # OGR's envelope (C) rather than GEOS's ``extent`` (a Python loop over the coordinates: 3 s of a
    # 10,000-polygon import).
    if not all(math.isfinite(c) for c in ogr_geom.extent):
        raise ImportFileError(_("coordonnées non finies après reprojection"))
    if kind is GeometryKind.ANY:
        return _any_geometry(geom)
    expected_dims = 2 if kind is GeometryKind.POLYGON else 1
    if geom.dims != expected_dims:
        raise ImportFileError(
            _("géométrie de type %(type)s ; %(wanted)s attendu")
            % {
                "type": geom.geom_type,
                "wanted": _("un polygone est") if kind is GeometryKind.POLYGON else _("une ligne est"),
            }
        )

    repaired = False
    if not geom.valid:
        geom = _make_valid(geom)
        repaired = True
    if kind is GeometryKind.POLYGON:
        return _multipolygon(geom), repaired
    return _multilinestring(geom), repaired


def _any_geometry(geom: GEOSGeometry) -> tuple[GEOSGeometry, bool]:
    """A point, line or polygon feature of a mixed layer, valid; a collection must hold one kind.

    Points are kept as read (Point or MultiPoint); lines become MultiLineString and polygons
    MultiPolygon, like the zones and networks, after the same repair.
    """
    dims = {part.dims for part in _parts(geom) if not part.empty}
    if len(dims) != 1:
        raise ImportFileError(
            _("collection mêlant points, lignes et polygones : séparez-les en entités distinctes")
        )
    dim = dims.pop()
    if dim == 0:
        points = [part for part in _parts(geom) if not part.empty]
        if len(points) == 1:
            point = points[0]
            point.srid = STORAGE_SRID
            return point, False
        return MultiPoint(*points, srid=STORAGE_SRID), False
    repaired = False
    if not geom.valid:
        geom = _make_valid(geom)
        repaired = True
    if dim == 1:
        return _multilinestring(geom), repaired
    return _multipolygon(geom), repaired


def _make_valid(geom: GEOSGeometry) -> GEOSGeometry:
    """GEOS MakeValid keeps every vertex (a bow-tie becomes two triangles); buffer(0) is the fallback."""
    try:
        fixed = geom.make_valid()
    except (GEOSException, ValueError, NotImplementedError):
        fixed = geom.buffer(0)
    fixed.srid = STORAGE_SRID
    return fixed


def _parts(geom: GEOSGeometry) -> list[GEOSGeometry]:
    if isinstance(geom, GeometryCollection):  # also Multi* types
        return [part for child in geom for part in _parts(child)]
    return [geom]


def _multipolygon(geom: GEOSGeometry) -> MultiPolygon:
    """Only the polygonal parts (MakeValid may leave lines or points), as one valid MultiPolygon."""
    polygons = [part for part in _parts(geom) if isinstance(part, Polygon) and not part.empty]
    if not polygons:
        raise ImportFileError(_("aucune partie surfacique (polygone) après réparation"))
    result = MultiPolygon(*polygons, srid=STORAGE_SRID)
    if not result.valid:  # touching or overlapping parts: dissolve them
        dissolved = result.unary_union
        polygons = [part for part in _parts(dissolved) if isinstance(part, Polygon) and not part.empty]
        result = MultiPolygon(*polygons, srid=STORAGE_SRID)
        if not result.valid:
            raise ImportFileError(_("géométrie invalide et impossible à réparer"))
    return result


def _multilinestring(geom: GEOSGeometry) -> MultiLineString:
    lines = [part for part in _parts(geom) if isinstance(part, LineString) and not part.empty]
    if not lines:
        raise ImportFileError(_("aucune partie linéaire (ligne) après réparation"))
    return MultiLineString(*lines, srid=STORAGE_SRID)


# --- Attribute values -----------------------------------------------------------------------


def _field_value(feature: Any, name: str) -> Any:
    """The field's value, or its text when GDAL cannot decode it (a malformed date, say)."""
    ogr_field = feature[name]
    try:
        return _json_safe(ogr_field.value)
    except (GDALException, ValueError, OverflowError):
        return ogr_field.as_string()


def _json_safe(value: Any) -> Any:
    """A value PostgreSQL's jsonb accepts: dates as ISO strings, no NaN, no bytes."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return _json_safe(float(value))
    if isinstance(value, dt.date | dt.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return str(value)
