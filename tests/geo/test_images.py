"""Uploaded images (``geo.images``): checked on arrival, EXIF read then stripped. Real files made with Pillow."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from geo.images import has_metadata, strip_and_resize, validate_image
from tests.geo.image_files import (
    PARIS_GPS,
    camera_exif,
    camera_jpeg_bytes,
    dms,
    encoded,
    jpeg,
    picture,
    refusal,
    upload,
)


@pytest.fixture
def camera_jpeg() -> bytes:
    return camera_jpeg_bytes()


# --- validate_image: what it accepts and what it reads --------------------------------------------


def test_camera_jpeg_gives_position_date_and_upright_size(camera_jpeg: bytes) -> None:
    # given a phone photo stored 2000 x 1000 but to be shown turned a quarter (Orientation 6)
    # when it is validated
    image = validate_image(upload(camera_jpeg, name="IMG_0001.jpg"))
    # then its size is the displayed one and its EXIF position and date are read
    assert image.format == "JPEG"
    assert (image.width, image.height) == (1000, 2000)
    assert image.gps is not None
    assert image.gps == pytest.approx((2.3522, 48.8567), abs=1e-4)
    assert image.gps == pytest.approx(PARIS_GPS, abs=1e-9)
    assert image.taken_at == datetime(2024, 5, 17, 14, 32, 10)
    assert image.data == camera_jpeg
    assert len(image.sha256) == 64


def test_southern_and_western_hemispheres_are_negative() -> None:
    # given a photo taken in Saint-Denis de La Réunion (20°52'S 55°27'E) and one in Guadeloupe (61°W)
    reunion = jpeg(exif=camera_exif(lat=dms(20, 52, 0), lat_ref="S", lon=dms(55, 27, 0)))
    guadeloupe = jpeg(exif=camera_exif(lat=dms(16, 15, 0), lon=dms(61, 35, 0), lon_ref="W"))
    # when they are validated
    # then the signs follow the references
    assert validate_image(io.BytesIO(reunion)).gps == pytest.approx((55.45, -20.8667), abs=1e-4)
    assert validate_image(io.BytesIO(guadeloupe)).gps == pytest.approx((-61.5833, 16.25), abs=1e-4)


@pytest.mark.parametrize(
    "exif",
    [
        pytest.param(camera_exif(lat=dms(0, 0, 0), lon=dms(0, 0, 0)), id="null-island"),
        pytest.param(camera_exif(lat=dms(95, 0, 0)), id="latitude-out-of-range"),
        pytest.param(camera_exif(lon=dms(2, 75, 0)), id="75-minutes"),
        pytest.param(camera_exif(lat_ref=None), id="no-hemisphere"),
        pytest.param(camera_exif(lat=(IFDRational(48, 0), IFDRational(0), IFDRational(0))), id="zero-denom"),
    ],
)
def test_absurd_gps_is_ignored(exif: Image.Exif) -> None:
    # given a photo whose GPS block is empty of meaning
    data = jpeg(exif=exif)
    # when it is validated
    image = validate_image(io.BytesIO(data))
    # then it is accepted, without a position
    assert image.gps is None


def test_png_with_transparency_is_accepted() -> None:
    # given a PNG with an alpha channel and no EXIF
    data = encoded(picture((640, 480), "RGBA"), "PNG")
    # when it is validated
    image = validate_image(upload(data, name="capture.png", content_type="image/png"))
    # then it is accepted as it is
    assert (image.format, image.width, image.height, image.gps, image.taken_at) == (
        "PNG",
        640,
        480,
        None,
        None,
    )


def test_webp_is_accepted() -> None:
    # given a WebP photo
    data = encoded(picture((300, 200)), "WEBP", quality=80)
    # when it is validated
    image = validate_image(io.BytesIO(data))
    # then it is accepted
    assert (image.format, image.width, image.height) == ("WEBP", 300, 200)


def test_mpo_from_a_phone_is_accepted_as_jpeg() -> None:
    # given a multi-picture JPEG (MPO), as some phones write
    first, second = picture((400, 300)), picture((400, 300))
    data = encoded(first, "MPO", save_all=True, append_images=[second])
    # when it is validated
    image = validate_image(io.BytesIO(data))
    # then it is a JPEG
    assert image.format == "JPEG"


# --- validate_image: refusals -----------------------------------------------------------------------


def test_text_file_named_jpg_is_not_an_image() -> None:
    # given a text file renamed photo.jpg and announced as image/jpeg
    data = "Bonjour, ceci n'est pas une photo : déclaration d'été.\n".encode()
    # when it is validated
    error = refusal(data)
    # then it is refused as not an image, with a 422 and a French message
    assert (error.code, error.status) == ("pas_une_image", 422)
    assert "n'est pas une image" in error.message


def test_empty_file_is_not_an_image() -> None:
    assert refusal(b"").code == "pas_une_image"


def test_svg_with_script_is_refused() -> None:
    # given an SVG carrying a script
    data = (
        b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b"<script>fetch('/api/moi').then(r => r.text()).then(alert)</script></svg>"
    )
    # when it is validated
    error = refusal(data)
    # then it is refused as an unsupported format
    assert error.code == "format_non_supporte"
    assert "SVG" in error.message


def test_gif_is_refused() -> None:
    # given a GIF
    data = encoded(picture((50, 50), "P"), "GIF")
    # when it is validated
    error = refusal(data)
    # then it is refused, naming the format and the accepted ones
    assert (error.code, error.status) == ("format_non_supporte", 422)
    assert "GIF" in error.message
    assert "JPEG, PNG ou WebP" in error.message


def test_tiff_is_refused() -> None:
    assert refusal(encoded(picture((50, 50)), "TIFF")).code == "format_non_supporte"


def test_truncated_jpeg_is_corrupt(camera_jpeg: bytes) -> None:
    # given a JPEG cut in the middle of its pixel data, as an interrupted upload leaves it
    data = camera_jpeg[: len(camera_jpeg) // 2]
    # when it is validated
    error = refusal(data)
    # then it is refused as damaged
    assert (error.code, error.status) == ("image_corrompue", 422)


def test_png_with_bad_checksum_is_corrupt() -> None:
    # given a PNG whose pixel data was altered after its checksum was written
    data = bytearray(encoded(picture((64, 64)), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 10] ^= 0xFF
    # when it is validated
    # then it is refused as damaged
    assert refusal(bytes(data)).code == "image_corrompue"


def test_file_over_the_byte_limit_is_413(settings, camera_jpeg: bytes) -> None:  # type: ignore[no-untyped-def]
    # given a limit below the size of the photo
    settings.PHOTO_MAX_BYTES = len(camera_jpeg) - 1
    # when it is validated, as an upload with a size and as a bare stream
    from_upload = refusal(camera_jpeg)
    from_stream = refusal(io.BytesIO(camera_jpeg))
    # then both are refused as too heavy, with 413
    for error in (from_upload, from_stream):
        assert (error.code, error.status) == ("fichier_trop_gros", 413)
        assert "trop lourde" in error.message


class _EndlessStream(io.RawIOBase):
    """A body that never ends, counting what it gave."""

    def __init__(self) -> None:
        self.given = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        size = min(len(buffer), 7000)  # short reads, as sockets give
        buffer[:size] = b"\xff" * size
        self.given += size
        return size


def test_reading_stops_one_byte_past_the_limit(settings) -> None:  # type: ignore[no-untyped-def]
    # given a stream that never ends
    settings.PHOTO_MAX_BYTES = 100_000
    stream = _EndlessStream()
    # when it is validated
    error = refusal(stream)
    # then it is refused after reading no more than the limit plus one byte
    assert error.code == "fichier_trop_gros"
    assert stream.given == 100_001


@pytest.fixture(scope="module")
def png_bomb() -> bytes:
    """A 49 KB PNG declaring 12000 x 12000 pixels (144 million, over twice the 40 million limit)."""
    return encoded(Image.new("1", (12_000, 12_000)), "PNG", optimize=True)


def test_decompression_bomb_is_refused(png_bomb: bytes) -> None:
    # given a small PNG that would take 144 million pixels once decoded
    assert len(png_bomb) < 100_000
    # when it is validated under the default limits
    error = refusal(png_bomb)
    # then it is refused for its pixel count
    assert (error.code, error.status) == ("image_trop_grande", 422)
    assert "40 millions de pixels" in error.message


@pytest.mark.parametrize("size", [(150, 100), (300, 200), (110, 100)], ids=["1.5x", "6x", "1.1x"])
def test_more_pixels_than_the_setting_is_refused(settings, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    # given a limit of 10 000 pixels, and images over it by various factors (Pillow warns over the
    # limit and errors over twice the limit: both must refuse)
    settings.PHOTO_MAX_PIXELS = 10_000
    data = encoded(picture(size), "PNG")
    # when it is validated
    error = refusal(data)
    # then it is refused for its pixel count
    assert error.code == "image_trop_grande"


def test_pixel_limit_does_not_leak_into_pillow(settings) -> None:  # type: ignore[no-untyped-def]
    # given Pillow's own limit before a validation under a lower setting
    before = Image.MAX_IMAGE_PIXELS
    settings.PHOTO_MAX_PIXELS = 10_000
    # when a photo is validated
    refusal(encoded(picture((300, 200)), "PNG"))
    # then Pillow's limit is unchanged for everyone else
    assert before == Image.MAX_IMAGE_PIXELS


# --- strip_and_resize / has_metadata ---------------------------------------------------------------


def test_copies_carry_no_metadata_and_are_upright(camera_jpeg: bytes) -> None:
    # given a sideways phone photo with EXIF, GPS, XMP and a comment
    assert has_metadata(camera_jpeg)
    # when its web copy and thumbnail are made
    web = strip_and_resize(camera_jpeg, max_side=1600)
    thumbnail = strip_and_resize(camera_jpeg, max_side=400)
    # then they are upright JPEGs within their size, with no metadata at all
    for data, size in ((web, (800, 1600)), (thumbnail, (200, 400))):
        assert not has_metadata(data)
        assert b"Jean Dupont" not in data
        assert b"Camerafone" not in data
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "JPEG"
            assert image.size == size
            assert len(image.getexif()) == 0
            assert not image.getexif().get_ifd(0x8825)
            assert "icc_profile" not in image.info
            assert "comment" not in image.info
            assert image.info.get("progressive") or image.info.get("progression")


def test_small_image_is_not_enlarged_and_transparency_is_flattened() -> None:
    # given a small transparent PNG
    image = Image.new("RGBA", (120, 80), (255, 0, 0, 0))
    # when it is re-encoded for the web
    data = strip_and_resize(encoded(image, "PNG"), max_side=1600)
    # then it keeps its size and its transparent pixels become white
    with Image.open(io.BytesIO(data)) as out:
        assert out.size == (120, 80)
        assert out.mode == "RGB"
        assert all(channel > 245 for channel in out.getpixel((60, 40)))


def test_cmyk_and_16_bit_images_become_8_bit() -> None:
    # given a CMYK JPEG and a 16-bit grey PNG at mid-grey
    cmyk = encoded(picture((100, 100), "CMYK"), "JPEG")
    grey16 = encoded(Image.new("I;16", (100, 100), 32768), "PNG")
    # when they are re-encoded
    # then they are plain 8-bit JPEGs, the grey still mid-grey
    with Image.open(io.BytesIO(strip_and_resize(cmyk, max_side=400))) as out:
        assert out.mode == "RGB"
    with Image.open(io.BytesIO(strip_and_resize(grey16, max_side=400))) as out:
        assert out.mode == "L"
        assert 120 <= out.getpixel((50, 50)) <= 136


def test_icc_profile_is_converted_not_carried() -> None:
    # given a JPEG with an embedded colour profile
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encoded(picture((200, 100)), "JPEG", icc_profile=profile)
    # when it is re-encoded
    with Image.open(io.BytesIO(strip_and_resize(data, max_side=400))) as out:
        # then the copy has no profile
        assert "icc_profile" not in out.info


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(jpeg(size=(40, 40)), False, id="plain-jpeg"),
        pytest.param(jpeg(size=(40, 40), exif=camera_exif()), True, id="exif"),
        pytest.param(jpeg(size=(40, 40), xmp=b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>"), True, id="xmp"),
        pytest.param(jpeg(size=(40, 40), comment=b"auteur"), True, id="comment"),
        pytest.param(encoded(picture((40, 40)), "PNG", exif=camera_exif()), True, id="png-exif"),
        pytest.param(encoded(picture((40, 40)), "WEBP", exif=camera_exif()), True, id="webp-exif"),
        pytest.param(encoded(picture((40, 40)), "PNG"), False, id="plain-png"),
    ],
)
def test_has_metadata(data: bytes, expected: bool) -> None:
    assert has_metadata(data) is expected


def test_has_metadata_sees_png_text_chunks() -> None:
    # given a PNG with an author text chunk
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Author", "Jean Dupont")
    data = encoded(picture((40, 40)), "PNG", pnginfo=info)
    # then it has metadata
    assert has_metadata(data)
