"""Where files live: the filesystem by default, S3-compatible object storage when ``MEDIA_STORAGE=s3``.

Three kinds of files, three storage aliases (``settings.STORAGES``):

* ``default`` — served media (EXIF-free photo copies, project covers and documents): ``MEDIA_ROOT``
  served by nginx under ``MEDIA_URL``, or a public-read bucket whose URLs the pages link to;
* ``private`` — originals with their EXIF (GPS, camera serial) and GeoTIFF layers: never served and
  without any URL, so that no template or serializer can link to one by mistake;
* ``opendata`` — the nightly open data files, overwritten in place (``default``'s names never are).

GeoTIFF layers (names under ``rasters/``) stay files even with S3: GDAL converts and rio-tiler
reads them by path, with range reads on every tile. :class:`PrivateS3Storage` (``config.storage_s3``) hands those names to
a :class:`RasterStorage` rooted at ``RASTER_ROOT`` (a volume shared by the web pods and the media
workers), and everything else to the private bucket. The S3 classes live in ``config.storage_s3``
so that settings never import boto3 when the filesystem is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import FileSystemStorage
from django.utils.functional import cached_property

# Names the private storage keeps on files (urbanisme.models.Layer.raster_original / raster_cog).
RASTER_PREFIX = "rasters/"
# The open data files' folder in MEDIA_ROOT, and their key prefix in the public bucket.
OPENDATA_PREFIX = "opendata"


def no_url(name: str | None) -> str:
    raise ValueError("Les fichiers privés n'ont pas d'URL.")


class PrivateStorage(FileSystemStorage):
    """Rooted at ``PRIVATE_MEDIA_ROOT``, outside ``MEDIA_ROOT`` which the web server serves."""

    @cached_property
    def base_location(self) -> Any:
        return self._value_or_setting(
            self._location,  # type: ignore[attr-defined]
            settings.PRIVATE_MEDIA_ROOT,
        )

    def _clear_cached_properties(self, setting: str, **kwargs: Any) -> None:
        super()._clear_cached_properties(setting, **kwargs)  # type: ignore[arg-type]
        if setting == "PRIVATE_MEDIA_ROOT":
            self.__dict__.pop("base_location", None)
            self.__dict__.pop("location", None)

    def url(self, name: str | None) -> str:
        return no_url(name)


class RasterStorage(PrivateStorage):
    """GeoTIFF originals and COGs: files GDAL opens by path, never served (``RASTER_ROOT``).

    ``RASTER_ROOT`` defaults to ``PRIVATE_MEDIA_ROOT``, so the names (``rasters/...``) resolve to the
    same files whichever ``MEDIA_STORAGE`` is chosen.
    """

    @cached_property
    def base_location(self) -> Any:
        root = getattr(settings, "RASTER_ROOT", None) or settings.PRIVATE_MEDIA_ROOT
        return self._value_or_setting(
            self._location,  # type: ignore[attr-defined]
            root,
        )

    def _clear_cached_properties(self, setting: str, **kwargs: Any) -> None:
        super()._clear_cached_properties(setting, **kwargs)  # type: ignore[arg-type]
        if setting in {"RASTER_ROOT", "PRIVATE_MEDIA_ROOT"}:
            self.__dict__.pop("base_location", None)
            self.__dict__.pop("location", None)


class OpenDataStorage(FileSystemStorage):
    """``MEDIA_ROOT/opendata/`` served under ``MEDIA_URL/opendata/``; follows both settings."""

    @cached_property
    def base_location(self) -> Any:
        return self._value_or_setting(
            self._location,  # type: ignore[attr-defined]
            str(Path(str(settings.MEDIA_ROOT)) / OPENDATA_PREFIX),
        )

    @cached_property
    def base_url(self) -> Any:
        default = f"{settings.MEDIA_URL.rstrip('/')}/{OPENDATA_PREFIX}/"
        url = self._value_or_setting(self._base_url, default)  # type: ignore[attr-defined]
        return url if url.endswith("/") else f"{url}/"

    def _clear_cached_properties(self, setting: str, **kwargs: Any) -> None:
        super()._clear_cached_properties(setting, **kwargs)  # type: ignore[arg-type]
        if setting in {"MEDIA_ROOT", "MEDIA_URL"}:
            for name in ("base_location", "location", "base_url"):
                self.__dict__.pop(name, None)


def _env_options(env: Any, bucket_variable: str, *, public: bool) -> dict[str, Any]:
    bucket = env(bucket_variable, default="")
    if not bucket:
        raise ImproperlyConfigured(f"MEDIA_STORAGE=s3 demande {bucket_variable}.")
    options: dict[str, Any] = {
        "bucket_name": bucket,
        "endpoint_url": env("AWS_S3_ENDPOINT_URL", default=None) or None,
        "region_name": env("AWS_S3_REGION_NAME", default=None) or None,
        "addressing_style": env("AWS_S3_ADDRESSING_STYLE", default=None) or None,
        "location": env("AWS_LOCATION", default=""),
    }
    if public:
        options.update(
            # Unsigned, stable URLs: the bucket (or its prefix) is public-read, through a bucket
            # policy (preferred) or, for providers without policies, an ACL on each object.
            querystring_auth=False,
            default_acl=env("AWS_PUBLIC_ACL", default=None) or None,
            custom_domain=env("AWS_S3_CUSTOM_DOMAIN", default=None) or None,
            # Same rule as the filesystem: an existing name gets a suffix, never overwritten.
            file_overwrite=False,
            object_parameters={
                "CacheControl": env("AWS_PUBLIC_CACHE_CONTROL", default="public, max-age=604800")
            },
        )
    return options


def storages_from_env(env: Any) -> dict[str, dict[str, Any]]:
    """``settings.STORAGES`` for ``MEDIA_STORAGE`` (``filesystem``, the default, or ``s3``)."""
    kind = env("MEDIA_STORAGE", default="filesystem").strip().lower()
    static = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    if kind == "filesystem":
        return {
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": static,
            "private": {"BACKEND": "config.storage.PrivateStorage"},
            "opendata": {"BACKEND": "config.storage.OpenDataStorage"},
        }
    if kind != "s3":
        raise ImproperlyConfigured("MEDIA_STORAGE vaut « filesystem » ou « s3 ».")
    public = _env_options(env, "AWS_STORAGE_BUCKET_NAME", public=True)
    private = _env_options(env, "AWS_PRIVATE_STORAGE_BUCKET_NAME", public=False)
    if private["bucket_name"] == public["bucket_name"]:
        raise ImproperlyConfigured(
            "AWS_PRIVATE_STORAGE_BUCKET_NAME doit désigner un autre bucket que AWS_STORAGE_BUCKET_NAME."
        )
    opendata = {
        **public,
        "location": "/".join(p for p in (public["location"].strip("/"), OPENDATA_PREFIX) if p),
        # One PUT per file: S3 replaces an object atomically, readers see the old or the new one.
        "file_overwrite": True,
        "object_parameters": {"CacheControl": "public, max-age=3600"},
    }
    return {
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": public},
        "staticfiles": static,
        "private": {"BACKEND": "config.storage_s3.PrivateS3Storage", "OPTIONS": private},
        "opendata": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": opendata},
    }
