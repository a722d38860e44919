"""Uploaded images, checked on arrival and re-encoded without metadata: shared by every domain.

Report photos (``signalements``) and contribution photos or document images (``urbanisme``) are
untrusted input and often personal data at once, so they go through the same checks: read with a
hard byte limit, identified by Pillow restricted to JPEG, PNG and WebP (SVG can carry script; GIF
and TIFF bring nothing these uses need and widen the parser surface), measured against a pixel
limit *before* any decoding (a 50 KB PNG can declare 20000 by 20000 pixels), then fully decoded
once so that a truncated upload is refused while the person is still there to send it again.

Everything served is decoded and re-encoded as a fresh JPEG that carries no EXIF, XMP, IPTC,
comment or ICC profile: stripping tags in place is fragile (makers hide copies in other segments),
re-encoding is not. What the EXIF says (GPS position, date) is read before, for the caller to use.

This module knows nothing of the models that keep the files: storage, names and processing tasks
belong to each domain (``signalements.photos``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import IO, Any

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP")
JPEG_QUALITY = 82

_EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}

# EXIF tags (TIFF/EXIF 2.3 numbering).
_TAG_ORIENTATION = 0x0112
_TAG_DATETIME = 0x0132
_IFD_EXIF = 0x8769
_IFD_GPS = 0x8825
_TAG_DATETIME_ORIGINAL = 0x9003
_TAG_OFFSET_TIME_ORIGINAL = 0x9011
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON = 1, 2, 3, 4
# Orientations 5 to 8 turn the picture a quarter: the displayed width is the stored height.
_QUARTER_TURNS = frozenset({5, 6, 7, 8})

# Signatures of image formats we refuse, to tell the person « wrong format » rather than « not an
# image » without letting every Pillow plugin parse the upload.
_REFUSED_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"8BPS", "PSD"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"),
)
_BMP_HEADER_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif"})

# Byte patterns that only metadata blocks contain: a second line of defence behind Pillow's parser,
# which ignores, for instance, an EXIF block repeated in a later JPEG segment.
_METADATA_MARKERS = (b"Exif\x00\x00", b"http://ns.adobe.com/xap/1.0/", b"<x:xmpmeta", b"Photoshop 3.0\x00")

# Image.MAX_IMAGE_PIXELS is process-wide; it is lowered only while a photo is opened, under a lock.
_PIXEL_LIMIT_LOCK = threading.Lock()


class ImageError(Exception):
    """An image refused, with a stable ``code`` for clients, an HTTP ``status`` and a French ``message``.

    The codes are part of the API contract and never change; the messages are for people (they say
    « photo », what citizens send).
    """

    FILE_TOO_BIG = "fichier_trop_gros"
    NOT_AN_IMAGE = "pas_une_image"
    TOO_MANY_PIXELS = "image_trop_grande"
    UNSUPPORTED_FORMAT = "format_non_supporte"
    CORRUPT = "image_corrompue"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        # 413 is « Content Too Large »: the body itself was refused. Everything else is a readable
        # request whose content cannot be used.
        self.status = 413 if code == self.FILE_TOO_BIG else 422

    @classmethod
    def file_too_big(cls, max_bytes: int) -> ImageError:
        return cls(
            cls.FILE_TOO_BIG,
            _("La photo est trop lourde : %(max)s au maximum. Réduisez sa taille ou choisissez-en une autre.")
            % {"max": filesizeformat(max_bytes)},
        )

    @classmethod
    def not_an_image(cls) -> ImageError:
        return cls(
            cls.NOT_AN_IMAGE,
            _("Ce fichier n'est pas une image. Envoyez une photo au format JPEG, PNG ou WebP."),
        )

    @classmethod
    def too_many_pixels(cls, max_pixels: int) -> ImageError:
        return cls(
            cls.TOO_MANY_PIXELS,
            _("L'image est trop grande : %(max)s millions de pixels au maximum.")
            % {"max": f"{max_pixels / 1_000_000:g}"},
        )

    @classmethod
    def unsupported_format(cls, name: str) -> ImageError:
        return cls(
            cls.UNSUPPORTED_FORMAT,
            _("Le format %(format)s n'est pas accepté. Envoyez une photo au format JPEG, PNG ou WebP.")
            % {"format": name},
        )

    @classmethod
    def corrupt(cls) -> ImageError:
        return cls(
            cls.CORRUPT,
            _("L'image est incomplète ou endommagée et n'a pas pu être lue. Essayez de l'envoyer à nouveau."),
        )


@dataclass(frozen=True)
class ValidatedImage:
    """An upload that passed every check, with what its EXIF says (read before it is stripped)."""

    format: str  # "JPEG", "PNG" or "WEBP"
    width: int  # as displayed, EXIF orientation applied
    height: int
    sha256: str
    data: bytes = field(repr=False)
    gps: tuple[float, float] | None = None  # (lon, lat) WGS84
    # Aware when the camera recorded its UTC offset; otherwise naive camera-clock time, which only
    # the place (of the report, of the contribution) can turn into an instant.
    taken_at: datetime | None = None

    @property
    def extension(self) -> str:
        return _EXTENSIONS[self.format]


def validate_image(
    upload: IO[bytes] | Any, *, max_bytes: int | None = None, max_pixels: int | None = None
) -> ValidatedImage:
    """Check an upload (Django ``UploadedFile`` or any binary file object) and read its EXIF.

    Raises :class:`ImageError`. The limits default to ``PHOTO_MAX_BYTES`` and ``PHOTO_MAX_PIXELS``.
    At most ``max_bytes + 1`` bytes are read, whatever the declared size, so that a lying client
    cannot make the server buffer more.
    """
    if max_bytes is None:
        max_bytes = settings.PHOTO_MAX_BYTES
    if max_pixels is None:
        max_pixels = settings.PHOTO_MAX_PIXELS

    declared_size = getattr(upload, "size", None)
    if isinstance(declared_size, int) and declared_size > max_bytes:
        raise ImageError.file_too_big(max_bytes)
    data = _read_at_most(upload, max_bytes + 1)
    if len(data) > max_bytes:
        raise ImageError.file_too_big(max_bytes)
    if not data:
        raise ImageError.not_an_image()

    with _opened(data, max_pixels=max_pixels) as image:
        # Phones often write MPO (a JPEG followed by a second view): Pillow's JPEG reader opens it.
        image_format = "JPEG" if image.format == "MPO" else (image.format or "")
        if image_format not in ALLOWED_FORMATS:
            raise ImageError.unsupported_format(image_format or "?")
        try:
            image.verify()  # structure and checksums (PNG CRCs) without decoding pixels
        except Exception as exc:  # Pillow raises many types here (SyntaxError, struct.error...)
            raise ImageError.corrupt() from exc

    # verify() leaves the object unusable: decode a fresh one entirely to catch truncated data.
    with _opened(data, max_pixels=max_pixels) as image:
        try:
            image.load()
        except Exception as exc:
            raise ImageError.corrupt() from exc
        exif = image.getexif()
        width, height = image.size

    orientation = _exif_int(exif.get(_TAG_ORIENTATION))
    if orientation in _QUARTER_TURNS:
        width, height = height, width

    return ValidatedImage(
        format=image_format,
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
        data=data,
        gps=exif_gps(exif),
        taken_at=exif_taken_at(exif),
    )


def exif_gps(exif: Image.Exif) -> tuple[float, float] | None:
    """(lon, lat) from the GPS IFD, or None when absent or absurd.

    Cameras without a fix write zeros or garbage; a position at « null island » or out of range
    would mislead an agent more than no position at all.
    """
    try:
        gps = exif.get_ifd(_IFD_GPS)
    except Exception:
        return None
    if not gps:
        return None
    lat = _dms_to_degrees(gps.get(_GPS_LAT), gps.get(_GPS_LAT_REF), positive="N", negative="S")
    lon = _dms_to_degrees(gps.get(_GPS_LON), gps.get(_GPS_LON_REF), positive="E", negative="W")
    if lat is None or lon is None:
        return None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None
    if abs(lat) < 1e-6 and abs(lon) < 1e-6:
        return None
    return lon, lat


def exif_taken_at(exif: Image.Exif) -> datetime | None:
    """When the photo was taken per the camera (DateTimeOriginal, else DateTime), or None."""
    try:
        exif_ifd = exif.get_ifd(_IFD_EXIF)
    except Exception:
        exif_ifd = {}
    raw = exif_ifd.get(_TAG_DATETIME_ORIGINAL) or exif.get(_TAG_DATETIME)
    text = _exif_text(raw)
    if not text:
        return None
    try:
        taken = datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    offset = _exif_text(exif_ifd.get(_TAG_OFFSET_TIME_ORIGINAL))
    if offset and len(offset) == 6 and offset[0] in "+-" and offset[3] == ":":
        try:
            delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
        except ValueError:
            return taken
        return taken.replace(tzinfo=dt_timezone(delta if offset[0] == "+" else -delta))
    return taken


def strip_and_resize(
    data: bytes, *, max_side: int, quality: int = JPEG_QUALITY, max_pixels: int | None = None
) -> bytes:
    """A progressive JPEG no larger than ``max_side``, upright, in sRGB, with no metadata at all.

    The pixels are copied into a new image whose ``info`` is empty, and nothing is passed to the
    encoder but quality settings: Pillow would otherwise carry a JPEG comment over from ``info``.
    ``max_pixels`` (default ``PHOTO_MAX_PIXELS``) should be the limit the image was validated with.
    """
    if max_pixels is None:
        max_pixels = settings.PHOTO_MAX_PIXELS
    with _opened(data, max_pixels=max_pixels) as image:
        # Let the JPEG decoder scale down by a power of two when that still leaves enough pixels.
        image.draft("RGB", (max_side, max_side))
        try:
            upright = ImageOps.exif_transpose(image)
        except Exception as exc:
            raise ImageError.corrupt() from exc
        icc_profile = image.info.get("icc_profile")
    rgb = _to_srgb(upright, icc_profile)
    rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)

    clean = Image.new(rgb.mode, rgb.size)
    clean.paste(rgb)
    clean.info = {}
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=quality, optimize=True, progressive=True)
    return out.getvalue()


def has_metadata(data: bytes) -> bool:
    """True when image bytes carry EXIF (GPS included), XMP, IPTC, a comment or PNG text chunks.

    Used by tests and by privacy checks on every served image. Looks both through Pillow and at
    the raw bytes, so that a block Pillow does not parse still counts.
    """
    if any(marker in data for marker in _METADATA_MARKERS):
        return True
    try:
        with Image.open(io.BytesIO(data)) as image:
            if len(image.getexif()) or image.getexif().get_ifd(_IFD_GPS):
                return True
            info_keys = {str(key).lower() for key in image.info}
            if info_keys & {"exif", "xmp", "xml:com.adobe.xmp", "photoshop", "iptc", "comment"}:
                return True
            if getattr(image, "text", None):  # PNG tEXt / iTXt / zTXt
                return True
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError):
        return False  # not an image Pillow reads: only the byte scan above could tell
    return False


# --- helpers -------------------------------------------------------------------------------------


def _read_at_most(upload: Any, limit: int) -> bytes:
    """Up to ``limit`` bytes from the start of a file object, looping over short reads."""
    if hasattr(upload, "seek"):
        # A non-seekable stream is read from where it stands.
        with contextlib.suppress(OSError, ValueError):
            upload.seek(0)
    chunks: list[bytes] = []
    remaining = limit
    while remaining > 0:
        chunk = upload.read(min(remaining, 1024 * 1024))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


@contextlib.contextmanager
def _pixel_limit(max_pixels: int) -> Iterator[None]:
    """Pillow's bomb check at our limit, its warning (over the limit) made an error like its error
    (over twice the limit). The global is restored afterwards so other Pillow users keep theirs."""
    with _PIXEL_LIMIT_LOCK, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        previous = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = max_pixels
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = previous


@contextlib.contextmanager
def _opened(data: bytes, *, max_pixels: int) -> Iterator[Image.Image]:
    """Open accepted formats only, refusing oversized images before a single pixel is decoded."""
    try:
        with _pixel_limit(max_pixels):
            image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError.too_many_pixels(max_pixels) from exc
    except UnidentifiedImageError as exc:
        refused = _refused_format(data)
        if refused:
            raise ImageError.unsupported_format(refused) from exc
        raise ImageError.not_an_image() from exc
    except Exception as exc:  # a recognised header that does not hold together
        raise ImageError.corrupt() from exc
    with image:
        width, height = image.size
        if width <= 0 or height <= 0:
            raise ImageError.corrupt()
        if width * height > max_pixels:
            raise ImageError.too_many_pixels(max_pixels)
        yield image


def _refused_format(data: bytes) -> str | None:
    """The name of a known image format we do not accept, from its signature; None otherwise."""
    head = data[:1024]
    for signature, name in _REFUSED_SIGNATURES:
        if head.startswith(signature):
            return name
    if head.startswith(b"BM") and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES:
        return "BMP"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "AVIF" if head[8:12] == b"avif" else "HEIC"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if b"<svg" in text and (text.startswith(b"<?xml") or text.startswith(b"<svg") or text.startswith(b"<!")):
        return "SVG"
    return None


def _to_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """8-bit RGB (or grey) in sRGB, transparency flattened on white, without the source profile.

    Dropping an embedded profile (Display P3 on recent phones) without converting would shift the
    colours; keeping it would keep its device description. So the pixels are converted instead.
    """
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info
    ):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    if icc_profile and image.mode in ("RGB", "CMYK"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
            converted = ImageCms.profileToProfile(
                image, source, ImageCms.createProfile("sRGB"), outputMode="RGB"
            )
        except (ImageCms.PyCMSError, OSError, ValueError):
            converted = None  # an unreadable or mismatched profile: plain conversion below
        if converted is not None:
            image = converted
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    return image


def _dms_to_degrees(value: Any, ref: Any, *, positive: str, negative: str) -> float | None:
    """Decimal degrees from EXIF degrees/minutes/seconds rationals and an N/S or E/W reference."""
    ref_text = _exif_text(ref).strip().upper()
    if ref_text not in (positive, negative):
        return None  # without a hemisphere the sign is a guess
    if not isinstance(value, tuple | list) or not 1 <= len(value) <= 3:
        return None
    try:
        parts = [float(part) for part in value]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not all(math.isfinite(part) and part >= 0 for part in parts):
        return None
    degrees, minutes, seconds = (*parts, 0.0, 0.0)[:3]
    if minutes >= 60 or seconds >= 60:
        return None
    decimal = degrees + minutes / 60 + seconds / 3600
    return -decimal if ref_text == negative else decimal


def _exif_text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    return value.strip("\x00 ") if isinstance(value, str) else ""


def _exif_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
