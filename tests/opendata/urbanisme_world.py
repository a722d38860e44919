"""A finished concertation with known figures, for the bilan and the urbanisme open data tests.

The project of ``tests.urbanisme.world`` (a 400 m x 300 m perimeter) gets a fixed calendar in 2026:
information in February, the concertation from Monday 2 March to Sunday 12 April (it spans the
change to summer time on 29 March), then the bilan phase. Two « quartiers » split the perimeter at
x = 200 m, a « parcs » zone covers its north-east corner; zones of another organisation and an
expired one must be ignored.

Personal data is planted everywhere it could leak from (author names and e-mails, pseudonyms, an
account name, a letter's « précision », the agent's signature on an answer, hidden and pending
titles): :data:`SECRETS` must never appear in an output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from django.contrib.auth import get_user_model

from geo.models import Organisation
from tests.factories import ServiceFactory, ZoneFactory, square
from tests.urbanisme.world import Concertation, build_concertation
from urbanisme import services
from urbanisme.models import Contribution, Moderation, Phase, PhaseKind

SECRETS = (
    "Dupont-Secret",
    "jeanne.secret",
    "JeanneDuMarche",
    "bob.secret",
    "Participant-Secret",
    "Lettre-Secrète",
    "citoyen-bilan-secret",
    "Martin-Secret",
    "Titre masqué",
    "Titre en attente",
    "example.net",
    "soutien.test",
    "urbaniste-",
    "moderatrice-",
)
FREE_TEXT = "Rappelez-moi au 06 11 22 33 44"  # in c1's text: never in a file, nor on the bilan page


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@dataclass
class BilanWorld:
    c: Concertation
    info: Phase
    concertation: Phase
    bilan_phase: Phase
    citizen: Any
    themes: dict[str, int]
    by_name: dict[str, Contribution] = field(default_factory=dict)

    @property
    def project(self) -> Any:
        return self.c.project

    def id(self, name: str) -> int:
        return self.by_name[name].pk


def _zones(c: Concertation) -> None:
    service = ServiceFactory(organisation=c.organisation, name="Démocratie locale")
    ZoneFactory(
        name="Quartier Ouest", service=service, geom=square(0, 0, 200, 300), source="quartiers:quartiers"
    )
    ZoneFactory(
        name="Quartier Est", service=service, geom=square(200, 0, 400, 300), source="quartiers:quartiers"
    )
    ZoneFactory(
        name="Square des Lilas", service=service, geom=square(320, 220, 390, 290), source="parcs:parcs"
    )
    # Ignored: another organisation's zone, a zone no longer in force, a zone away from the perimeter.
    other = ServiceFactory(organisation=Organisation.objects.get(name="Autre Ville"), name="Ailleurs")
    ZoneFactory(
        name="Zone d'ailleurs", service=other, geom=square(-100, -100, 500, 400), source="autre:autre"
    )
    ZoneFactory(
        name="Ancien quartier",
        service=service,
        geom=square(0, 0, 400, 300),
        source="quartiers:quartiers",
        valid_until=date(2020, 1, 1),
    )
    ZoneFactory(
        name="Quartier lointain",
        service=service,
        geom=square(3000, 3000, 3500, 3500),
        source="quartiers:quartiers",
    )


def build_bilan_world() -> BilanWorld:
    c = build_concertation(slug="bilan-marche")
    info, concertation, bilan_phase = services.phases_replace(
        project=c.project,
        actor=c.planner,
        phases=[
            services.PhaseInput(
                kind=PhaseKind.INFORMATION, start_date=date(2026, 2, 1), end_date=date(2026, 3, 1)
            ),
            services.PhaseInput(
                kind=PhaseKind.CONCERTATION,
                start_date=date(2026, 3, 2),
                end_date=date(2026, 4, 12),
                allows_contributions=True,
                allows_supports=True,
            ),
            services.PhaseInput(
                kind=PhaseKind.BILAN, start_date=date(2026, 4, 13), end_date=date(2026, 5, 31)
            ),
        ],
    )
    _zones(c)
    citizen = get_user_model().objects.create_user("citoyen-bilan-secret", password="x")
    themes = {t.name: t.pk for t in c.project.themes.all()}
    world = BilanWorld(c, info, concertation, bilan_phase, citizen, themes)

    def web(name: str, when: datetime, kind: str, east: float, north: float, **kwargs: Any) -> None:
        geometry = kwargs.pop("geometry", None) or c.point(east, north)
        theme = kwargs.pop("theme", None)
        world.by_name[name] = services.contribution_create(
            project=c.project,
            kind=kind,
            title=kwargs.pop("title", f"Contribution {name}"),
            text=kwargs.pop("text", f"Texte de la contribution {name}."),
            geometry=geometry,
            theme_id=themes[theme] if theme else None,
            now=when,
            **kwargs,
        )

    def on_behalf(name: str, when: datetime, kind: str, east: float, north: float, **kwargs: Any) -> None:
        web(name, utc(2026, 4, 11, 12), kind, east, north, actor=c.planner, created_at=when, **kwargs)

    author = services.AuthorInput
    web(
        "c1",
        utc(2026, 3, 10, 9),
        "idee",
        100,
        150,
        title="Plus de bancs sous les platanes",
        text=f"Des bancs à l'ombre. {FREE_TEXT}",
        theme="Mobilité",
        pseudonym="JeanneDuMarche",
        author=author(name="Jeanne Dupont-Secret", email="jeanne.secret@example.net"),
    )
    # Saturday 23:30 UTC is Sunday 29 March 00:30 in Paris (winter time): ISO week 13.
    web(
        "c2",
        utc(2026, 3, 28, 23, 30),
        "question",
        300,
        100,
        title="Où livreront les commerces ?",
        author=author(email="bob.secret@example.net"),
    )
    # Sunday 22:30 UTC is Monday 30 March 00:30 in Paris (summer time since that night): week 14.
    web(
        "c3",
        utc(2026, 3, 29, 22, 30),
        "inquietude",
        0,
        0,
        geometry=c.polygon((250, 50), (350, 50), (350, 150), (250, 150)),
        title="Les arbres du square",
        theme="Espaces verts",
        author=author(email="jeanne.secret@example.net"),
    )
    on_behalf(
        "c4",
        utc(2026, 3, 12, 19),
        "idee",
        50,
        50,
        channel="reunion",
        channel_label="Réunion publique du 12 mars",
        theme="Commerces",
        title="Un marché le dimanche",
        author=author(name="Paul Participant-Secret"),
    )
    # In the 200 m margin, east of the perimeter: outside every quartier.
    on_behalf(
        "c5",
        utc(2026, 3, 12, 19, 30),
        "question",
        450,
        150,
        channel="reunion",
        channel_label="réunion  publique du 12 mars",
        title="Et le stationnement ?",
    )
    on_behalf(
        "c6",
        utc(2026, 3, 20, 10),
        "autre",
        0,
        0,
        geometry=c.line((20, 280), (180, 280)),
        channel="registre",
        channel_label="Registre de la mairie",
        title="Remarque du registre",
    )
    on_behalf(
        "c7",
        utc(2026, 3, 18, 10),
        "inquietude",
        350,
        250,
        channel="courrier",
        channel_label="Courrier de Mme Lettre-Secrète",
        title="Bruit des travaux",
    )
    for name, reason in (("c8", "Propos injurieux"), ("c9", "  propos   INJURIEUX "), ("c10", "Hors sujet")):
        web(name, utc(2026, 3, 15, 12), "idee", 100, 100, title=f"Titre masqué {name}")
        services.contribution_moderate(
            contribution=world.by_name[name], actor=c.moderator, action="hide", reason=reason
        )
    web(
        "c12",
        utc(2026, 4, 2, 10),
        "idee",
        150,
        200,
        actor=citizen,
        theme="Mobilité",
        title="Une piste cyclable",
    )
    web("c13", utc(2026, 4, 3, 10), "idee", 120, 80, actor=citizen, title="Des fontaines")
    web("c14", utc(2026, 4, 10, 10), "soutien", 180, 20, title="Bravo pour le projet")
    services.project_update(project=c.project, actor=c.planner, moderation=Moderation.PRE)
    web("c11", utc(2026, 4, 5, 10), "idee", 100, 100, title="Titre en attente")
    services.project_update(project=c.project, actor=c.planner, moderation=Moderation.POST)

    when = utc(2026, 4, 1, 12)
    for name, emails in (("c1", "abc"), ("c2", "ade"), ("c3", "a")):
        for letter in emails:
            services.contribution_support(
                contribution=world.by_name[name], email=f"{letter}@soutien.test", now=when
            )
    for name in ("c1", "c2", "c4"):
        services.official_answer(
            contribution=world.by_name[name],
            actor=c.planner,
            text=f"Réponse officielle à {name}.",
            pseudonym="Agent Martin-Secret",
        )
    hidden_answer = services.official_answer(
        contribution=world.by_name["c3"], actor=c.moderator, text="Réponse retirée."
    )
    services.reply_moderate(reply=hidden_answer, actor=c.moderator, action="hide", reason="Erreur")
    c.project.refresh_from_db()
    return world


def more_contributions(world: BilanWorld, count: int) -> None:
    """Extra published contributions, to check that the number of queries does not grow."""
    for index in range(count):
        services.contribution_create(
            project=world.project,
            kind="idee",
            title=f"En plus {index}",
            text="Encore.",
            geometry=world.c.point(10 + index * 30, 40),
            now=utc(2026, 4, 4, 8, index),
            author=services.AuthorInput(email=f"plus{index}@soutien.test"),
        )
