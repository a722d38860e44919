"""Tile coordinates (XYZ scheme, Web Mercator): validation and the little arithmetic tiles need."""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.utils.translation import gettext as _

from tiles.errors import TileError

MAX_ZOOM = 22


@dataclass(frozen=True)
class Tile:
    z: int
    x: int
    y: int

    def __str__(self) -> str:
        return f"{self.z}/{self.x}/{self.y}"


def tile_checked(z: int, x: int, y: int) -> Tile:
    """The tile, or a 400 for coordinates no tile has (zoom 0 to 22, x and y from 0 to 2^z - 1)."""
    if not 0 <= z <= MAX_ZOOM:
        raise TileError(
            "tuile_hors_limites",
            _("Niveau de zoom %(z)d hors limites : il doit être compris entre 0 et %(max)d.")
            % {"z": z, "max": MAX_ZOOM},
        )
    last = (1 << z) - 1
    if not (0 <= x <= last and 0 <= y <= last):
        raise TileError(
            "tuile_hors_limites",
            _("Tuile %(z)d/%(x)d/%(y)d hors limites : au zoom %(z)d, x et y vont de 0 à %(last)d.")
            % {"z": z, "x": x, "y": y, "last": last},
        )
    return Tile(z, x, y)


def tile_for_lonlat(lon: float, lat: float, z: int) -> Tile:
    """The tile that contains a WGS84 point at zoom ``z`` (for benchmarks, tests and clients)."""
    n = 1 << z
    lat_r = math.radians(max(min(lat, 85.0511287798), -85.0511287798))
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(lat_r)) / math.pi) / 2.0 * n)
    return Tile(z, min(max(x, 0), n - 1), min(max(y, 0), n - 1))


def tile_lonlat_bounds(tile: Tile) -> tuple[float, float, float, float]:
    """West, south, east, north of a tile in WGS84 degrees."""
    n = 1 << tile.z

    def lat(y: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))

    return (tile.x / n * 360.0 - 180.0, lat(tile.y + 1), (tile.x + 1) / n * 360.0 - 180.0, lat(tile.y))
