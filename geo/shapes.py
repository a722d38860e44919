"""Checks on geometries drawn by people (a contribution, an annotation): kind, validity, size.

Why here: both domains accept hand-drawn shapes, and the limits must be the same wherever a
shape comes from. Sizes are measured on the WGS84 ellipsoid (``geography``-equivalent formulas
from GEOS would be planar degrees, meaningless), through a local metric projection chosen from the
shape's own position, so that Paris, Rennes and La Réunion get true metres.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.gis.geos import GEOSGeometry, LineString, Point, Polygon
from django.utils.translation import gettext as _

from geo.srid import STORAGE_SRID, InvalidGeometry, to_storage

SIMPLE_KINDS = {"Point": Point, "LineString": LineString, "Polygon": Polygon}


@dataclass(frozen=True)
class ShapeLimits:
    """What a person may draw: defaults suit a contribution on a neighbourhood-sized project."""

    max_vertices: int = 2000
    max_length_m: float = 20_000.0
    max_area_m2: float = 20_000_000.0  # 20 km²
    min_length_m: float = 1.0
    min_area_m2: float = 1.0


@dataclass(frozen=True)
class CleanShape:
    geometry: GEOSGeometry  # a Point, LineString or Polygon in STORAGE_SRID, valid
    repaired: bool
    length_m: float
    area_m2: float


def _metric_srid(geom: GEOSGeometry) -> int:
    """The UTM zone (WGS84) containing the shape's centroid: metres with < 0.1 % scale error nearby."""
    centre = geom.centroid
    zone = int((centre.x + 180.0) // 6.0) % 60 + 1
    return (32600 if centre.y >= 0 else 32700) + zone


def clean_drawn_shape(geom: GEOSGeometry, *, limits: ShapeLimits | None = None) -> CleanShape:
    """The shape made valid and checked, or :class:`InvalidGeometry` with a French message.

    A self-intersecting polygon (a « bow tie ») is repaired with ``make_valid`` when the repair is
    still a single polygon of nearly the same area; otherwise the person is asked to redraw, since
    guessing which part they meant would put words in their mouth.
    """
    limits = limits or ShapeLimits()
    geom = to_storage(geom)
    kind = geom.geom_type
    if kind not in SIMPLE_KINDS:
        raise InvalidGeometry(
            _("Type de géométrie non accepté (%(kind)s) : dessinez un point, une ligne ou un polygone.")
            % {"kind": kind}
        )
    if geom.empty:
        raise InvalidGeometry(_("La géométrie est vide."))
    if geom.num_coords > limits.max_vertices:
        raise InvalidGeometry(
            _("Trop de sommets (%(count)d ; %(max)d au plus) : simplifiez le tracé.")
            % {"count": geom.num_coords, "max": limits.max_vertices}
        )
    for x, y in _coords(geom):
        if not (-180.0 <= x <= 180.0 and -90.0 <= y <= 90.0):
            raise InvalidGeometry(
                _("Coordonnées hors limites : longitude entre -180 et 180, latitude entre -90 et 90.")
            )

    repaired = False
    if not geom.valid:
        if kind != "Polygon":
            raise InvalidGeometry(_("La ligne est invalide (%(reason)s).") % {"reason": geom.valid_reason})
        fixed = geom.make_valid()
        fixed.srid = STORAGE_SRID
        candidate = _single_polygon(fixed)
        if candidate is None:
            raise InvalidGeometry(
                _(
                    "Le polygone se recoupe lui-même (%(reason)s) et ne peut pas être réparé sans changer "
                    "sa forme : redessinez-le sans croiser ses bords."
                )
                % {"reason": geom.valid_reason}
            )
        geom, repaired = candidate, True

    metric = geom.transform(_metric_srid(geom), clone=True)
    length_m = metric.length if kind == "LineString" else 0.0
    area_m2 = metric.area if kind == "Polygon" else 0.0
    if kind == "LineString":
        if length_m < limits.min_length_m:
            raise InvalidGeometry(_("La ligne est trop courte (moins d'un mètre)."))
        if length_m > limits.max_length_m:
            raise InvalidGeometry(
                _("La ligne est trop longue (%(length).1f km ; %(max).1f km au plus).")
                % {"length": length_m / 1000, "max": limits.max_length_m / 1000}
            )
    if kind == "Polygon":
        if area_m2 < limits.min_area_m2:
            raise InvalidGeometry(_("Le polygone est trop petit (moins d'un mètre carré)."))
        if area_m2 > limits.max_area_m2:
            raise InvalidGeometry(
                _("Le polygone est trop grand (%(area).2f km² ; %(max).2f km² au plus).")
                % {"area": area_m2 / 1e6, "max": limits.max_area_m2 / 1e6}
            )
    return CleanShape(geometry=geom, repaired=repaired, length_m=length_m, area_m2=area_m2)


def _coords(geom: GEOSGeometry) -> list[tuple[float, float]]:
    if isinstance(geom, Point):
        return [(geom.x, geom.y)]
    if isinstance(geom, LineString):
        return [(c[0], c[1]) for c in geom.coords]
    assert isinstance(geom, Polygon)
    return [(c[0], c[1]) for ring in geom.coords for c in ring]


def _single_polygon(fixed: GEOSGeometry) -> Polygon | None:
    """The repaired polygon, if the repair is one polygon (holes allowed) and not a shape split in two."""
    collection: Any = fixed
    parts = [fixed] if fixed.geom_type == "Polygon" else [g for g in collection if g.geom_type == "Polygon"]
    parts = [p for p in parts if p.area > 0]
    if len(parts) != 1 or not isinstance(parts[0], Polygon):
        return None
    polygon = parts[0]
    polygon.srid = STORAGE_SRID
    return polygon
