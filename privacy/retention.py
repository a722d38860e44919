"""Retention: personal data is kept only as long as its purpose needs, then erased or anonymised.

One step per kind of data, each with its period in settings (``RETENTION_*``, in days; ``None``
turns the step off) and each:

* idempotent — it selects only rows that still hold personal data, so a second run finds nothing;
* batched — ``RETENTION_BATCH_SIZE`` rows per transaction, walked by primary key, so a large
  backlog never holds long locks and a row it must skip (a photo whose copy is missing) is
  passed over instead of looping;
* counted — :func:`apply_retention` returns ``{step: rows}`` (``None`` for a step turned off);
  ``dry_run=True`` counts what would be done and changes nothing.

The periods and their reasons are in docs/PRIVACY.md. ``privacy.tasks.retention_task`` runs this
every night (beat); ``manage.py apply_retention [--dry-run]`` runs it by hand.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from geo.models import OutboxMessage, PersonalDataAccess
from privacy import anonymise
from privacy.models import SubjectRequest
from signalements.models import Follower, Photo, ReportContact
from signalements.models import private_storage as report_private_storage
from signalements.workflow import CLOSED_STATES
from urbanisme.models import Contribution, ContributionAuthor, Project, ProjectFollower, ProjectStatus
from urbanisme.models import private_storage as urbanisme_private_storage

logger = logging.getLogger("concerto.privacy")


@dataclass(frozen=True)
class Step:
    name: str
    setting: str
    run: Callable[[datetime, bool, int], int]  # (cutoff, dry_run, batch size) -> rows


def _batches(qs: QuerySet[Any], size: int) -> Iterator[list[Any]]:
    """Rows of ``qs`` by ascending primary key, ``size`` at a time (keyset pagination)."""
    last = None
    while True:
        page = qs.order_by("pk")
        if last is not None:
            page = page.filter(pk__gt=last)
        rows = list(page[:size])
        if not rows:
            return
        last = rows[-1].pk
        yield rows


def _delete_in_batches(qs: QuerySet[Any], dry_run: bool, size: int) -> int:
    if dry_run:
        return qs.count()
    total = 0
    model: type[Model] = qs.model
    for rows in _batches(qs.only("pk"), size):
        with transaction.atomic():
            total += (
                model._default_manager.filter(pk__in=[r.pk for r in rows])
                .delete()[1]
                .get(model._meta.label, 0)
            )
    return total


def _closed_before(cutoff: datetime, prefix: str) -> Q:
    """Reports whose ticket is closed (résolu, rejeté, doublon) since before ``cutoff``.

    ``closed_at`` is set by every closing transition; imported tickets may lack it, and then the
    ticket's last change stands for it.
    """
    return Q(**{f"{prefix}ticket__state__in": sorted(CLOSED_STATES)}) & (
        Q(**{f"{prefix}ticket__closed_at__lte": cutoff})
        | Q(**{f"{prefix}ticket__closed_at__isnull": True, f"{prefix}ticket__updated_at__lte": cutoff})
    )


# --- steps ------------------------------------------------------------------------------------------


def report_contacts(cutoff: datetime, dry_run: bool, size: int) -> int:
    """Reporters' contacts, once the ticket has been closed for the period: the row is deleted.

    Nothing is kept: the report stays, anonymous; the private tracking link stops working.
    """
    return _delete_in_batches(ReportContact.objects.filter(_closed_before(cutoff, "report__")), dry_run, size)


def followers(cutoff: datetime, dry_run: bool, size: int) -> int:
    """Followers of reports closed since before the cutoff, unsubscribed ones, and followers of
    projects archived (last changed) before the cutoff."""
    done = _delete_in_batches(
        Follower.objects.filter(_closed_before(cutoff, "report__") | Q(unsubscribed_at__lte=cutoff)),
        dry_run,
        size,
    )
    done += _delete_in_batches(
        ProjectFollower.objects.filter(
            project__status=ProjectStatus.ARCHIVED, project__updated_at__lte=cutoff
        ),
        dry_run,
        size,
    )
    return done


def unconfirmed_followers(cutoff: datetime, dry_run: bool, size: int) -> int:
    """Project followers who never clicked their confirmation link: no consent, no reason to keep."""
    return _delete_in_batches(
        ProjectFollower.objects.filter(confirmed_at__isnull=True, created_at__lte=cutoff), dry_run, size
    )


def photo_originals(cutoff: datetime, dry_run: bool, size: int) -> int:
    """Private originals of report photos (their EXIF holds GPS and camera serial), once the served
    copies exist: the web copy and the thumbnail are recorded and present in storage."""
    qs = Photo.objects.filter(created_at__lte=cutoff, processed_at__isnull=False).exclude(original="")
    qs = qs.exclude(web="").exclude(thumbnail="")
    if dry_run:
        return qs.count()
    done = 0
    storage = report_private_storage()
    for rows in _batches(qs.only("pk", "original", "web", "thumbnail"), size):
        ready = [
            p for p in rows if default_storage.exists(p.web.name) and default_storage.exists(p.thumbnail.name)
        ]
        if len(ready) < len(rows):
            logger.warning(
                "%s photo(s) keep their original: a served copy is missing", len(rows) - len(ready)
            )
        with transaction.atomic():
            Photo.objects.filter(pk__in=[p.pk for p in ready]).update(original="")
            anonymise.delete_files_on_commit(storage, [p.original.name for p in ready])
        done += len(ready)
    return done


def contribution_photo_originals(cutoff: datetime, dry_run: bool, size: int) -> int:
    """Private originals of contribution photos, once the served (EXIF-free) copy exists."""
    qs = Contribution.objects.filter(created_at__lte=cutoff).exclude(photo_original="").exclude(photo_web="")
    if dry_run:
        return qs.count()
    done = 0
    storage = urbanisme_private_storage()
    for rows in _batches(qs.only("pk", "photo_original", "photo_web"), size):
        ready = [c for c in rows if default_storage.exists(c.photo_web.name)]
        with transaction.atomic():
            Contribution.objects.filter(pk__in=[c.pk for c in ready]).update(photo_original="")
            anonymise.delete_files_on_commit(storage, [c.photo_original.name for c in ready])
        done += len(ready)
    return done


def contribution_authors(cutoff: datetime, dry_run: bool, size: int) -> int:
    """Names and addresses of contributors and repliers, the period after the bilan is published
    (or, without a bilan, after the project was archived): anonymised, one alias per address and
    project so that the bilan's count of contributors stays the same."""
    projects = Project.objects.filter(
        Q(bilan_published_at__lte=cutoff) | Q(status=ProjectStatus.ARCHIVED, updated_at__lte=cutoff)
    ).values_list("pk", flat=True)
    done = 0
    for project_id in projects:
        qs = ContributionAuthor.objects.filter(
            Q(contribution__project_id=project_id) | Q(reply__contribution__project_id=project_id)
        ).filter(anonymise.authors_not_anonymous())
        if dry_run:
            done += qs.count()
            continue
        aliases: dict[str, str] = {}
        for rows in _batches(qs, size):
            with transaction.atomic():
                done += anonymise.anonymise_authors(rows, aliases=aliases)
    return done


def outbox(cutoff: datetime, dry_run: bool, size: int) -> int:
    """Sent or abandoned notifications: address, bodies, payload and dedupe key blanked."""
    qs = OutboxMessage.objects.filter(
        Q(state=OutboxMessage.State.SENT, sent_at__lte=cutoff)
        | Q(state=OutboxMessage.State.FAILED, created_at__lte=cutoff)
        | Q(state=OutboxMessage.State.SENT, sent_at__isnull=True, created_at__lte=cutoff)
    ).exclude(destination="")
    if dry_run:
        return qs.count()
    done = 0
    for rows in _batches(qs.only("pk"), size):
        with transaction.atomic():
            done += anonymise.purge_outbox([r.pk for r in rows], marker="purged")
    return done


def access_log(cutoff: datetime, dry_run: bool, size: int) -> int:
    """The staff access log and the anonymous trace of citizens' requests, past the period."""
    done = _delete_in_batches(PersonalDataAccess.objects.filter(at__lte=cutoff), dry_run, size)
    done += _delete_in_batches(SubjectRequest.objects.filter(created_at__lte=cutoff), dry_run, size)
    return done


def expired_requests(now: datetime, dry_run: bool, size: int) -> int:
    """Citizens' requests whose link has expired keep no address (always on: the link's own age)."""
    qs = SubjectRequest.objects.filter(expires_at__lte=now).exclude(email="")
    return qs.count() if dry_run else qs.update(email="")


STEPS: tuple[Step, ...] = (
    Step("report_contacts", "RETENTION_REPORT_CONTACT_DAYS", report_contacts),
    Step("followers", "RETENTION_FOLLOWERS_DAYS", followers),
    Step("unconfirmed_followers", "RETENTION_UNCONFIRMED_FOLLOWERS_DAYS", unconfirmed_followers),
    Step("photo_originals", "RETENTION_PHOTO_ORIGINALS_DAYS", photo_originals),
    Step(
        "contribution_photo_originals",
        "RETENTION_CONTRIBUTION_PHOTO_ORIGINALS_DAYS",
        contribution_photo_originals,
    ),
    Step("contribution_authors", "RETENTION_CONTRIBUTION_AUTHORS_DAYS", contribution_authors),
    Step("outbox", "RETENTION_OUTBOX_DAYS", outbox),
    Step("access_log", "RETENTION_ACCESS_LOG_DAYS", access_log),
)


def apply_retention(
    *, now: datetime | None = None, dry_run: bool = False, only: set[str] | None = None
) -> dict[str, int | None]:
    """Run every step (or those named in ``only``); ``{step: rows}``, ``None`` for a step turned off."""
    now = now or timezone.now()
    size = int(getattr(settings, "RETENTION_BATCH_SIZE", 500))
    results: dict[str, int | None] = {}
    for step in STEPS:
        if only is not None and step.name not in only:
            continue
        days = getattr(settings, step.setting, None)
        if days is None:
            results[step.name] = None
            continue
        results[step.name] = step.run(now - timedelta(days=int(days)), dry_run, size)
    if only is None or "expired_requests" in only:
        results["expired_requests"] = expired_requests(now, dry_run, size)
    logger.info("retention%s: %s", " (dry run)" if dry_run else "", results)
    return results


STEP_NAMES = tuple([s.name for s in STEPS] + ["expired_requests"])
