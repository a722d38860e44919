"""A file storage that is never served: photo originals with their EXIF (GPS, camera serial).

Rooted at ``PRIVATE_MEDIA_ROOT``, outside ``MEDIA_ROOT`` which the web server serves, and with no
URL at all, so that no template or serializer can link to a file in it by mistake.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.utils.functional import cached_property


class PrivateStorage(FileSystemStorage):
    @cached_property
    def base_location(self) -> Any:
        return self._value_or_setting(self._location, settings.PRIVATE_MEDIA_ROOT)

    def _clear_cached_properties(self, setting: str, **kwargs: Any) -> None:
        super()._clear_cached_properties(setting, **kwargs)
        if setting == "PRIVATE_MEDIA_ROOT":
            self.__dict__.pop("base_location", None)
            self.__dict__.pop("location", None)

    def url(self, name: str | None) -> str:
        raise ValueError("Les fichiers privés n'ont pas d'URL.")
