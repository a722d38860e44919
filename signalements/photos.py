"""Photos sent with reports: checked on arrival, kept private, served only as re-encoded copies.

The checks and the re-encoding are ``geo.images`` (shared with ``urbanisme``); this module keeps
what is about the ``Photo`` model. The original keeps its EXIF (GPS position, date, camera
serial...) and is stored privately under a random name. Everything served — the web size and the
thumbnail — is an EXIF-free JPEG made by :func:`geo.images.strip_and_resize`.
"""

from __future__ import annotations

import io
import uuid
from datetime import timedelta
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from PIL import Image

from geo.images import ValidatedImage, strip_and_resize
from signalements.models import Photo, Report

WEB_MAX_SIDE = 1600
THUMBNAIL_MAX_SIDE = 400


def photo_store_original(*, report: Report, image: ValidatedImage, position: int) -> Photo:
    """Keep the untouched upload privately and record it; copies are made later by ``photo_process``.

    The stored name is random: the uploaded file name may carry personal data (« IMG_Dupont.jpg »)
    and a guessable name would expose the GPS position the original still holds.
    """
    photo = Photo(report=report, sha256=image.sha256, position=position)
    photo.original.save(f"{uuid.uuid4().hex}{image.extension}", ContentFile(image.data), save=False)
    try:
        photo.save()
    except Exception:
        photo.original.delete(save=False)
        raise
    return photo


def photo_process(*, photo_id: int) -> Photo:
    """Make the EXIF-free web and thumbnail copies of a stored original. Idempotent.

    The row lock makes two workers handling the same retried task wait for each other, and the
    second one finds ``processed_at`` set and does nothing. File names come from the photo id plus
    a keyed digest: stable across retries, free of the uploaded name, and not guessable, so that
    the photos of an unpublished report cannot be found by counting.
    """
    with transaction.atomic():
        photo = Photo.objects.select_for_update().get(pk=photo_id)
        if photo.processed_at is not None:
            return photo

        with photo.original.open("rb") as original:
            data = original.read()
        web = strip_and_resize(data, max_side=WEB_MAX_SIDE)
        thumbnail = strip_and_resize(data, max_side=THUMBNAIL_MAX_SIDE)

        stem = _served_stem(photo.pk)
        written: list[Any] = []
        try:
            photo.web.save(f"{stem}-web.jpg", ContentFile(web), save=False)
            written.append(photo.web)
            photo.thumbnail.save(f"{stem}-vignette.jpg", ContentFile(thumbnail), save=False)
            written.append(photo.thumbnail)
            with Image.open(io.BytesIO(web)) as web_image:
                photo.width, photo.height = web_image.size
            photo.processed_at = timezone.now()
            photo.save(update_fields=["web", "thumbnail", "width", "height", "processed_at"])
        except Exception:
            for field_file in written:
                field_file.delete(save=False)
            raise
    return photo


def photos_unprocessed_ids(*, older_than: timedelta = timedelta(minutes=2), limit: int = 200) -> list[int]:
    """Photos whose processing task was lost (broker down at filing, worker crash), oldest first."""
    return list(
        Photo.objects.filter(processed_at__isnull=True, created_at__lte=timezone.now() - older_than)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


# --- helpers -------------------------------------------------------------------------------------


def _served_stem(photo_id: int) -> str:
    digest = salted_hmac("signalements.photos.served-name", str(photo_id), algorithm="sha256").hexdigest()[
        :16
    ]
    return f"photo-{photo_id}-{digest}"
