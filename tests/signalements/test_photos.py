"""Report photos: the untouched original kept privately, EXIF-free copies made once. Real files made with Pillow.

The checks and the re-encoding themselves are tested in ``tests/geo/test_images.py``.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.utils import timezone
from PIL import Image

from geo.images import has_metadata, validate_image
from geo.srid import point_from_lonlat
from signalements.models import Photo, Report
from signalements.photos import photo_process, photo_store_original
from tests.factories import CategoryFactory
from tests.geo.image_files import camera_jpeg_bytes, encoded, picture, upload


@pytest.fixture
def camera_jpeg() -> bytes:
    return camera_jpeg_bytes()


@pytest.fixture
def media_root(settings, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """Served media under tmp/media; originals apart, under tmp/private (never served)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    return tmp_path / "media"


def private_root(media_root: Path) -> Path:
    """The private storage's root, beside (never inside) MEDIA_ROOT."""
    return media_root.parent / "private"


@pytest.fixture
def report(db) -> Report:  # type: ignore[no-untyped-def]
    return Report.objects.create(
        location=point_from_lonlat(2.35, 48.85),
        category=CategoryFactory(),
        created_at=timezone.now(),
    )


# --- storing and processing --------------------------------------------------------------------------


@pytest.mark.django_db
def test_original_is_stored_privately_under_a_random_name(
    media_root: Path, report: Report, camera_jpeg: bytes
) -> None:
    # given a validated upload whose name carries personal data
    image = validate_image(upload(camera_jpeg, name="IMG_Dupont_Jean_rue_de_Rivoli.jpg"))
    # when it is stored
    photo = photo_store_original(report=report, image=image, position=0)
    # then the untouched bytes are in the private storage (outside MEDIA_ROOT) with a random name
    photo.refresh_from_db()
    assert photo.original.name.startswith("photos/")
    assert "Dupont" not in photo.original.name
    assert photo.original.name.endswith(".jpg")
    assert (private_root(media_root) / photo.original.name).read_bytes() == camera_jpeg
    assert not (media_root / photo.original.name).exists()
    assert photo.sha256 == image.sha256
    assert photo.processed_at is None
    assert not photo.web
    assert not photo.thumbnail


@pytest.mark.django_db
def test_processing_makes_clean_copies_once(media_root: Path, report: Report, camera_jpeg: bytes) -> None:
    # given a stored original from an upload named after its author
    image = validate_image(upload(camera_jpeg, name="IMG_Dupont_Jean.jpg"))
    stored = photo_store_original(report=report, image=image, position=1)

    # when it is processed
    photo = photo_process(photo_id=stored.pk)

    # then web and thumbnail copies exist, upright, without metadata, named from the id only
    photo.refresh_from_db()
    assert photo.processed_at is not None
    assert (photo.width, photo.height) == (800, 1600)
    for field_file, longest in ((photo.web, 1600), (photo.thumbnail, 400)):
        assert field_file.name.startswith("photos/")
        assert f"photo-{photo.pk}-" in field_file.name
        assert "Dupont" not in field_file.name
        assert "IMG" not in field_file.name
        data = (media_root / field_file.name).read_bytes()
        assert not has_metadata(data)
        with Image.open(io.BytesIO(data)) as served:
            assert max(served.size) == longest
    # and the original keeps its EXIF, privately
    assert has_metadata((private_root(media_root) / photo.original.name).read_bytes())

    # when it is processed a second time (a retried task)
    files_before = sorted(p for p in media_root.rglob("*") if p.is_file())
    again = photo_process(photo_id=stored.pk)

    # then nothing changes: no new file, same names, same date
    again.refresh_from_db()
    assert sorted(p for p in media_root.rglob("*") if p.is_file()) == files_before
    assert (again.web.name, again.thumbnail.name, again.processed_at) == (
        photo.web.name,
        photo.thumbnail.name,
        photo.processed_at,
    )
    assert Photo.objects.filter(report=report).count() == 1


@pytest.mark.django_db
def test_processing_a_png(media_root: Path, report: Report) -> None:
    # given a stored PNG screenshot
    data = encoded(picture((500, 300), "RGBA"), "PNG")
    stored = photo_store_original(report=report, image=validate_image(io.BytesIO(data)), position=0)
    # when it is processed
    photo = photo_process(photo_id=stored.pk)
    # then the copies are JPEGs at the original size (never enlarged) and as a thumbnail
    assert stored.original.name.endswith(".png")
    assert (photo.width, photo.height) == (500, 300)
    with Image.open(photo.thumbnail.path) as thumbnail:
        assert (thumbnail.format, thumbnail.size) == ("JPEG", (400, 240))
