"""The one ``ST_AsMVT`` statement of a tile, built from a layer's declaration.

Two shapes, both a single statement:

* features: the rows whose geometry meets the tile, filtered by ``geom && envelope`` where the
  *envelope* is transformed to the storage SRID (the GiST index on the untouched column answers),
  capped and ordered (which rows survive the cap, and identical bytes for identical data), then
  transformed to the tile SRID, simplified and clipped by ``ST_AsMVTGeom``;
* clusters (points at low zooms): the same rows, each given its cell of a grid finer than the tiles
  (16 cells per tile side at every zoom) by the tile formula itself, kept when the cell belongs to
  the tile (so that no point is counted by two tiles), grouped by cell; one point per cell at the
  mean position (inside the cell) with ``count``. The index filter is widened by a hair so that
  floating-point differences between the envelope and the formula lose no point.

Statements are cached per (layer, shape, filters used); values are bound as parameters, filters
under their own names (so these names are reserved: ``tiles.layers.STATEMENT_PARAMETERS``,
checked when a layer is declared).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.conf import settings

from geo.srid import STORAGE_SRID, sql_tile_envelope, sql_to_storage, sql_to_tiles, sql_web_mercator_cell
from tiles.layers import STATEMENT_PARAMETERS, VectorLayer
from tiles.tilemath import Tile

_ENVELOPE = sql_tile_envelope("%(z)s", "%(x)s", "%(y)s")
# The index filter is widened by the MVT buffer (features drawn across the tile's edge) and, for
# clusters, by a hair: the cells decide which tile a point belongs to.
_QUERY_ENVELOPE = sql_to_storage(sql_tile_envelope("%(z)s", "%(x)s", "%(y)s", "%(margin)s"))


def _where(layer: VectorLayer, filter_names: tuple[str, ...]) -> str:
    conditions = [f"{layer.geom} && {_QUERY_ENVELOPE}", f"({layer.where})"]
    conditions += [f"({f.sql})" for f in layer.filters if f.name in filter_names]
    return " AND ".join(conditions)


@lru_cache(maxsize=256)
def features_sql(layer: VectorLayer, filter_names: tuple[str, ...]) -> str:
    geom = sql_to_tiles(layer.geom)
    if layer.simplify_px:
        geom = f"ST_SimplifyPreserveTopology({geom}, %(tolerance)s)"
    columns = ", ".join(f"{f.sql} AS {f.name}" for f in layer.fields)
    if layer.attributes_sql:
        columns += f", {layer.attributes_sql} AS attributes"
    order = f"ORDER BY {layer.order_by}" if layer.order_by else ""
    return f"""
SELECT ST_AsMVT(f.*, %(mvt_layer)s, {layer.extent}, 'geom')
FROM (
  SELECT {columns},
         ST_AsMVTGeom({geom}, {_ENVELOPE}, {layer.extent}, {layer.buffer}, true) AS geom
  FROM {layer.source}
  WHERE {_where(layer, filter_names)}
  {order}
  LIMIT %(cap)s
) f
WHERE f.geom IS NOT NULL"""


@lru_cache(maxsize=256)
def clusters_sql(layer: VectorLayer, filter_names: tuple[str, ...]) -> str:
    # The OFFSET 0 fences keep the planner from copying the cell expressions (computed once per
    # point) and from pushing the tile's cell range below the aggregate, where its default
    # selectivity made it expect 25 rows instead of a million and sort them on disk: fenced, it
    # hashes the points into cells in memory (z8 over 1,000,000 points: 1.7 s → 0.6 s).
    column, row = sql_web_mercator_cell("lon", "lat", "%(cells)s")
    point = sql_to_tiles(f"ST_SetSRID(ST_MakePoint(mlon, mlat), {STORAGE_SRID})")
    return f"""
SELECT ST_AsMVT(f.*, %(mvt_layer)s, {layer.extent}, 'geom')
FROM (
  SELECT n AS count, ST_AsMVTGeom({point}, {_ENVELOPE}, {layer.extent}, {layer.buffer}, true) AS geom
  FROM (
    SELECT i, j, count(*) AS n, avg(lon) AS mlon, avg(lat) AS mlat
    FROM (
      SELECT lon, lat, {column}::int AS i, {row}::int AS j
      FROM (
        SELECT ST_X({layer.geom}) AS lon, ST_Y({layer.geom}) AS lat
        FROM {layer.source}
        WHERE {_where(layer, filter_names)}
        OFFSET 0
      ) p
      OFFSET 0
    ) c
    GROUP BY i, j
    OFFSET 0
  ) cells
  WHERE i >= %(i0)s AND i < %(i1)s AND j >= %(j0)s AND j < %(j1)s
  ORDER BY j, i
) f"""


def tile_statement(layer: VectorLayer, tile: Tile, filters: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The statement and its parameters for one tile of ``layer`` with parsed ``filters``."""
    names = tuple(sorted(filters))
    params: dict[str, Any] = {
        "z": tile.z,
        "x": tile.x,
        "y": tile.y,
        "mvt_layer": layer.name,
        "tz": settings.TIME_ZONE,
    }
    if layer.calendar_tz:
        params["day"] = layer.today()
    if layer.clustered(tile.z):
        assert layer.cluster is not None
        per_tile = layer.cluster.cells_per_tile
        params["margin"] = 1 / 1024
        params["cells"] = per_tile << tile.z
        params["i0"], params["i1"] = tile.x * per_tile, (tile.x + 1) * per_tile
        params["j0"], params["j1"] = tile.y * per_tile, (tile.y + 1) * per_tile
        sql = clusters_sql(layer, names)
    else:
        params["margin"] = layer.buffer / layer.extent
        params["cap"] = layer.feature_cap
        params["tolerance"] = layer.tolerance_m(tile.z)
        sql = features_sql(layer, names)
    # Filters bind under their own names, which declarations keep apart from these.
    assert params.keys() <= STATEMENT_PARAMETERS, sorted(params.keys() - STATEMENT_PARAMETERS)
    return sql, {**params, **filters}
