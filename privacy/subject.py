"""A person's rights of access and erasure (RGPD articles 15 and 17), keyed by an e-mail address.

Citizens file reports and contributions without an account: the e-mail address they gave is the
only thing that ties records to them, and proving they own it (``privacy.views``: a link sent to
that address) is how they exercise their rights. Staff run the same functions from the command
line (``personal_data_export --email``, ``personal_data_erase --email``) for requests received by
post or at the town hall.

What erasure does, and why some things stay:

* Contacts of reports, followers of reports and projects, pending notifications: deleted.
* Sent notifications to the address: kept as anonymous rows (kind, state, topic, dates) with the
  address, bodies and dedupe key blanked — they count in the outbox's figures.
* Authors of contributions and replies: name blanked, address replaced by a random undeliverable
  alias (``privacy.anonymise``) so that the published bilan's count of contributors does not change;
  the public pseudonym of those contributions and replies is blanked too (people often choose their
  own name).
* Supports (« +1 ») given with this address: their keyed hash is replaced by a random one, so the
  count stays and the link to the person is gone. Supports given without an address are keyed by
  the browser and address of the moment and cannot be found from an e-mail.
* Photo originals (with their EXIF) of the person's reports and contributions: deleted; the served
  EXIF-free copies stay with the record. An unprocessed report photo (no copy yet) is removed.
* Reports and contributions themselves stay, anonymous: they are records of a public service's
  work and of a public concertation (mission de service public, RGPD article 17.3.b). Free text
  the person wrote in them stays as written; staff edit it on request.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from geo.models import OutboxMessage
from privacy import anonymise
from privacy.models import SubjectRequest
from signalements.models import Follower, Photo, ReportContact, Support, TicketState
from signalements.models import private_storage as report_private_storage
from signalements.services import support_fingerprint as report_support_fingerprint
from urbanisme.models import (
    Contribution,
    ContributionAuthor,
    ContributionSupport,
    ProjectFollower,
    Reply,
)
from urbanisme.models import private_storage as urbanisme_private_storage
from urbanisme.services import support_fingerprint as contribution_support_fingerprint


def normalise(email: str) -> str:
    return (email or "").strip().lower()


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


# --- access ---------------------------------------------------------------------------------------


def subject_export(email: str) -> dict[str, Any]:
    """Everything tied to ``email``, as plain JSON-ready data (the person's own copy)."""
    email = normalise(email)
    return {
        "email": email,
        "generated_at": timezone.now().isoformat(),
        "reports": _reports_filed(email),
        "followed_reports": [
            {
                "reference": f.report.reference,
                "reason": f.reason,
                "reason_label": str(f.get_reason_display()),
                "since": _iso(f.created_at),
                "unsubscribed_at": _iso(f.unsubscribed_at),
            }
            for f in Follower.objects.filter(email__iexact=email).select_related("report").order_by("pk")
        ],
        "report_supports": [
            s.report.reference
            for s in Support.objects.filter(fingerprint=report_support_fingerprint(email=email))
            .select_related("report")
            .order_by("pk")
        ],
        "contributions": _contributions(email),
        "replies": _replies(email),
        "contribution_supports": [
            {"project": s.contribution.project.slug, "contribution": s.contribution_id}
            for s in ContributionSupport.objects.filter(
                fingerprint=contribution_support_fingerprint(email=email)
            )
            .select_related("contribution__project")
            .order_by("pk")
        ],
        "followed_projects": [
            {
                "project": f.project.slug,
                "title": f.project.title,
                "since": _iso(f.created_at),
                "confirmed_at": _iso(f.confirmed_at),
            }
            for f in ProjectFollower.objects.filter(email__iexact=email)
            .select_related("project")
            .order_by("pk")
        ],
        "notifications": _notifications(email),
        "notes": [
            _(
                "Les soutiens (« +1 ») ne sont pas enregistrés avec votre adresse : seule une empreinte "
                "chiffrée (un hachage à clé) l'est. Ceux que vous avez donnés avec cette adresse sont "
                "retrouvés en recalculant cette empreinte ; ceux donnés sans adresse ne peuvent pas "
                "l'être."
            ),
            _(
                "Les signalements et les contributions sont des documents publics de la collectivité : "
                "en cas d'effacement, ils restent publiés sans aucun lien avec vous."
            ),
            _(
                "Les photos envoyées sont publiées sans leurs métadonnées (position GPS, appareil) ; "
                "les originaux sont supprimés après le délai de conservation."
            ),
        ],
    }


def _reports_filed(email: str) -> list[dict[str, Any]]:
    contacts = (
        ReportContact.objects.filter(email__iexact=email)
        .select_related("report", "report__category", "report__category__parent", "report__ticket")
        .annotate(photos=Count("report__photos"))
        .order_by("report__created_at", "pk")
    )
    items = []
    for contact in contacts:
        report = contact.report
        ticket = getattr(report, "ticket", None)
        items.append(
            {
                "reference": report.reference,
                "created_at": _iso(report.created_at),
                "category": str(report.category),
                "description": report.description,
                "address": report.address,
                "status": ticket.state if ticket else None,
                "status_label": str(TicketState(ticket.state).label) if ticket else None,
                "published": report.published,
                "photos": contact.photos,
                "contact": {
                    "name": contact.name,
                    "email": contact.email,
                    "phone": contact.phone,
                    "consent_to_contact": contact.consent_to_contact,
                    "confirmed_at": _iso(contact.confirmed_at),
                },
            }
        )
    return items


def _contributions(email: str) -> list[dict[str, Any]]:
    contributions = (
        Contribution.objects.filter(author__email__iexact=email)
        .select_related("project", "author")
        .order_by("created_at", "pk")
    )
    return [
        {
            "project": c.project.slug,
            "id": c.pk,
            "kind": c.kind,
            "title": c.title,
            "text": c.text,
            "pseudonym": c.pseudonym,
            "created_at": _iso(c.created_at),
            "visibility": c.visibility,
            "hidden_reason": c.hidden_reason,
            "photo": bool(c.photo_web),
            "author": _author(c.author),
        }
        for c in contributions
    ]


def _replies(email: str) -> list[dict[str, Any]]:
    replies = (
        Reply.objects.filter(author__email__iexact=email)
        .select_related("contribution__project", "author")
        .order_by("created_at", "pk")
    )
    return [
        {
            "project": r.contribution.project.slug,
            "contribution": r.contribution_id,
            "id": r.pk,
            "text": r.text,
            "pseudonym": r.pseudonym,
            "created_at": _iso(r.created_at),
            "visibility": r.visibility,
            "author": _author(r.author),
        }
        for r in replies
    ]


def _author(author: ContributionAuthor) -> dict[str, Any]:
    return {"name": author.name, "email": author.email, "notify": author.notify}


def _notifications(email: str) -> dict[str, Any]:
    rows = OutboxMessage.objects.filter(destination__iexact=email, kind=OutboxMessage.Kind.EMAIL)
    counts = dict(rows.values_list("state").annotate(n=Count("pk")).values_list("state", "n"))
    return {
        "pending": counts.get(OutboxMessage.State.PENDING, 0),
        "sent": counts.get(OutboxMessage.State.SENT, 0),
        "failed": counts.get(OutboxMessage.State.FAILED, 0),
        "messages": [
            {"created_at": _iso(m.created_at), "subject": m.subject, "state": m.state}
            for m in rows.order_by("created_at", "pk").only("created_at", "subject", "state")
        ],
    }


def subject_summary(export: dict[str, Any]) -> dict[str, int]:
    """How many items of each kind an export holds (for the page and the command's output)."""
    notifications = export["notifications"]
    return {
        "reports": len(export["reports"]),
        "followed_reports": len(export["followed_reports"]),
        "report_supports": len(export["report_supports"]),
        "contributions": len(export["contributions"]),
        "replies": len(export["replies"]),
        "contribution_supports": len(export["contribution_supports"]),
        "followed_projects": len(export["followed_projects"]),
        "notifications": notifications["pending"] + notifications["sent"] + notifications["failed"],
    }


# --- erasure --------------------------------------------------------------------------------------


@transaction.atomic
def subject_erase(email: str) -> dict[str, int]:
    """Erase what ties ``email`` to anything here; returns how many rows of each kind. Idempotent."""
    email = normalise(email)
    if not email:
        raise ValueError("an address is needed")
    counts: dict[str, int] = {}

    # Reports: photo originals first (found through the contact), then the contact itself.
    photos = Photo.objects.filter(report__contact__email__iexact=email).exclude(original="")
    processed = list(photos.filter(processed_at__isnull=False).values_list("pk", "original"))
    unprocessed = list(photos.filter(processed_at__isnull=True))
    Photo.objects.filter(pk__in=[pk for pk, _name in processed]).update(original="")
    anonymise.delete_files_on_commit(report_private_storage(), [name for _pk, name in processed])
    anonymise.delete_files_on_commit(report_private_storage(), [p.original.name or "" for p in unprocessed])
    anonymise.delete_files_on_commit(
        default_storage, [n or "" for p in unprocessed for n in (p.web.name, p.thumbnail.name)]
    )
    Photo.objects.filter(pk__in=[p.pk for p in unprocessed]).delete()
    counts["report_photo_originals"] = len(processed) + len(unprocessed)
    counts["report_contacts"] = ReportContact.objects.filter(email__iexact=email).delete()[0]
    counts["report_followers"] = Follower.objects.filter(email__iexact=email).delete()[0]
    counts["report_supports"] = _scramble(
        Support.objects.filter(fingerprint=report_support_fingerprint(email=email))
    )

    # Contributions and replies: photo originals, public pseudonyms, then the author rows.
    authored = Contribution.objects.filter(author__email__iexact=email)
    originals = list(authored.exclude(photo_original="").values_list("pk", "photo_original"))
    Contribution.objects.filter(pk__in=[pk for pk, _name in originals]).update(photo_original="")
    anonymise.delete_files_on_commit(urbanisme_private_storage(), [name for _pk, name in originals])
    counts["contribution_photo_originals"] = len(originals)
    counts["pseudonyms"] = authored.exclude(pseudonym="").update(pseudonym="")
    counts["pseudonyms"] += (
        Reply.objects.filter(author__email__iexact=email, is_official=False)
        .exclude(pseudonym="")
        .update(pseudonym="")
    )
    authors = list(ContributionAuthor.objects.filter(email__iexact=email))
    counts["contribution_authors"] = anonymise.anonymise_authors(authors)
    counts["contribution_supports"] = _scramble(
        ContributionSupport.objects.filter(fingerprint=contribution_support_fingerprint(email=email))
    )
    counts["project_followers"] = ProjectFollower.objects.filter(email__iexact=email).delete()[0]

    # Notifications: pending ones are dropped, sent or abandoned ones kept anonymous.
    messages = OutboxMessage.objects.filter(destination__iexact=email)
    counts["notifications_deleted"] = messages.filter(state=OutboxMessage.State.PENDING).delete()[0]
    counts["notifications_blanked"] = anonymise.purge_outbox(
        messages.values_list("pk", flat=True), marker="erased"
    )
    # Earlier requests of the same person keep no address either.
    counts["privacy_requests"] = SubjectRequest.objects.filter(email__iexact=email).update(email="")
    return counts


def _scramble(supports: QuerySet[Any]) -> int:
    """Replace each support's keyed hash by a random value: still counted, tied to nobody."""
    rows = list(supports)
    for row in rows:
        row.fingerprint = secrets.token_hex(32)
    supports.model._default_manager.bulk_update(rows, ["fingerprint"])
    return len(rows)


def erasable(email: str) -> bool:
    """Whether anything at all is tied to ``email`` (the page offers erasure only then)."""
    email = normalise(email)
    checks = [
        ReportContact.objects.filter(email__iexact=email),
        Follower.objects.filter(email__iexact=email),
        Support.objects.filter(fingerprint=report_support_fingerprint(email=email)),
        ContributionAuthor.objects.filter(email__iexact=email),
        ContributionSupport.objects.filter(fingerprint=contribution_support_fingerprint(email=email)),
        ProjectFollower.objects.filter(email__iexact=email),
        OutboxMessage.objects.filter(destination__iexact=email),
    ]
    return any(qs.exists() for qs in checks)
