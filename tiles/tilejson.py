"""TileJSON 3.0.0 documents of the layers, and the list of layers."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.http import QueryDict
from django.utils.translation import gettext as _

from tiles.layers import VectorLayer, all_layers
from tiles.raster import RasterLayer, raster_info, registered_raster_layers

TILEJSON_VERSION = "3.0.0"
WORLD = [-180.0, -85.0511287798066, 180.0, 85.0511287798066]
# Where reports, zones and the rest can be: the territories this instance serves.
DEFAULT_BOUNDS_SQL = "SELECT ST_Extent(geom) FROM geo_territory"


def vector_bounds(layer: VectorLayer) -> list[float]:
    """WGS84 bounds of the layer's data (its ``bounds_sql``, else the served territories)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM ({layer.bounds_sql or DEFAULT_BOUNDS_SQL}) q(b)"
        )
        row = cursor.fetchone()
    if not row or row[0] is None:
        return list(WORLD)
    west, south, east, north = (float(v) for v in row)
    return [max(west, WORLD[0]), max(south, WORLD[1]), min(east, WORLD[2]), min(north, WORLD[3])]


def _center(bounds: list[float], minzoom: int, maxzoom: int) -> list[float]:
    return [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, float(min(max(12, minzoom), maxzoom))]


def _query(query: QueryDict | None) -> str:
    return f"?{query.urlencode(safe=',')}" if query else ""


def vector_tilejson(layer: VectorLayer, base_url: str, query: QueryDict | None = None) -> dict[str, Any]:
    """``base_url`` is the absolute URL of ``/tiles/``; ``query`` holds the (validated) filters."""
    bounds = vector_bounds(layer)
    fields = {f.name: f"{f.type} : {f.description}" for f in layer.fields}
    if layer.cluster is not None:
        fields["count"] = _("Number : nombre d'éléments regroupés dans la cellule (zooms ≤ %(max)d)") % {
            "max": layer.cluster.maxzoom
        }
    return {
        "tilejson": TILEJSON_VERSION,
        "name": str(layer.title),
        "description": str(layer.description),
        "scheme": "xyz",
        "tiles": [f"{base_url}{layer.name}/{{z}}/{{x}}/{{y}}.mvt{_query(query)}"],
        "minzoom": layer.minzoom,
        "maxzoom": layer.maxzoom,
        "bounds": bounds,
        "center": _center(bounds, layer.minzoom, layer.maxzoom),
        "vector_layers": [
            {
                "id": layer.name,
                "description": str(layer.description),
                "minzoom": layer.minzoom,
                "maxzoom": layer.maxzoom,
                "fields": fields,
            }
        ],
    }


def raster_tilejson(layer: RasterLayer, base_url: str, fmt: str = "png") -> dict[str, Any]:
    info = raster_info(layer)
    return {
        "tilejson": TILEJSON_VERSION,
        "name": layer.title,
        "scheme": "xyz",
        "tiles": [f"{base_url}raster/{layer.name}/{{z}}/{{x}}/{{y}}.{fmt}"],
        "minzoom": info["minzoom"],
        "maxzoom": info["maxzoom"],
        "bounds": info["bounds"],
        "center": _center(info["bounds"], info["minzoom"], info["maxzoom"]),
    }


def layers_index(base_url: str) -> dict[str, Any]:
    return {
        "vector": [
            {
                "name": layer.name,
                "title": str(layer.title),
                "description": str(layer.description),
                "tilejson": f"{base_url}{layer.name}.json",
                "tiles": f"{base_url}{layer.name}/{{z}}/{{x}}/{{y}}.mvt",
                "minzoom": layer.minzoom,
                "maxzoom": layer.maxzoom,
                "filters": {f.name: str(f.description) for f in layer.filters},
            }
            for layer in all_layers()
        ],
        "raster": [
            {
                "name": layer.name,
                "title": layer.title,
                "tilejson": f"{base_url}raster/{layer.name}.json",
                "tiles": f"{base_url}raster/{layer.name}/{{z}}/{{x}}/{{y}}.png",
            }
            for layer in registered_raster_layers()
        ],
    }
