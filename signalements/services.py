"""Writes of the signalements domain: filing, supporting, working and re-routing tickets.

Each function is keyword-only and atomic: the report, its ticket, the history event and the outbox
rows of its notifications are committed together or not at all, and Celery is only asked to move
the outbox forward once the transaction has committed. Permission checks happen here too, so
that every caller (API, pages, commands) gets the same rules.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from geo import outbox
from geo.errors import GeoError, NoServiceForCategory, NotCovered, UnknownCategory
from geo.images import ImageError, ValidatedImage, validate_image
from geo.models import Category, Service
from geo.routing import Decision, route
from geo.srid import InvalidGeometry, point_from_lonlat
from geo.text import clean_text as _clean_text
from geo.text import person_fingerprint
from signalements import notifications, permissions, workflow
from signalements.errors import Conflict, NotFound, ReportError, ValidationFailed
from signalements.models import (
    DESCRIPTION_MAX_LENGTH,
    Channel,
    Follower,
    Photo,
    Report,
    ReportContact,
    Support,
    Ticket,
    TicketEvent,
    TicketState,
)
from signalements.photos import photo_store_original

REFERENCE_PREFIX = "SIG"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ContactInput:
    name: str = ""
    email: str = ""
    phone: str = ""
    consent_to_contact: bool = False

    @property
    def is_empty(self) -> bool:
        return not (self.name or self.email or self.phone)


@dataclass(frozen=True)
class FiledReport:
    report: Report
    ticket: Ticket
    decision: dict[str, Any]
    created: bool
    # The private tracking token, only when this call created the report and an e-mail was given.
    tracking_token: str | None = None


# --- Helpers ------------------------------------------------------------------------------------


def clean_text(value: str | None, *, max_length: int, field: str) -> str:
    """``geo.text.clean_text`` raising this domain's validation error."""
    return _clean_text(value, max_length=max_length, field=field, error=ValidationFailed)


def _clean_contact(contact: ContactInput | None) -> ContactInput | None:
    if contact is None or contact.is_empty:
        return None
    errors: dict[str, list[str]] = {}
    email = (contact.email or "").strip().lower()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors["contact.email"] = [_("Adresse e-mail invalide.")]
    phone = "".join(ch for ch in (contact.phone or "") if ch.isdigit() or ch == "+")
    if contact.phone and not 6 <= len(phone.lstrip("+")) <= 15:
        errors["contact.phone"] = [_("Numéro de téléphone invalide.")]
    if errors:
        raise ValidationFailed(errors)
    name = clean_text(contact.name, max_length=200, field="contact.name")
    return ContactInput(
        name=name, email=email, phone=phone, consent_to_contact=bool(contact.consent_to_contact)
    )


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _decision_record(decision: Decision, *, actor: Any = None, reason: str = "") -> dict[str, Any]:
    record = decision.as_dict()
    record["decided_at"] = timezone.now().isoformat()
    if actor is not None:
        record["decided_by"] = actor.pk
    if reason:
        record["reason"] = reason
    return record


def _route_or_fail(point: Point, category: Category | str) -> Decision:
    try:
        return route(point, category)
    except NotCovered as exc:
        raise ValidationFailed({"location": [exc.message]}, status=422, code=exc.code) from exc
    except NoServiceForCategory as exc:
        raise ValidationFailed({"category": [exc.message]}, status=422, code=exc.code) from exc
    except UnknownCategory as exc:
        raise ValidationFailed({"category": [exc.message]}, status=400, code=exc.code) from exc
    except GeoError as exc:
        raise ValidationFailed({"location": [exc.message]}, status=422, code=exc.code) from exc


def _lock_ticket(ticket: Ticket) -> Ticket:
    """Lock the ticket row only (not its service or category, which every other ticket shares)."""
    return (
        Ticket.objects.select_for_update(of=("self",))
        .select_related("report", "service", "report__category")
        .get(pk=ticket.pk)
    )


def _require_worker(actor: Any, ticket: Ticket) -> set[str]:
    """The actor's roles on the ticket's service; a stranger gets 404, as if the ticket did not exist."""
    roles = permissions.roles_for_service(actor, ticket.service)
    if not roles & workflow.STAFF:
        raise NotFound(_("Ticket introuvable."))
    return roles


def _event(ticket: Ticket, kind: str, actor: Any, **fields: Any) -> TicketEvent:
    return TicketEvent.objects.create(
        ticket=ticket, kind=kind, actor=actor if getattr(actor, "pk", None) else None, **fields
    )


# --- Filing -------------------------------------------------------------------------------------


def report_create(
    *,
    category: str,
    location: Point | None = None,
    lon: float | None = None,
    lat: float | None = None,
    description: str = "",
    contact: ContactInput | None = None,
    photos: list[Any] | None = None,
    idempotency_key: str | None = None,
    channel: str = Channel.API,
    address: str = "",
    created_at: datetime | None = None,
    actor: Any = None,
    notify: bool = True,
) -> FiledReport:
    """File a report: validate everything first, route it, then write it whole in one transaction.

    ``notify=False`` is for imports of past reports (the demo's DansMaRue history): nobody is told.

    The same ``idempotency_key`` returns the first report (a phone retrying on a bad network must
    not file twice). Photos are validated here; their web copies are made after commit.
    """
    key = (idempotency_key or "").strip()[:128] or None
    if key:
        existing = _existing_by_key(key)
        if existing is not None:
            return existing

    errors: dict[str, list[str]] = {}
    uploads = list(photos or [])
    if len(uploads) > settings.REPORTS_MAX_PHOTOS:
        errors["photos"] = [_("%(max)d photos au plus.") % {"max": settings.REPORTS_MAX_PHOTOS}]
    images: list[ValidatedImage] = []
    statuses = {400}
    for index, upload in enumerate(uploads[: settings.REPORTS_MAX_PHOTOS]):
        try:
            images.append(validate_image(upload))
        except ImageError as exc:
            errors.setdefault("photos", []).append(
                _("Photo %(n)d : %(msg)s") % {"n": index + 1, "msg": exc.message}
            )
            statuses.add(exc.status)
    try:
        text = clean_text(description, max_length=DESCRIPTION_MAX_LENGTH, field="description")
    except ValidationFailed as exc:
        errors.update(exc.errors)
        text = ""
    try:
        clean_contact = _clean_contact(contact)
    except ValidationFailed as exc:
        errors.update(exc.errors)
        clean_contact = None
    clean_address = (address or "").strip()[:300]

    point = location
    if point is None and (lon is not None or lat is not None):
        try:
            point = point_from_lonlat(lon, lat)  # type: ignore[arg-type]
        except InvalidGeometry as exc:
            errors["location"] = [str(exc)]
    if point is None and "location" not in errors:
        gps = next((image.gps for image in images if image.gps), None)
        if gps is not None:
            point = point_from_lonlat(*gps)
        else:
            errors["location"] = [_("Indiquez l'emplacement du problème (ou une photo géolocalisée).")]
    if not text and not images and "photos" not in errors and "description" not in errors:
        errors["description"] = [_("Décrivez le problème ou joignez une photo.")]
    category_obj = None
    try:
        category_obj = _leaf_category(category)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if errors:
        # An oversize file is 413; a file that is not a usable image, 422; anything else, 400.
        raise ValidationFailed(errors, status=413 if 413 in statuses else max(statuses))

    decision = _route_or_fail(point, category_obj)  # type: ignore[arg-type]
    try:
        return _write_report(
            key=key,
            point=point,  # type: ignore[arg-type]
            decision=decision,
            category=category_obj,  # type: ignore[arg-type]
            text=text,
            contact=clean_contact,
            images=images,
            channel=channel,
            address=clean_address,
            created_at=created_at or timezone.now(),
            actor=actor,
            notify=notify,
        )
    except IntegrityError:
        # Two requests with the same key raced: the other one won, return its report.
        if key and (existing := _existing_by_key(key)) is not None:
            return existing
        raise


def _leaf_category(code: str) -> Category:
    """Reports are filed under an active leaf category (« Voirie › Nid de poule », not « Voirie »)."""
    if not code:
        raise ValidationFailed({"category": [_("Choisissez une catégorie.")]})
    found = Category.objects.select_related("parent").filter(code=code, is_active=True).first()
    if found is None:
        raise ValidationFailed(
            {"category": [_("Catégorie inconnue : « %(code)s ».") % {"code": code}]},
            code="categorie_inconnue",
        )
    if found.children.filter(is_active=True).exists():
        raise ValidationFailed(
            {"category": [_("Choisissez une sous-catégorie de « %(name)s ».") % {"name": found.name}]},
            code="categorie_trop_generale",
        )
    return found


def _existing_by_key(key: str) -> FiledReport | None:
    report = Report.objects.select_related("ticket").filter(idempotency_key=key).first()
    if report is None:
        return None
    return FiledReport(report=report, ticket=report.ticket, decision=report.ticket.routing, created=False)


@transaction.atomic
def _write_report(
    *,
    key: str | None,
    point: Point,
    decision: Decision,
    category: Category,
    text: str,
    contact: ContactInput | None,
    images: list[ValidatedImage],
    channel: str,
    address: str,
    created_at: datetime,
    actor: Any,
    notify: bool,
) -> FiledReport:
    publish = not (contact and contact.email and not settings.REPORTS_PUBLISH_UNCONFIRMED)
    report = Report.objects.create(
        location=point,
        category=category,
        description=text,
        address=address,
        channel=channel,
        published=publish,
        idempotency_key=key,
        created_at=created_at,
    )
    report.reference = f"{REFERENCE_PREFIX}-{timezone.localtime(created_at).year}-{report.pk:06d}"
    report.save(update_fields=["reference"])

    token = None
    if contact is not None:
        token = secrets.token_urlsafe(24) if contact.email else None
        ReportContact.objects.create(
            report=report,
            name=contact.name,
            email=contact.email,
            phone=contact.phone,
            consent_to_contact=contact.consent_to_contact,
            tracking_token_hash=_hash_token(token) if token else None,
        )
        if contact.email and contact.consent_to_contact:
            Follower.objects.create(report=report, email=contact.email, reason=Follower.Reason.REPORTER)

    record = _decision_record(decision)
    ticket = Ticket.objects.create(
        report=report,
        service_id=decision.service_id,
        routing=record,
        ambiguous=decision.ambiguous,
        due_at=created_at + category.default_delay,
    )
    _event(
        ticket,
        TicketEvent.Kind.CREATED,
        actor,
        to_state=TicketState.NOUVEAU,
        to_service_id=decision.service_id,
        data={"routing": record},
    )
    for position, image in enumerate(images):
        photo = photo_store_original(report=report, image=image, position=position)
        transaction.on_commit(functools.partial(_enqueue_photo, photo.pk), robust=True)
    if notify:
        notifications.notify_ticket_created(ticket=ticket)
        if token:
            notifications.notify_report_confirmation(report=report, tracking_token=token)
    return FiledReport(report=report, ticket=ticket, decision=record, created=True, tracking_token=token)


def _enqueue_photo(photo_id: int) -> None:
    """After commit; a broker outage leaves the photo unprocessed, and ``photos_sweep`` picks it up."""
    from signalements.tasks import photo_process_task

    try:
        outbox.publish_fast(photo_process_task, [{"photo_id": photo_id}])
    except Exception as exc:  # the broker is down: the row is safe, the sweeper will retry
        logger.warning("photo %s: processing task not published (%s); the sweeper will retry", photo_id, exc)


def report_confirm_email(*, token: str) -> Report:
    """The reporter clicked the link of the confirmation e-mail."""
    contact = (
        ReportContact.objects.select_related("report").filter(tracking_token_hash=_hash_token(token)).first()
    )
    if contact is None:
        raise NotFound(_("Lien de suivi inconnu ou expiré."))
    if contact.confirmed_at is None:
        contact.confirmed_at = timezone.now()
        contact.save(update_fields=["confirmed_at"])
        if not contact.report.published and contact.report.duplicate_of_id is None:
            contact.report.published = True
            contact.report.save(update_fields=["published", "updated_at"])
    return contact.report


# --- Support ------------------------------------------------------------------------------------


def support_fingerprint(*, user: Any = None, email: str = "", client: str = "") -> str:
    """A keyed hash that counts each person once without storing who they are (``geo.text``)."""
    return person_fingerprint(user=user, email=email, client=client, scope="")


@transaction.atomic
def report_support(
    *, report: Report, fingerprint: str, email: str = "", user: Any = None
) -> tuple[bool, int]:
    """« +1 et suivre »: count the caller once, and make them a follower when they give an e-mail."""
    report = Report.objects.select_for_update(of=("self",)).select_related("ticket").get(pk=report.pk)
    if not report.published or report.duplicate_of_id:
        raise NotFound(_("Signalement introuvable."))
    if not workflow.is_open(report.ticket.state):
        raise Conflict(_("Ce signalement est clos : il ne peut plus être soutenu."), code="signalement_clos")
    email = (email or "").strip().lower()
    if email:
        try:
            validate_email(email)
        except ValidationError as exc:
            raise ValidationFailed({"email": [_("Adresse e-mail invalide.")]}) from exc
    _support, created = Support.objects.get_or_create(
        report=report, fingerprint=fingerprint, defaults={"user": user if getattr(user, "pk", None) else None}
    )
    if email:
        Follower.objects.get_or_create(
            report=report, email=email, defaults={"reason": Follower.Reason.SUPPORTER}
        )
    return created, report.supports.count()


# --- Tickets ------------------------------------------------------------------------------------


@transaction.atomic
def ticket_transition(
    *,
    ticket: Ticket,
    actor: Any,
    to_state: str,
    public_message: str = "",
    internal_note: str = "",
    original_reference: str | None = None,
    to_service: Service | None = None,
    photo: Any = None,
) -> TicketEvent:
    """Move a ticket along the workflow table; the event, the side effects and the notifications together.

    ``photo`` (the work done, typically with « Résolu ») is checked before anything is written and
    attached to the report in the same transaction; its EXIF-free copies are made after commit.
    """
    image = None
    if photo is not None:
        try:
            image = validate_image(photo)
        except ImageError as exc:
            raise ValidationFailed({"photo": [exc.message]}, status=getattr(exc, "status", 400)) from exc
    ticket = _lock_ticket(ticket)
    roles = _require_worker(actor, ticket)
    public_message = clean_text(public_message, max_length=4000, field="public_message")
    internal_note = clean_text(internal_note, max_length=4000, field="internal_note")
    original = None
    if original_reference:
        original = Report.objects.filter(reference=original_reference).select_related("ticket").first()
        if original is None or original.pk == ticket.report_id:
            raise ValidationFailed({"original": [_("Signalement original introuvable.")]})
        if original.duplicate_of_id:
            raise ValidationFailed(
                {"original": [_("Ce signalement est lui-même un doublon : choisissez l'original.")]}
            )
    if to_service is not None and (to_service.pk == ticket.service_id or not to_service.is_active):
        raise ValidationFailed({"service": [_("Choisissez un autre service, actif.")]})
    try:
        workflow.check_transition(
            source=ticket.state,
            target=to_state,
            roles=roles,
            reason=public_message,
            has_original=original is not None,
            has_service=to_service is not None,
        )
    except workflow.TransitionError as exc:
        raise ReportError(
            exc.message, code=exc.code, status=409 if exc.code == "transition_interdite" else 400
        ) from exc

    from_state, from_service = ticket.state, ticket.service
    ticket.state = to_state
    if workflow.is_closed(to_state):
        ticket.closed_at = timezone.now()
    elif ticket.closed_at:
        ticket.closed_at = None
    fields = ["state", "closed_at", "updated_at"]
    if to_service is not None:
        ticket.service = to_service
        ticket.assigned_to = None
        fields += ["service", "assigned_to"]
    ticket.save(update_fields=fields)
    event = _event(
        ticket,
        TicketEvent.Kind.TRANSITION,
        actor,
        from_state=from_state,
        to_state=to_state,
        from_service=from_service if to_service else None,
        to_service=to_service,
        public_message=public_message,
        internal_note=internal_note,
        data={"original": original.reference} if original else {},
    )
    if image is not None:
        position = Photo.objects.filter(report_id=ticket.report_id).count()
        stored = photo_store_original(report=ticket.report, image=image, position=position)
        transaction.on_commit(functools.partial(_enqueue_photo, stored.pk), robust=True)
    if original is not None:
        _merge_into(ticket.report, original, event)
    elif to_service is not None:
        notifications.notify_transfer(
            ticket=ticket, event=event, from_service=from_service, to_service=to_service
        )
    elif public_message:
        notifications.notify_public_update(ticket=ticket, event=event)
    return event


def _merge_into(duplicate: Report, original: Report, event: TicketEvent) -> None:
    """The duplicate's followers follow the original from now on, and are told so."""
    duplicate.duplicate_of = original
    duplicate.save(update_fields=["duplicate_of", "updated_at"])
    known = set(original.followers.values_list("email", flat=True))
    for follower in duplicate.followers.filter(unsubscribed_at__isnull=True):
        if follower.email not in known:
            Follower.objects.create(report=original, email=follower.email, reason=Follower.Reason.MERGED)
    notifications.notify_merged(duplicate=duplicate, original=original, event=event)


@transaction.atomic
def report_merge(
    *, duplicate: Report, original_reference: str, actor: Any, public_message: str = ""
) -> TicketEvent:
    """Staff merge a duplicate into its original: a transition to « doublon » with its side effects."""
    message = public_message or _(
        "Ce signalement concerne le même problème que %(ref)s, que vous suivez désormais."
    ) % {"ref": original_reference}
    return ticket_transition(
        ticket=duplicate.ticket,
        actor=actor,
        to_state=TicketState.DOUBLON,
        public_message=message,
        original_reference=original_reference,
    )


@transaction.atomic
def ticket_assign(*, ticket: Ticket, actor: Any, assignee: Any | None) -> TicketEvent:
    ticket = _lock_ticket(ticket)
    _require_worker(actor, ticket)
    if assignee is not None and not permissions.roles_for_service(assignee, ticket.service) & workflow.STAFF:
        raise ValidationFailed({"assigned_to": [_("Cet agent n'appartient pas au service du ticket.")]})
    previous = ticket.assigned_to_id
    ticket.assigned_to = assignee
    ticket.save(update_fields=["assigned_to", "updated_at"])
    return _event(
        ticket,
        TicketEvent.Kind.ASSIGNMENT,
        actor,
        data={"from": previous, "to": assignee.pk if assignee is not None else None},
    )


@transaction.atomic
def ticket_set_priority(*, ticket: Ticket, actor: Any, priority: int) -> TicketEvent:
    ticket = _lock_ticket(ticket)
    _require_worker(actor, ticket)
    if priority not in Ticket.Priority.values:
        raise ValidationFailed({"priority": [_("Priorité inconnue.")]})
    previous = ticket.priority
    ticket.priority = priority
    ticket.save(update_fields=["priority", "updated_at"])
    return _event(ticket, TicketEvent.Kind.PRIORITY, actor, data={"from": previous, "to": priority})


@transaction.atomic
def ticket_public_update(*, ticket: Ticket, actor: Any, message: str) -> TicketEvent:
    """A message everyone sees, sent to the reporter (if they agreed) and the supporters."""
    ticket = _lock_ticket(ticket)
    _require_worker(actor, ticket)
    text = clean_text(message, max_length=4000, field="message")
    if not text:
        raise ValidationFailed({"message": [_("Le message est vide.")]})
    event = _event(ticket, TicketEvent.Kind.PUBLIC_UPDATE, actor, public_message=text)
    notifications.notify_public_update(ticket=ticket, event=event)
    return event


@transaction.atomic
def ticket_internal_note(*, ticket: Ticket, actor: Any, note: str) -> TicketEvent:
    """A note for staff only: never shown to the public, never sent."""
    ticket = _lock_ticket(ticket)
    _require_worker(actor, ticket)
    text = clean_text(note, max_length=4000, field="note")
    if not text:
        raise ValidationFailed({"note": [_("La note est vide.")]})
    return _event(ticket, TicketEvent.Kind.INTERNAL_NOTE, actor, internal_note=text)


@transaction.atomic
def ticket_reroute(
    *,
    ticket: Ticket,
    actor: Any,
    lon: float | None = None,
    lat: float | None = None,
    category: str | None = None,
    reason: str = "",
) -> TicketEvent:
    """Correct the position or the category and run the router again; the trail keeps both decisions.

    When the new decision names another service, the ticket moves there as a transfer would.
    """
    ticket = _lock_ticket(ticket)
    _require_worker(actor, ticket)
    if not workflow.is_open(ticket.state):
        raise ReportError(_("Un ticket clos ne peut pas être réorienté."), code="ticket_clos", status=409)
    report = ticket.report
    errors: dict[str, list[str]] = {}
    point = report.location
    if lon is not None or lat is not None:
        try:
            point = point_from_lonlat(lon, lat)  # type: ignore[arg-type]
        except InvalidGeometry as exc:
            errors["location"] = [str(exc)]
    if errors:
        raise ValidationFailed(errors)
    decision = _route_or_fail(point, _leaf_category(category) if category else report.category)
    record = _decision_record(
        decision, actor=actor, reason=clean_text(reason, max_length=1000, field="reason")
    )
    before = ticket.routing
    from_service = ticket.service
    report.location = point
    if decision.category_code != report.category.code:
        report.category = Category.objects.get(code=decision.category_code)
    report.save(update_fields=["location", "category", "updated_at"])
    moved = decision.service_id != ticket.service_id
    from_state = ticket.state
    ticket.routing = record
    ticket.ambiguous = decision.ambiguous
    if moved:
        ticket.service_id = decision.service_id
        ticket.assigned_to = None
        ticket.state = TicketState.TRANSFERE
    ticket.save()
    event = _event(
        ticket,
        TicketEvent.Kind.REROUTE,
        actor,
        from_state=from_state,
        to_state=ticket.state,
        from_service=from_service if moved else None,
        to_service=ticket.service if moved else None,
        internal_note=record.get("reason", ""),
        data={"before": before, "after": record},
    )
    if moved:
        notifications.notify_transfer(
            ticket=ticket, event=event, from_service=from_service, to_service=ticket.service
        )
    return event
