"""A small concertation for the urbanisme tests: one territory, one project, a calendar around today.

The perimeter is a 400 m x 300 m rectangle in Paris (``square`` from tests.factories), so that
metric expectations (a margin of 200 m) are easy to read. The calendar is relative to the day the
test runs in Europe/Paris: an information phase that ended, a concertation open now (contributions
and supports), then a bilan phase.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from django.contrib.auth import get_user_model

from geo.models import Membership, Organisation, Territory
from tests.factories import PARIS_LAT, PARIS_LON, offset, square
from urbanisme import services
from urbanisme.models import Phase, PhaseKind, Project, ProjectStatus
from urbanisme.phases import paris_day


@dataclass
class Concertation:
    territory: Territory
    organisation: Organisation
    project: Project
    info: Phase
    concertation: Phase
    bilan: Phase
    planner: object
    moderator: object
    outsider: object  # staff of another organisation
    today: date

    def point(self, east_m: float = 200.0, north_m: float = 150.0) -> dict:
        """A GeoJSON point at metres from the perimeter's south-west corner (inside by default)."""
        lon, lat = offset(PARIS_LON, PARIS_LAT, east_m, north_m)
        return {"type": "Point", "coordinates": [lon, lat]}

    def polygon(self, *corners_m: tuple[float, float]) -> dict:
        ring = [list(offset(PARIS_LON, PARIS_LAT, e, n)) for e, n in corners_m]
        return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}

    def line(self, *points_m: tuple[float, float]) -> dict:
        return {
            "type": "LineString",
            "coordinates": [list(offset(PARIS_LON, PARIS_LAT, e, n)) for e, n in points_m],
        }


def build_concertation(*, moderation: str = "a_posteriori", slug: str = "place-du-marche") -> Concertation:
    from django.utils import timezone

    user_model = get_user_model()
    organisation, _ = Organisation.objects.get_or_create(name="Ville de Test", defaults={"kind": "commune"})
    other, _ = Organisation.objects.get_or_create(name="Autre Ville", defaults={"kind": "commune"})
    territory, _ = Territory.objects.get_or_create(
        slug="ville-de-test",
        defaults={
            "name": "Ville de Test",
            "organisation": organisation,
            "geom": square(-5000, -5000, 5000, 5000),
        },
    )
    planner = user_model.objects.create_user(f"urbaniste-{slug}", password="x")
    moderator = user_model.objects.create_user(f"moderatrice-{slug}", password="x")
    outsider = user_model.objects.create_user(f"agent-ailleurs-{slug}", password="x")
    Membership.objects.create(user=planner, organisation=organisation, role=Membership.Role.PLANNER)
    Membership.objects.create(user=moderator, organisation=organisation, role=Membership.Role.MODERATOR)
    Membership.objects.create(user=outsider, organisation=other, role=Membership.Role.PLANNER)
    project = services.project_create(
        actor=planner,
        territory=territory,
        organisation=organisation,
        title="Réaménagement de la place du Marché",
        slug=slug,
        summary="Une place plus verte et plus sûre.",
        perimeter=square(0, 0, 400, 300),
        contact_name="Mission participation",
        contact_email="participation@ville-de-test.fr",
        moderation=moderation,
        themes=["Mobilité", "Espaces verts", "Commerces"],
    )
    today = paris_day(timezone.now())
    phases = services.phases_replace(
        project=project,
        actor=planner,
        phases=[
            services.PhaseInput(
                kind=PhaseKind.INFORMATION,
                start_date=today - timedelta(days=30),
                end_date=today - timedelta(days=11),
            ),
            services.PhaseInput(
                kind=PhaseKind.CONCERTATION,
                start_date=today - timedelta(days=10),
                end_date=today + timedelta(days=10),
                allows_contributions=True,
                allows_supports=True,
            ),
            services.PhaseInput(
                kind=PhaseKind.BILAN,
                start_date=today + timedelta(days=11),
                end_date=today + timedelta(days=40),
            ),
        ],
    )
    services.project_set_status(project=project, actor=planner, status=ProjectStatus.PUBLISHED)
    project.refresh_from_db()
    return Concertation(
        territory=territory,
        organisation=organisation,
        project=project,
        info=phases[0],
        concertation=phases[1],
        bilan=phases[2],
        planner=planner,
        moderator=moderator,
        outsider=outsider,
        today=today,
    )


@pytest.fixture
def concertation(db) -> Concertation:  # type: ignore[no-untyped-def]
    return build_concertation()
