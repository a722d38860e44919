"""Builders shared by the privacy tests: a citizen's traces in both domains."""

from __future__ import annotations

from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from signalements import services as report_services
from signalements.models import Report, Ticket, TicketState
from tests.signalements.world import World, at, gps_jpeg
from urbanisme import services as urbanisme_services
from urbanisme.models import Contribution

JEANNE = "jeanne.martin@example.net"
JEANNE_NAME = "Jeanne Martin"
JEANNE_PHONE = "0612345678"
OTHER = "paul.durand@example.org"


def file_report(
    world: World,
    *,
    email: str = JEANNE,
    name: str = JEANNE_NAME,
    phone: str = JEANNE_PHONE,
    east: float = -500,
    photo: bool = False,
    description: str = "Trou profond devant le 12",
) -> Report:
    lon, lat = at(east, 100)
    photos = [SimpleUploadedFile("IMG_Jeanne.jpg", gps_jpeg(lon, lat), "image/jpeg")] if photo else []
    filed = report_services.report_create(
        category="nid-de-poule",
        lon=lon,
        lat=lat,
        description=description,
        contact=report_services.ContactInput(name=name, email=email, phone=phone, consent_to_contact=True),
        photos=photos,
    )
    return filed.report


def close(report: Report, actor, *, days_ago: int = 0) -> Ticket:  # type: ignore[no-untyped-def]
    ticket = report.ticket
    report_services.ticket_transition(ticket=ticket, actor=actor, to_state=TicketState.RESOLU)
    if days_ago:
        Ticket.objects.filter(pk=ticket.pk).update(closed_at=timezone.now() - timedelta(days=days_ago))
    ticket.refresh_from_db()
    return ticket


def contribute(
    c, *, email: str = JEANNE, name: str = JEANNE_NAME, pseudonym: str = "Jeanne M.", photo: bool = False
) -> Contribution:  # type: ignore[no-untyped-def]
    upload = None
    if photo:
        point = c.point()["coordinates"]
        upload = SimpleUploadedFile("IMG_Jeanne.jpg", gps_jpeg(point[0], point[1]), "image/jpeg")
    with transaction.atomic():
        return urbanisme_services.contribution_create(
            project=c.project,
            kind="idee",
            title="Une fontaine",
            text="Une fontaine à boire près de l'arrêt de bus.",
            geometry=c.point(),
            pseudonym=pseudonym,
            author=urbanisme_services.AuthorInput(name=name, email=email, notify=True),
            photo=upload,
        )
