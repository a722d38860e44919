"""Hostile images that are still images: polyglots and monstrous metadata blocks.

The decompression bomb, truncated JPEG, SVG with a script and absurd GeoTIFF dimensions are in
``tests/geo/test_images.py`` and ``tests/urbanisme/test_rasters.py``. Here: files that a format
check accepts because they *are* valid images, but that carry something else (a page, an archive,
a script in a comment, 64 KiB of EXIF, hundreds of metadata segments, a lying EXIF directory). What
must hold: never an unexpected exception (a 500), and nothing of the payload in what is served —
the served copies are re-encoded pixels, so not one byte of the upload's container survives.
"""

from __future__ import annotations

import io
import struct
import zipfile

import pytest
from PIL import Image

from geo.images import ImageError, has_metadata, strip_and_resize, validate_image
from tests.geo.image_files import PARIS_GPS, camera_exif, encoded, jpeg, picture, upload

SCRIPT = b"<script>fetch('/api/moi').then(r=>r.text()).then(alert)</script>"
HTML_PAGE = b"<!doctype html><html><body>" + SCRIPT + b"</body></html>"


def _zip_archive() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("evil.html", HTML_PAGE)
    return out.getvalue()


def _insert_segments(data: bytes, segments: list[bytes]) -> bytes:
    """JPEG segments inserted right after SOI (FF D8): where cameras put their APPn blocks."""
    assert data[:2] == b"\xff\xd8"
    return data[:2] + b"".join(segments) + data[2:]


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def _served_copies(data: bytes) -> list[bytes]:
    return [strip_and_resize(data, max_side=1600), strip_and_resize(data, max_side=400)]


def _assert_clean(copies: list[bytes], *needles: bytes) -> None:
    for copy in copies:
        assert not has_metadata(copy)
        for needle in needles:
            assert needle not in copy
        with Image.open(io.BytesIO(copy)) as image:
            assert image.format == "JPEG"


POLYGLOTS = {
    # a page after the end-of-image marker: a browser sniffing the bytes could render it
    "jpeg+html": lambda: jpeg((400, 300)) + HTML_PAGE,
    # an archive after the image (the "GIFAR" family): some tools open it as a ZIP
    "jpeg+zip": lambda: jpeg((400, 300)) + _zip_archive(),
    # the script inside the image, as a JPEG comment
    "jpeg comment": lambda: jpeg((400, 300), comment=SCRIPT),
    # the script in a PNG text chunk, and a page after IEND
    "png text+html": lambda: _png_with_text() + HTML_PAGE,
}


def _png_with_text() -> bytes:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Description", SCRIPT.decode())
    return encoded(picture((300, 200)), "PNG", pnginfo=info)


@pytest.mark.parametrize("kind", sorted(POLYGLOTS))
def test_a_polyglot_is_accepted_as_the_image_it_is_and_served_without_its_payload(kind: str):
    # given a valid image that is also something else
    data = POLYGLOTS[kind]()
    assert SCRIPT in data or b"PK\x03\x04" in data
    # when it is validated, then it passes as an image (refusing it would be refusing a photo)...
    checked = validate_image(upload(data, name="photo.jpg"))
    assert checked.format in {"JPEG", "PNG"}
    # ...and what is served is new pixels: no script, no archive, no metadata
    _assert_clean(_served_copies(checked.data), SCRIPT, b"PK\x03\x04", b"<html")


def test_a_64_kib_exif_block_is_read_and_stripped():
    # given a phone photo whose EXIF fills its segment (a 60 KiB maker note beside the GPS)
    exif = camera_exif()
    exif[0x927C] = b"M" * 60_000  # MakerNote
    exif[0x9286] = b"ASCII\x00\x00\x00" + b"Jean Dupont " * 300  # UserComment
    data = jpeg((800, 600), exif=exif)
    assert len(data) > 60_000
    # when it is validated, then its position is still read (the report is placed)...
    checked = validate_image(upload(data))
    assert checked.gps is not None
    assert checked.gps == pytest.approx(PARIS_GPS, abs=1e-4)
    # ...and the served copies carry none of it
    _assert_clean(_served_copies(checked.data), b"Jean Dupont", b"MMMMMMMM")


def test_hundreds_of_metadata_segments_are_stripped_or_refused_by_size():
    # given a JPEG preceded by 120 APP2 segments of 64 KiB (7.5 MiB of "ICC" chunks and junk)
    segments = [_segment(0xE2, b"JUNK\x00" + bytes([n % 251]) * 65_000) for n in range(120)]
    data = _insert_segments(jpeg((400, 300)), segments)
    assert 7_000_000 < len(data) < 10 * 1024 * 1024
    # when it is validated under the default byte limit, it is an image; copies are clean
    checked = validate_image(upload(data))
    _assert_clean(_served_copies(checked.data), b"JUNK")
    # and under a smaller byte limit it is refused as too big (413), not as anything worse
    with pytest.raises(ImageError) as caught:
        validate_image(upload(data), max_bytes=5 * 1024 * 1024)
    assert caught.value.status == 413


def test_an_exif_directory_that_lies_about_its_size_is_no_crash():
    # given an EXIF segment whose first directory claims 65 535 entries in a few bytes
    lying_ifd = b"Exif\x00\x00" + b"MM\x00\x2a\x00\x00\x00\x08" + b"\xff\xff" + b"\x00" * 24
    data = _insert_segments(jpeg((400, 300)), [_segment(0xE1, lying_ifd)])
    # when it is validated, then it is either a photo with no position, or refused as corrupt
    try:
        checked = validate_image(upload(data))
    except ImageError as error:
        assert error.status == 422
    else:
        assert checked.gps is None
        _assert_clean(_served_copies(checked.data))


def test_an_exif_gps_directory_pointing_outside_the_segment_is_no_crash():
    # given a GPS IFD pointer (tag 0x8825) to an offset far past the end of the segment
    ifd = (
        b"MM\x00\x2a\x00\x00\x00\x08"  # big-endian TIFF header, first IFD at 8
        + b"\x00\x01"  # one entry
        + b"\x88\x25\x00\x04\x00\x00\x00\x01\x7f\xff\xff\xf0"  # GPSInfo LONG -> 0x7ffffff0
        + b"\x00\x00\x00\x00"  # no next IFD
    )
    data = _insert_segments(jpeg((400, 300)), [_segment(0xE1, b"Exif\x00\x00" + ifd)])
    try:
        checked = validate_image(upload(data))
    except ImageError as error:
        assert error.status == 422
    else:
        assert checked.gps is None
        _assert_clean(_served_copies(checked.data))
