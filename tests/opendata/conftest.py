"""Fixtures of the open data tests: the signalements test town with a few dated reports whose
reporter left a name, an e-mail and a phone number, and a staff internal note."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from signalements.models import Report
from signalements.services import ContactInput, report_create, ticket_transition
from tests.signalements.world import World, at
from tests.signalements.world import world as world

# Never in an open data output: the reporter's identity, the staff's note, and the phone number
# a citizen typed in a description (descriptions are left out of exports).
CONTACT = ContactInput(name="Jeanne Martin", email="jeanne.martin@example.net", phone="+33 6 12 34 56 78")
PERSONAL = ("Jeanne", "Martin", "jeanne.martin", "612345678", "12 34 56 78", "Code portail")
IN_DESCRIPTION = "appelez Paul au 06 98 76 54 32"


@dataclass
class Town:
    world: World
    reports: list[Report]  # published, oldest first
    hidden: Report  # not published


@pytest.fixture
def media(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    return tmp_path


@pytest.fixture
def town(world: World, media: Any) -> Town:
    def file(east_m: float, north_m: float, category: str, when: datetime, text: str) -> Report:
        lon, lat = at(east_m, north_m)
        return report_create(
            category=category, lon=lon, lat=lat, description=text, contact=CONTACT, created_at=when
        ).report

    reports = [
        file(
            -500,
            100,
            "nid-de-poule",
            datetime(2025, 6, 15, 10, tzinfo=UTC),
            f"Trou profond, {IN_DESCRIPTION}",
        ),
        file(
            500, 100, "nid-de-poule", datetime(2025, 12, 31, 23, 30, tzinfo=UTC), "Nid de poule rue de l'Est"
        ),
        file(0, 600, "lampadaire", datetime(2026, 1, 1, 0, 30, tzinfo=UTC), "Lampadaire éteint"),
        file(-800, -300, "nid-de-poule", datetime(2026, 3, 10, 8, tzinfo=UTC), "Vieux trou"),
        file(800, -300, "nid-de-poule", datetime(2026, 6, 1, 12, tzinfo=UTC), "Chaussée affaissée"),
    ]
    hidden = file(0, -800, "lampadaire", datetime(2026, 2, 1, tzinfo=UTC), "Caché")
    Report.objects.filter(pk=hidden.pk).update(published=False)
    ticket_transition(
        ticket=reports[0].ticket,
        actor=world.agent_west,
        to_state="pris_en_compte",
        public_message="Nous intervenons mardi.",
        internal_note="Code portail 4321",
    )
    ticket_transition(
        ticket=reports[1].ticket, actor=world.agent_east, to_state="resolu", public_message="Rebouché."
    )
    for report in reports:
        report.refresh_from_db()
    return Town(world, reports, hidden)


def no_personal_data(text: str) -> None:
    for fragment in PERSONAL:
        assert fragment not in text, f"{fragment!r} in an open data output: {text[:400]}"
