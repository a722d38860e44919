"""Who is told what: each function writes outbox rows (through :func:`outbox_enqueue`) and returns them.

Call these from services, inside the transaction that makes the change they announce: the rows
commit or roll back with it, and delivery starts after the commit. Every row has a dedupe key built
from its cause and recipient, so calling a function twice for the same cause sends nothing twice.

Languages: messages to services (staff) are written in the site language
(``settings.LANGUAGE_CODE``) whatever language the citizen who caused them browses in; messages to
citizens are written in the active language (the citizen's own for the confirmation; the acting
agent's for updates, since followers have no stored language).

Webhook payloads carry no personal data: never the reporter's or a follower's name, e-mail or phone.
``service_id`` is always the service the delivery is addressed to (its ``webhook_secret`` signs it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.template.loader import render_to_string
from django.utils import translation

from geo.models import OutboxMessage, Service
from geo.outbox import outbox_enqueue
from signalements.models import Report, Ticket, TicketEvent, TicketState

Kind = OutboxMessage.Kind

_TEMPLATE_DIR = "signalements/email"
_BLANK_LINES = re.compile(r"\n{3,}")


# --- public functions ----------------------------------------------------------------------------


def notify_ticket_created(*, ticket: Ticket) -> list[OutboxMessage]:
    """Tell the ticket's service: one e-mail per contact address, and its webhook if it has one."""
    service = ticket.service
    with _staff_language():
        context = _ticket_context(ticket, service)
        subject, text, html = _render("ticket_created", context)
        payload = _ticket_payload(ticket, event="ticket.created", service=service)
    return _to_service(
        service,
        key=f"ticket-created:{ticket.pk}:{service.pk}",
        report=ticket.report,
        rendered=(subject, text, html),
        payload=payload,
    )


def notify_report_confirmation(*, report: Report, tracking_token: str) -> OutboxMessage | None:
    """Send the reporter the reference and the private tracking link, if they gave an e-mail."""
    try:
        email = report.contact.email.strip()
    except ObjectDoesNotExist:
        return None
    if not email:
        return None
    context = {
        "reference": _reference(report),
        "category_name": report.category.name,
        "address": report.address,
        "created_at": report.created_at,
        "tracking_url": f"{settings.PUBLIC_BASE_URL}/suivi/{quote(tracking_token, safe='')}/",
    }
    subject, text, html = _render("report_confirmation", context)
    return outbox_enqueue(
        kind=Kind.EMAIL,
        destination=email,
        dedupe_key=f"report-confirmation:{report.pk}",
        subject=subject,
        body_text=text,
        body_html=html,
        topic=_topic(report),
    )


def notify_public_update(*, ticket: Ticket, event: TicketEvent) -> list[OutboxMessage]:
    """Tell the report's active followers (public message, new state) and the service's webhook."""
    messages = _to_followers(ticket, event)
    service = ticket.service
    if service.webhook_url:
        payload = {
            "event": "ticket.updated",
            "reference": ticket.report.reference,
            "service_id": service.pk,
            "state": event.to_state or ticket.state,
            "previous_state": event.from_state,
            "public_message": event.public_message,
            "event_id": event.pk,
            "at": event.at.isoformat(),
            "url": _staff_url(ticket.report),
        }
        messages.append(
            _webhook(
                service, key=f"public-update:{event.pk}:{service.pk}", payload=payload, report=ticket.report
            )
        )
    return messages


def notify_transfer(
    *, ticket: Ticket, event: TicketEvent, from_service: Service, to_service: Service
) -> list[OutboxMessage]:
    """A ticket moved: the new service receives it as a new ticket, the old one is informed.

    Each service with a webhook gets ``ticket.transferred``; followers get the public message if any.
    """
    messages: list[OutboxMessage] = []
    extra = {
        "from_service_id": from_service.pk,
        "to_service_id": to_service.pk,
        "public_message": event.public_message,
        "event_id": event.pk,
        "at": event.at.isoformat(),
    }
    with _staff_language():
        context = {
            **_ticket_context(ticket, to_service),
            "from_service_name": from_service.name,
            "reason": event.public_message,
        }
        rendered_new = _render("ticket_created", context)
        payload_new = {**_ticket_payload(ticket, event="ticket.transferred", service=to_service), **extra}
        context_old = {
            **_ticket_context(ticket, from_service),
            "to_service_name": to_service.name,
            "reason": event.public_message,
        }
        rendered_old = _render("ticket_transferred", context_old)
        payload_old = {**_ticket_payload(ticket, event="ticket.transferred", service=from_service), **extra}
    messages += _to_service(
        to_service,
        key=f"ticket-transferred:{event.pk}:{to_service.pk}",
        report=ticket.report,
        rendered=rendered_new,
        payload=payload_new,
    )
    if from_service.pk != to_service.pk:
        messages += _to_service(
            from_service,
            key=f"ticket-transferred:{event.pk}:{from_service.pk}",
            report=ticket.report,
            rendered=rendered_old,
            payload=payload_old,
        )
    if event.public_message:
        messages += _to_followers(ticket, event)
    return messages


def notify_merged(
    *, duplicate: Report | Ticket, original: Report | Ticket, event: TicketEvent
) -> list[OutboxMessage]:
    """Tell the duplicate's active followers it was merged into ``original``, which they now follow.

    Reads the duplicate's followers: call it while they are still attached to the duplicate
    (following the original is recorded as new ``Follower`` rows on it).
    """
    duplicate_report = duplicate.report if isinstance(duplicate, Ticket) else duplicate
    original_report = original.report if isinstance(original, Ticket) else original
    context = {
        "duplicate_reference": _reference(duplicate_report),
        "original_reference": _reference(original_report),
        "category_name": original_report.category.name,
        "public_message": event.public_message,
    }
    return _email_followers(
        followers_of=duplicate_report,
        template="merged",
        context=context,
        key=f"merged:{event.pk}",
        report=original_report,
    )


# --- recipients ----------------------------------------------------------------------------------


def _to_service(
    service: Service,
    *,
    key: str,
    report: Report,
    rendered: tuple[str, str, str],
    payload: dict[str, Any],
) -> list[OutboxMessage]:
    subject, text, html = rendered
    messages = [
        outbox_enqueue(
            kind=Kind.EMAIL,
            destination=address,
            dedupe_key=f"{key}:email:{address.lower()}",
            subject=subject,
            body_text=text,
            body_html=html,
            topic=_topic(report),
        )
        for address in _addresses(service.emails)
    ]
    if service.webhook_url:
        messages.append(_webhook(service, key=key, payload=payload, report=report))
    return messages


def _webhook(service: Service, *, key: str, payload: dict[str, Any], report: Report) -> OutboxMessage:
    return outbox_enqueue(
        kind=Kind.WEBHOOK,
        destination=service.webhook_url,
        dedupe_key=f"{key}:webhook",
        payload=payload,
        topic=_topic(report),
    )


def _to_followers(ticket: Ticket, event: TicketEvent) -> list[OutboxMessage]:
    report = ticket.report
    state = event.to_state or ticket.state
    context = {
        "reference": _reference(report),
        "category_name": report.category.name,
        "state_label": TicketState(state).label if state in TicketState.values else state,
        "public_message": event.public_message,
        "at": event.at,
    }
    return _email_followers(
        followers_of=report,
        template="public_update",
        context=context,
        key=f"public-update:{event.pk}",
        report=report,
    )


def _email_followers(
    *, followers_of: Report, template: str, context: dict[str, Any], key: str, report: Report
) -> list[OutboxMessage]:
    """One e-mail per active follower of ``followers_of``, rendered once, deduplicated per address."""
    subject, text, html = _render(template, context)
    return [
        outbox_enqueue(
            kind=Kind.EMAIL,
            destination=email,
            dedupe_key=f"{key}:{email.lower()}",
            subject=subject,
            body_text=text,
            body_html=html,
            topic=_topic(report),
        )
        for email in _follower_emails(followers_of)
    ]


def _follower_emails(report: Report) -> list[str]:
    emails = (
        report.followers.filter(unsubscribed_at__isnull=True).order_by("pk").values_list("email", flat=True)
    )
    return _addresses(emails)


def _addresses(values: Iterable[object] | None) -> list[str]:
    """Non-empty addresses, once each (case-insensitively), in their given order."""
    seen: set[str] = set()
    addresses = []
    for value in values or ():
        if not isinstance(value, str) or not value.strip():
            continue
        address = value.strip()
        if address.lower() not in seen:
            seen.add(address.lower())
            addresses.append(address)
    return addresses


# --- content -------------------------------------------------------------------------------------


@contextmanager
def _staff_language() -> Iterator[None]:
    with translation.override(settings.LANGUAGE_CODE):
        yield


def _topic(report: Report) -> str:
    """What an outbox row is about, for the admin and for erasing a person's data."""
    return f"report:{report.pk}"


def _reference(report: Report) -> str:
    return report.reference or f"#{report.pk}"


def _staff_url(report: Report) -> str:
    return f"{settings.PUBLIC_BASE_URL}/agents/tickets/{quote(_reference(report), safe='')}/"


def _ticket_context(ticket: Ticket, service: Service) -> dict[str, Any]:
    report = ticket.report
    return {
        "reference": _reference(report),
        "category_name": report.category.name,
        "category_label": str(report.category),
        "address": report.address,
        "lon": f"{report.location.x:.6f}",
        "lat": f"{report.location.y:.6f}",
        "description": report.description,
        "created_at": report.created_at,
        "explanation": (ticket.routing or {}).get("explanation", ""),
        "ambiguous": ticket.ambiguous,
        "service_name": service.name,
        "state_label": ticket.get_state_display(),
        "staff_url": _staff_url(report),
    }


def _ticket_payload(ticket: Ticket, *, event: str, service: Service) -> dict[str, Any]:
    """What a service's system needs to open its own ticket: place, category, text, routing. No person."""
    report = ticket.report
    routing = ticket.routing or {}
    return {
        "event": event,
        "reference": report.reference,
        "category": report.category.code,
        "service_id": service.pk,
        "lon": report.location.x,
        "lat": report.location.y,
        "address": report.address,
        "description": report.description,
        "state": ticket.state,
        "created_at": (ticket.created_at or report.created_at).isoformat(),
        "routing": {
            "rule": routing.get("rule", ""),
            "explanation": routing.get("explanation", ""),
            "ambiguous": ticket.ambiguous,
        },
        "url": _staff_url(report),
    }


def _render(name: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """Subject (one line), plain text and HTML of ``email/<name>`` in the active language."""
    subject = " ".join(render_to_string(f"{_TEMPLATE_DIR}/{name}_subject.txt", context).split())
    raw_text = render_to_string(f"{_TEMPLATE_DIR}/{name}.txt", context)
    html = render_to_string(f"{_TEMPLATE_DIR}/{name}.html", {**context, "subject": subject})
    text = _BLANK_LINES.sub("\n\n", "\n".join(line.rstrip() for line in raw_text.strip().splitlines()))
    return subject, text + "\n", html.strip() + "\n"
