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
from collections.abc import Sequence
from typing import Any

from django.contrib.gis.gdal import AxisOrder, CoordTransform, GDALException, SpatialReference, SRSException
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
    except OverflowError as exc:  # an integer too large for a float (10**400)
        raise InvalidGeometry(_("Les coordonnées doivent être des nombres finis.")) from exc
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
    south_west = point_from_lonlat(west, south)
    north_east = point_from_lonlat(east, north)
    west_f, south_f, east_f, north_f = south_west.x, south_west.y, north_east.x, north_east.y
    if not (west_f < east_f and south_f < north_f):
        raise InvalidGeometry(_("bbox : l'ouest doit être inférieur à l'est et le sud au nord."))
    polygon = Polygon.from_bbox((west_f, south_f, east_f, north_f))
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


def sql_buffer_m(expr: str, metres: str) -> str:
    """A storage-SRID buffer of ``metres`` geodesic metres around ``expr`` (PostGIS picks a local projection)."""
    return f"ST_Buffer({sql_geography(expr)}, {metres})::geometry"


def sql_dwithin_m(column: str, point: str, metres: str, margin_deg: str) -> str:
    """Geodesic ``ST_DWithin`` preceded by an index-friendly bbox test on the untouched column."""
    return (
        f"({column} && ST_Expand({point}, {margin_deg}) "
        f"AND ST_DWithin({sql_geography(column)}, {sql_geography(point)}, {metres}))"
    )


# Tiles: Web Mercator (TILE_SRID) is where tile envelopes, simplification and grids are computed;
# the storage columns stay in STORAGE_SRID, so the query envelope is transformed, never the column.
WEB_MERCATOR_HALF_WORLD_M = 20_037_508.342789244


def tile_width_m(z: int) -> float:
    """Width of one tile at zoom ``z`` in TILE_SRID metres (not ground metres: Mercator stretches)."""
    return 2 * WEB_MERCATOR_HALF_WORLD_M / (1 << z)


def sql_tile_envelope(z: str, x: str, y: str, margin: str = "0") -> str:
    """The TILE_SRID envelope of tile z/x/y (``ST_TileEnvelope`` works in EPSG:3857 by default)."""
    return f"ST_TileEnvelope({z}, {x}, {y}, margin => {margin})"


def sql_to_storage(expr: str) -> str:
    """A TILE_SRID SQL expression in the storage SRID: how a tile envelope meets a GiST-indexed column."""
    return f"ST_Transform({expr}, {STORAGE_SRID})"


def sql_to_tiles(expr: str) -> str:
    """A storage-SRID SQL expression in the tile SRID (applied to the few rows a tile selects)."""
    return f"ST_Transform({expr}, {TILE_SRID})"


def sql_web_mercator_cell(lon: str, lat: str, cells: str) -> tuple[str, str]:
    """Column and row of a storage-SRID lon/lat in a ``cells`` x ``cells`` grid over the Web Mercator square.

    The slippy-map tile formula (spherical Mercator, which EPSG:3857 is) on a finer grid: cells of
    zoom z with 16 cells per tile side are ``cells = 2^z * 16``, row 0 at the north. Over a million
    points it costs a third of ``ST_Transform(.., 3857)`` (measured here), and it partitions
    exactly: each point has one cell, so one tile.
    """
    column = f"floor(({lon} + 180.0) / 360.0 * {cells})"
    row = f"floor((1.0 - ln(tan(radians({lat})) + 1.0 / cos(radians({lat}))) / pi()) / 2.0 * {cells})"
    return column, row


def polygon_from_crs_ring(ring: Sequence[tuple[float, float]], *, crs_wkt: str) -> Polygon:
    """A storage-SRID polygon from a ring of coordinates in any CRS given as WKT (a raster's own).

    The footprint of a georeferenced image: its corners (and points along its edges, so that a
    Lambert-93 rectangle keeps its slightly curved shape in WGS84) in the image's CRS. The CRS is
    always explicit; coordinates are read in the traditional GIS order (x = easting/longitude),
    the order rasters use whatever their authority says.
    """
    try:
        source = SpatialReference(crs_wkt, axis_order=AxisOrder.TRADITIONAL)
        transform = CoordTransform(source, SpatialReference(STORAGE_SRID, axis_order=AxisOrder.TRADITIONAL))
        points = [(float(x), float(y)) for x, y in ring]
        if points and points[0] != points[-1]:
            points.append(points[0])
        polygon = Polygon(points)
        polygon.transform(transform)
    except (GDALException, GEOSException, SRSException, TypeError, ValueError) as exc:
        raise InvalidGeometry(
            _("Emprise impossible à convertir en WGS84 depuis le système de coordonnées de l'image.")
        ) from exc
    polygon.srid = STORAGE_SRID
    west, south, east, north = polygon.extent
    if not all(math.isfinite(v) for v in (west, south, east, north)) or not (
        -180.0 <= west <= east <= 180.0 and -90.0 <= south <= north <= 90.0
    ):
        raise InvalidGeometry(_("L'emprise de l'image sort des limites de la Terre (longitude, latitude)."))
    if not polygon.valid:
        raise InvalidGeometry(_("L'emprise de l'image n'est pas un polygone valide."))
    return polygon
