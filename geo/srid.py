"""The one place where spatial reference systems are decided.

* Storage and API: EPSG:4326 (WGS84 lon/lat). Lambert-93 would be wrong for overseas
  territories (Guadeloupe, La Réunion...), which a French product must serve.
* Tiles: EPSG:3857.
* Metric work (distances, tolerances, areas) is done on PostGIS ``geography`` (geodesic metres,
  valid everywhere); SQL fragments for it come from here so that no module casts on its own.

Every geometry built from raw input goes through :func:`point_from_lonlat` or
:func:`geometry_from_geojson`, which always set an explicit SRID: Django silently gives an
SRID-less geometry the field's SRID, which hides wrong inputs.
"""

from __future__ import annotations

import json
import math
from typing import Any

from django.contrib.gis.gdal import GDALException
from django.contrib.gis.geos import GEOSException, GEOSGeometry, Point, Polygon
from django.utils.translation import gettext as _

STORAGE_SRID = 4326
API_SRID = 4326
TILE_SRID = 3857
LAMBERT93_SRID = 2154

# Metres per degree of latitude (mean); used only to widen bounding boxes, never to measure.
_METRES_PER_DEGREE = 111_320.0


class InvalidGeometry(ValueError):
    """Raised with a message a person understands when raw input is not a usable geometry."""


def point_from_lonlat(lon: float, lat: float) -> Point:
    """A storage-SRID point from WGS84 coordinates, refusing out-of-range or non-finite values."""
    try:
        lon_f, lat_f = float(lon), float(lat)
    except (TypeError, ValueError) as exc:
        raise InvalidGeometry(_("Les coordonnées doivent être des nombres.")) from exc
    if not (math.isfinite(lon_f) and math.isfinite(lat_f)):
        raise InvalidGeometry(_("Les coordonnées doivent être des nombres finis."))
    if not -180.0 <= lon_f <= 180.0:
        raise InvalidGeometry(
            _("Longitude hors limites (%(value)s) : elle doit être comprise entre -180 et 180.")
            % {"value": lon_f}
        )
    if not -90.0 <= lat_f <= 90.0:
        raise InvalidGeometry(
            _("Latitude hors limites (%(value)s) : elle doit être comprise entre -90 et 90.")
            % {"value": lat_f}
        )
    return Point(lon_f, lat_f, srid=STORAGE_SRID)


def polygon_from_bbox(west: float, south: float, east: float, north: float) -> Polygon:
    """A storage-SRID rectangle from a WGS84 bbox (drf-gis would build it without SRID)."""
    point_from_lonlat(west, south)
    point_from_lonlat(east, north)
    if not (west < east and south < north):
        raise InvalidGeometry(_("bbox : l'ouest doit être inférieur à l'est et le sud au nord."))
    polygon = Polygon.from_bbox((west, south, east, north))
    polygon.srid = STORAGE_SRID
    return polygon


def geometry_from_geojson(value: str | dict[str, Any], *, source_srid: int = API_SRID) -> GEOSGeometry:
    """A storage-SRID geometry from a GeoJSON geometry (RFC 7946 coordinates are lon/lat WGS84)."""
    text = value if isinstance(value, str) else json.dumps(value)
    try:
        geom = GEOSGeometry(text)
    except (GEOSException, GDALException, ValueError, TypeError) as exc:
        raise InvalidGeometry(_("La géométrie GeoJSON est illisible.")) from exc
    geom.srid = source_srid
    return to_storage(geom)


def to_storage(geom: GEOSGeometry) -> GEOSGeometry:
    """The geometry in the storage SRID; an SRID-less geometry is an error, never a guess."""
    if not geom.srid:
        raise InvalidGeometry(_("La géométrie n'a pas de système de coordonnées (SRID)."))
    if geom.srid == STORAGE_SRID:
        return geom
    return geom.transform(STORAGE_SRID, clone=True)


def degrees_margin(lat: float, metres: float) -> float:
    """A bounding-box margin in degrees that surely covers ``metres`` around latitude ``lat``.

    Used to let a plain GiST index on the 4326 column pre-filter candidates (``geom && ST_Expand``)
    before the exact geodesic test; the query geometry is widened, never the column.
    """
    cos_lat = max(math.cos(math.radians(min(abs(lat), 89.0))), 0.01)
    return metres / (_METRES_PER_DEGREE * cos_lat) * 1.01 + 1e-9


# SQL fragments for metric work on storage-SRID columns.
def sql_geography(expr: str) -> str:
    """Cast a storage-SRID SQL expression to geography (geodesic metres)."""
    return f"({expr})::geography"


def sql_area_m2(expr: str) -> str:
    return f"ST_Area({sql_geography(expr)})"


def sql_distance_m(a: str, b: str) -> str:
    return f"ST_Distance({sql_geography(a)}, {sql_geography(b)})"


def sql_dwithin_m(column: str, point: str, metres: str, margin_deg: str) -> str:
    """Geodesic ``ST_DWithin`` preceded by an index-friendly bbox test on the untouched column."""
    return (
        f"({column} && ST_Expand({point}, {margin_deg}) "
        f"AND ST_DWithin({sql_geography(column)}, {sql_geography(point)}, {metres}))"
    )
