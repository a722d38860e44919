"""Every image the site serves is checked for metadata (EXIF with GPS, XMP, IPTC, comments).

Served images are written only by ``geo.images.strip_and_resize`` (report photos' web copy and
thumbnail, contribution photos, project covers, image documents); this audit re-reads the files
as the web server would serve them and asks ``geo.images.has_metadata``, so that a future code
path writing an image another way, or a file dropped into MEDIA_ROOT (or the public bucket) by
hand, is caught. Files are read through the default storage: the filesystem or S3 alike.

The nightly task (``privacy.served_images_audit``) checks the images of the last days and logs an
error per offending file; ``manage.py audit_served_images`` checks them all (exit status 1 when
any is found). Planning rasters are not here: their tiles are rendered on the fly (PNG/WebP
written by rio-tiler, no metadata), and their originals are private.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.core.files.storage import default_storage
from django.db.models import Q

from geo.images import has_metadata
from signalements.models import Photo
from urbanisme.models import Contribution, Document, DocumentKind, Project

logger = logging.getLogger("concerto.privacy")

# Bytes read from each file: metadata sits at the start of JPEG/PNG/WebP files, but PNG text
# chunks may follow the image data, so the whole file is read up to this size.
_MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Finding:
    model: str
    pk: int
    field: str
    name: str
    problem: str  # "metadata" or "unreadable"


def _served_files(since: datetime | None) -> Iterator[tuple[str, int, str, str]]:
    """(model label, pk, field, stored name) of every served image, newest rows only if ``since``."""
    photos = Photo.objects.exclude(web="", thumbnail="")
    contributions = Contribution.objects.exclude(photo_web="")
    projects = Project.objects.exclude(cover_image="")
    documents = Document.objects.filter(kind=DocumentKind.IMAGE)
    if since is not None:
        photos = photos.filter(Q(created_at__gte=since) | Q(processed_at__gte=since))
        contributions = contributions.filter(updated_at__gte=since)
        projects = projects.filter(updated_at__gte=since)
        documents = documents.filter(created_at__gte=since)
    for pk, web, thumbnail in photos.values_list("pk", "web", "thumbnail").iterator():
        yield "signalements.Photo", pk, "web", web
        yield "signalements.Photo", pk, "thumbnail", thumbnail
    for pk, name in contributions.values_list("pk", "photo_web").iterator():
        yield "urbanisme.Contribution", pk, "photo_web", name
    for pk, name in projects.values_list("pk", "cover_image").iterator():
        yield "urbanisme.Project", pk, "cover_image", name
    for pk, name in documents.values_list("pk", "file").iterator():
        yield "urbanisme.Document", pk, "file", name


def served_images_audit(*, since: datetime | None = None) -> tuple[int, list[Finding]]:
    """Check served images (all, or those of rows written since ``since``); (files checked, findings)."""
    checked = 0
    findings: list[Finding] = []
    for label, pk, field, name in _served_files(since):
        if not name:
            continue
        checked += 1
        try:
            with default_storage.open(name, "rb") as handle:
                data = handle.read(_MAX_BYTES)
        except Exception:  # OSError on files; botocore's errors (403, endpoint away) on S3
            findings.append(Finding(label, pk, field, name, "unreadable"))
            continue
        if has_metadata(data):
            findings.append(Finding(label, pk, field, name, "metadata"))
    for finding in findings:
        if finding.problem == "metadata":
            logger.error(
                "served image with metadata: %s #%s %s (%s)",
                finding.model,
                finding.pk,
                finding.field,
                finding.name,
            )
        else:
            logger.warning(
                "served image missing or unreadable: %s #%s %s (%s)",
                finding.model,
                finding.pk,
                finding.field,
                finding.name,
            )
    return checked, findings
