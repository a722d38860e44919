"""Stable error codes of the tiles, and the one table that gives each its HTTP status.

Like titiler's error table: a tile request fails in a few known ways (an unknown layer, a tile
outside the world, a bad filter, a statement that took too long, an unreadable raster) and each
way has one code, one status and a French message. Foreign exceptions (psycopg's
``QueryCanceled``, rasterio's I/O errors) are translated by :func:`from_exception`, so that views
handle :class:`TileError` only.
"""

from __future__ import annotations

from django.db.utils import OperationalError
from django.utils.translation import gettext as _
from psycopg.errors import QueryCanceled
from rasterio.errors import RasterioIOError

# code -> HTTP status. Codes are part of the contract and never change; messages are translated.
STATUS: dict[str, int] = {
    "tuile_hors_limites": 400,
    "filtre_invalide": 400,
    "categorie_inconnue": 400,
    "etat_inconnu": 400,
    "date_invalide": 400,
    "taille_invalide": 400,
    "couche_inconnue": 404,
    "zoom_hors_couche": 404,
    "url_inconnue": 404,
    "raster_illisible": 500,
    "raster_non_pris_en_charge": 500,
    "tuile_trop_longue": 503,
}


class TileError(Exception):
    """A refused or failed tile: ``code`` for programs, ``message`` for people, ``status`` for HTTP."""

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        if code not in STATUS:
            raise ValueError(f"unknown tile error code: {code}")
        self.code = code
        self.message = message
        self.field = field

    @property
    def status(self) -> int:
        return STATUS[self.code]

    def as_dict(self) -> dict[str, str]:
        data = {"code": self.code, "message": self.message}
        if self.field:
            data["field"] = self.field
        return data


def from_exception(exc: BaseException) -> TileError | None:
    """Our error for a foreign exception that has a meaning for a tile, else ``None`` (a real bug)."""
    cause = exc.__cause__ if isinstance(exc, OperationalError) else exc
    if isinstance(cause, QueryCanceled):
        return TileError(
            "tuile_trop_longue",
            _("Cette tuile prend trop de temps à calculer : réessayez dans quelques secondes."),
        )
    if isinstance(exc, RasterioIOError):
        return TileError("raster_illisible", _("Le fichier de cette couche raster est illisible."))
    return None
