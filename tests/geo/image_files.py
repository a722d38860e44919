"""Real image files made with Pillow for the tests of ``geo.images`` and of the domains' photos."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from geo.images import ImageError, validate_image

# 48°51'24"N 2°21'08"E — the Hôtel de Ville in Paris.
PARIS_GPS = (2 + 21 / 60 + 8 / 3600, 48 + 51 / 60 + 24 / 3600)


def dms(degrees: int, minutes: int, seconds: int) -> tuple[IFDRational, ...]:
    return (IFDRational(degrees, 1), IFDRational(minutes, 1), IFDRational(seconds, 1))


def camera_exif(
    *,
    orientation: int = 6,
    lat: tuple[IFDRational, ...] | None = None,
    lat_ref: str | None = "N",
    lon: tuple[IFDRational, ...] | None = None,
    lon_ref: str | None = "E",
) -> Image.Exif:
    """What a phone writes: maker, model, date, orientation and a GPS fix (Paris by default)."""
    exif = Image.Exif()
    exif[0x010F] = "Camerafone"  # Make
    exif[0x0110] = "Modèle 7 de Jean Dupont"  # Model
    exif[0x0112] = orientation
    exif.get_ifd(0x8769)[0x9003] = "2024:05:17 14:32:10"  # DateTimeOriginal
    gps = exif.get_ifd(0x8825)
    if lat_ref is not None:
        gps[1] = lat_ref
    gps[2] = lat if lat is not None else dms(48, 51, 24)
    if lon_ref is not None:
        gps[3] = lon_ref
    gps[4] = lon if lon is not None else dms(2, 21, 8)
    return exif


def picture(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """A picture with some texture, so that encoders have real work to do."""
    image = Image.linear_gradient("L").resize(size).convert(mode)
    return image


def jpeg(size: tuple[int, int] = (2000, 1000), exif: Image.Exif | None = None, **params: object) -> bytes:
    out = io.BytesIO()
    if exif is not None:
        params["exif"] = exif
    picture(size).save(out, "JPEG", quality=90, **params)
    return out.getvalue()


def encoded(image: Image.Image, image_format: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, image_format, **params)
    return out.getvalue()


def upload(data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def refusal(data: bytes | io.IOBase) -> ImageError:
    file = data if isinstance(data, io.IOBase) else upload(data)
    with pytest.raises(ImageError) as caught:
        validate_image(file)
    return caught.value


def camera_jpeg_bytes() -> bytes:
    """A 2000 x 1000 JPEG taken sideways (Orientation 6) in Paris, with a comment and XMP."""
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><dc:creator>Jean Dupont</dc:creator></x:xmpmeta>'
    return jpeg(exif=camera_exif(), comment=b"Jean Dupont, 12 rue de Rivoli", xmp=xmp)
