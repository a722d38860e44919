"""The private bucket for ``MEDIA_STORAGE=s3`` (imported by Django's storage handler only in that mode).

Everything but ``rasters/`` names goes to the private bucket: objects written without ACL (owner
only), and ``url()`` refuses like the filesystem's private storage — originals are never served,
not even through a signed URL. ``rasters/`` names (``urbanisme.models.Layer.raster_original`` and
``raster_cog``) go to :class:`config.storage.RasterStorage` files, because GDAL converts them and
rio-tiler reads them by path (range reads on every tile); ``.path()`` keeps working for them.
A delegating storage rather than another field storage: the ``private`` alias is what the models
name, and changing a field's storage would need a migration.
"""

from __future__ import annotations

from datetime import datetime
from typing import IO, Any

from storages.backends.s3 import S3Storage

from config.storage import RASTER_PREFIX, RasterStorage, no_url


class PrivateS3Storage(S3Storage):
    def __init__(self, **options: Any) -> None:
        options.setdefault("default_acl", None)  # bucket owner only: never a public ACL
        options.setdefault("file_overwrite", False)
        super().__init__(**options)
        self._rasters = RasterStorage()

    @staticmethod
    def _local(name: str | None) -> bool:
        return str(name or "").lstrip("/").startswith(RASTER_PREFIX)

    def _open(self, name: str, mode: str = "rb") -> Any:
        if self._local(name):
            return self._rasters._open(name, mode)  # type: ignore[attr-defined]
        return super()._open(name, mode)

    def _save(self, name: str, content: IO[Any]) -> str:
        if self._local(name):
            return self._rasters._save(name, content)  # type: ignore[attr-defined,no-any-return]
        return str(super()._save(name, content))

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        if self._local(name):
            return self._rasters.get_available_name(name, max_length)
        return str(super().get_available_name(name, max_length))

    def delete(self, name: str) -> None:
        if self._local(name):
            self._rasters.delete(name)
        else:
            super().delete(name)

    def exists(self, name: str) -> bool:
        if self._local(name):
            return self._rasters.exists(name)
        return bool(super().exists(name))

    def size(self, name: str) -> int:
        if self._local(name):
            return self._rasters.size(name)
        return int(super().size(name))

    def path(self, name: str) -> str:
        if self._local(name):
            return self._rasters.path(name)
        raise NotImplementedError("Les originaux privés sont dans un bucket : pas de chemin local.")

    def get_modified_time(self, name: str) -> datetime:
        if self._local(name):
            return self._rasters.get_modified_time(name)
        return super().get_modified_time(name)  # type: ignore[no-any-return]

    def url(self, name: str | None, *args: Any, **kwargs: Any) -> str:
        return no_url(name)
