"""The concertation's rules through its services, on real PostGIS: calendar, contributions, moderation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from geo.models import OutboxMessage
from urbanisme import services
from urbanisme.errors import Closed, Conflict, Forbidden, NotFound, ValidationFailed
from urbanisme.models import (
    Contribution,
    ContributionAuthor,
    ContributionChannel,
    Phase,
    PhaseKind,
    PhaseNotice,
    ProjectFollower,
    Visibility,
)
from urbanisme.phases import closes_at, opens_at

pytestmark = pytest.mark.django_db


def file(c, **overrides):  # type: ignore[no-untyped-def]
    values = {
        "project": c.project,
        "kind": "idee",
        "title": "Des arbres côté sud",
        "text": "Planter une rangée de tilleuls le long de la rue.",
        "geometry": c.point(),
        "pseudonym": "Camille",
    }
    values.update(overrides)
    return services.contribution_create(**values)


# --- calendar ------------------------------------------------------------------------------------


def test_the_current_phase_is_derived_from_the_dates(concertation) -> None:
    c = concertation
    assert services.project_current_phase(c.project) == c.concertation
    # On the first instant of the bilan phase (midnight in Paris), it is current.
    assert services.project_current_phase(c.project, opens_at(c.bilan.start_date)) == c.bilan
    assert (
        services.project_current_phase(c.project, opens_at(c.bilan.start_date) - timedelta(seconds=1))
        == c.concertation
    )


def test_overlapping_phases_are_refused_with_a_clear_message(concertation) -> None:
    c = concertation
    with pytest.raises(ValidationFailed) as caught:
        services.phases_replace(
            project=c.project,
            actor=c.planner,
            phases=[
                services.PhaseInput(
                    kind=PhaseKind.CONCERTATION,
                    start_date=c.today,
                    end_date=c.today + timedelta(days=5),
                    id=c.concertation.pk,
                ),
                services.PhaseInput(
                    kind=PhaseKind.ENQUETE,
                    start_date=c.today + timedelta(days=5),
                    end_date=c.today + timedelta(days=9),
                ),
            ],
        )
    assert "ne doivent pas se chevaucher" in caught.value.errors["phases"][0]
    assert caught.value.status == 400


def test_the_database_refuses_overlapping_phases_even_around_the_services(concertation) -> None:
    c = concertation
    with pytest.raises(IntegrityError), transaction.atomic():
        Phase.objects.create(project=c.project, kind=PhaseKind.ENQUETE, start_date=c.today, end_date=c.today)
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_phases_can_be_moved_in_one_replacement(concertation) -> None:
    c = concertation
    # Shift the concertation and the bilan by a week: in between, they would overlap row by row.
    phases = services.phases_replace(
        project=c.project,
        actor=c.planner,
        phases=[
            services.PhaseInput(
                kind=PhaseKind.INFORMATION,
                start_date=c.info.start_date,
                end_date=c.info.end_date,
                id=c.info.pk,
            ),
            services.PhaseInput(
                kind=PhaseKind.CONCERTATION,
                start_date=c.concertation.start_date,
                end_date=c.concertation.end_date + timedelta(days=7),
                allows_contributions=True,
                id=c.concertation.pk,
            ),
            services.PhaseInput(
                kind=PhaseKind.BILAN,
                start_date=c.bilan.start_date + timedelta(days=7),
                end_date=c.bilan.end_date + timedelta(days=7),
                id=c.bilan.pk,
            ),
        ],
    )
    assert [p.pk for p in phases] == [c.info.pk, c.concertation.pk, c.bilan.pk]
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the deferred check passes


def test_a_phase_holding_contributions_cannot_be_removed(concertation) -> None:
    c = concertation
    file(c)
    with pytest.raises(Conflict):
        services.phases_replace(
            project=c.project,
            actor=c.planner,
            phases=[
                services.PhaseInput(
                    kind=PhaseKind.INFORMATION,
                    start_date=c.info.start_date,
                    end_date=c.info.end_date,
                    id=c.info.pk,
                )
            ],
        )


def test_only_the_projects_team_edits_the_calendar(concertation) -> None:
    c = concertation
    for intruder in (c.outsider, c.moderator, None):
        with pytest.raises(Forbidden):
            services.phases_replace(project=c.project, actor=intruder, phases=[])


# --- contributions: geometry ---------------------------------------------------------------------


def test_a_point_inside_the_perimeter_is_published_at_once(concertation) -> None:
    contribution = file(concertation)
    assert contribution.visibility == Visibility.PUBLISHED
    assert contribution.phase == concertation.concertation
    assert contribution.geom.srid == 4326


def test_within_the_margin_is_accepted_and_beyond_it_refused(concertation) -> None:
    c = concertation  # perimeter 0..400 m east, 0..300 m north; margin 200 m
    assert file(c, geometry=c.point(550, 150)).pk  # 150 m east of the perimeter
    with pytest.raises(ValidationFailed) as caught:
        file(c, geometry=c.point(700, 150))  # 300 m away
    assert caught.value.code == "hors_perimetre" and caught.value.status == 422
    assert "à moins de 200 m" in caught.value.errors["geometry"][0]


def test_a_line_must_stay_inside_the_margin_along_its_whole_length(concertation) -> None:
    c = concertation
    with pytest.raises(ValidationFailed) as caught:
        file(c, geometry=c.line((100, 100), (1500, 100)))  # starts inside, runs 1.1 km out
    assert caught.value.code == "hors_perimetre"
    assert file(c, geometry=c.line((100, 100), (300, 120))).geom.geom_type == "LineString"


def test_a_bow_tie_polygon_is_refused_with_a_message(concertation) -> None:
    c = concertation
    with pytest.raises(ValidationFailed) as caught:
        file(c, geometry=c.polygon((100, 100), (200, 200), (200, 100), (100, 200)))
    assert caught.value.code == "geometrie_invalide"
    assert "se recoupe" in caught.value.errors["geometry"][0]


def test_a_polygon_with_a_repeated_spike_is_repaired(concertation) -> None:
    c = concertation
    # A square whose ring goes out and back along the same segment: invalid, repaired to the square.
    contribution = file(
        c, geometry=c.polygon((100, 100), (200, 100), (250, 100), (200, 100), (200, 200), (100, 200))
    )
    assert contribution.geom.valid and contribution.geom.geom_type == "Polygon"


@pytest.mark.parametrize(
    ("geometry", "message"),
    [
        ({"type": "Point", "coordinates": [200, 48]}, "hors limites"),
        ({"type": "MultiPoint", "coordinates": [[2.35, 48.85]]}, "Type de géométrie non accepté"),
        ({"type": "Polygon", "coordinates": []}, "illisible"),
        ("not json", "illisible"),
    ],
)
def test_unusable_geometry_gets_a_french_message(concertation, geometry, message) -> None:
    with pytest.raises(ValidationFailed) as caught:
        file(concertation, geometry=geometry)
    assert message in caught.value.errors["geometry"][0]


def test_a_huge_polygon_is_refused(concertation) -> None:
    c = concertation
    with pytest.raises(ValidationFailed) as caught:
        file(c, geometry=c.polygon((-3000, -3000), (3000, -3000), (3000, 3000), (-3000, 3000)))
    assert "trop grand" in caught.value.errors["geometry"][0]


# --- contributions: calendar, moderation, personal data ------------------------------------------


def test_contributions_are_refused_outside_a_phase_that_takes_them(concertation) -> None:
    c = concertation
    with pytest.raises(Closed):
        file(c, now=opens_at(c.bilan.start_date))
    with pytest.raises(Closed):
        file(c, now=opens_at(c.info.start_date))


def test_when_the_phase_closes_its_contributions_are_frozen_but_visible(concertation) -> None:
    c = concertation
    contribution = file(c)
    after = closes_at(c.concertation.end_date)
    with pytest.raises(Closed):
        services.contribution_reply(contribution=contribution, text="Je suis d'accord", now=after)
    with pytest.raises(Closed):
        services.contribution_support(contribution=contribution, client="a", now=after)
    # The team may still answer officially after closing.
    answer = services.official_answer(
        contribution=contribution, actor=c.planner, text="Merci, retenu pour le projet."
    )
    assert answer.is_official and answer.visibility == Visibility.PUBLISHED
    assert Contribution.objects.get(pk=contribution.pk).visibility == Visibility.PUBLISHED


def test_pre_moderated_projects_hold_contributions_until_published(concertation) -> None:
    c = concertation
    services.project_update(project=c.project, actor=c.planner, moderation="a_priori")
    contribution = file(c)
    assert contribution.visibility == Visibility.PENDING
    published = services.contribution_moderate(contribution=contribution, actor=c.moderator, action="publish")
    assert published.visibility == Visibility.PUBLISHED


def test_hiding_requires_a_public_reason(concertation) -> None:
    c = concertation
    contribution = file(c)
    with pytest.raises(ValidationFailed):
        services.contribution_moderate(contribution=contribution, actor=c.moderator, action="hide")
    hidden = services.contribution_moderate(
        contribution=contribution, actor=c.moderator, action="hide", reason="propos injurieux"
    )
    assert hidden.visibility == Visibility.HIDDEN and hidden.hidden_reason == "propos injurieux"
    with pytest.raises(Forbidden):
        services.contribution_moderate(contribution=contribution, actor=c.outsider, action="publish")


def test_the_authors_personal_data_is_kept_apart(concertation) -> None:
    c = concertation
    contribution = file(c, author=services.AuthorInput(name="Camille Martin", email="Camille@Example.org"))
    author = ContributionAuthor.objects.get(contribution=contribution)
    assert (author.name, author.email) == ("Camille Martin", "camille@example.org")
    public_fields = {f.name for f in Contribution._meta.concrete_fields}
    assert not public_fields & {"email", "name", "author_email"}


def test_supports_count_each_person_once(concertation) -> None:
    c = concertation
    contribution = file(c)
    _, first = services.contribution_support(contribution=contribution, email="a@example.org")
    _, again = services.contribution_support(contribution=contribution, email="A@example.org ")
    updated, other = services.contribution_support(contribution=contribution, email="b@example.org")
    assert (first, again, other) == (True, False, True)
    assert updated.supports_count == 2


def test_hidden_contributions_take_no_replies_nor_supports(concertation) -> None:
    c = concertation
    contribution = file(c)
    services.contribution_moderate(
        contribution=contribution, actor=c.moderator, action="hide", reason="hors sujet"
    )
    with pytest.raises(NotFound):
        services.contribution_support(contribution=contribution, client="x")
    with pytest.raises(NotFound):
        services.contribution_reply(contribution=contribution, text="?")


def test_replies_thread_under_a_parent(concertation) -> None:
    c = concertation
    contribution = file(c)
    first = services.contribution_reply(contribution=contribution, text="Bonne idée", pseudonym="Léa")
    second = services.contribution_reply(contribution=contribution, text="Et des bancs ?", parent_id=first.pk)
    assert second.parent == first
    with pytest.raises(ValidationFailed):
        services.contribution_reply(contribution=contribution, text="x", parent_id=999999)


# --- on-behalf entry ---------------------------------------------------------------------------------


def test_an_agent_enters_a_meeting_contribution_on_behalf_of_a_participant(concertation) -> None:
    c = concertation
    spoken = opens_at(c.concertation.start_date) + timedelta(days=2, hours=19)
    contribution = file(
        c,
        actor=c.planner,
        channel=ContributionChannel.REUNION,
        channel_label="réunion publique du 12 mars",
        created_at=spoken,
        pseudonym="Un habitant",
    )
    assert contribution.entered_by == c.planner and contribution.author_user is None
    assert contribution.created_at == spoken and contribution.channel_label == "réunion publique du 12 mars"
    # Even after the phase closed, the register can still be typed in, dated within the phase.
    late = file(
        c,
        actor=c.planner,
        channel=ContributionChannel.REGISTRE,
        channel_label="registre papier de la mairie",
        phase_id=c.concertation.pk,
        now=closes_at(c.concertation.end_date) + timedelta(days=3),
    )
    assert late.phase == c.concertation


def test_on_behalf_entry_needs_the_team_and_a_channel_label(concertation) -> None:
    c = concertation
    with pytest.raises(Forbidden):
        file(c, channel=ContributionChannel.REUNION, channel_label="réunion")
    with pytest.raises(ValidationFailed):
        file(c, actor=c.planner, channel=ContributionChannel.REUNION)
    with pytest.raises(ValidationFailed):
        file(
            c,
            actor=c.planner,
            channel=ContributionChannel.REUNION,
            channel_label="r",
            created_at=timezone.now() + timedelta(days=1),
        )


# --- notifications -----------------------------------------------------------------------------------


def test_official_answers_notify_the_contributor_through_the_outbox(concertation) -> None:
    c = concertation
    contribution = file(c, author=services.AuthorInput(email="camille@example.org"))
    services.contribution_reply(
        contribution=contribution,
        text="+1",
        author=services.AuthorInput(email="leo@example.org", notify=True),
    )
    services.contribution_reply(
        contribution=contribution,
        text="bof",
        author=services.AuthorInput(email="silent@example.org", notify=False),
    )
    services.official_answer(
        contribution=contribution, actor=c.moderator, text="Nous étudions la proposition."
    )
    sent = OutboxMessage.objects.filter(topic=f"project:{c.project.pk}").order_by("destination")
    assert [m.destination for m in sent] == ["camille@example.org", "leo@example.org"]
    assert "Nous étudions la proposition." in sent[0].body_text
    assert "leo@example.org" not in sent[0].body_text  # nobody learns another's address


def test_following_needs_a_confirmation_and_unsubscribes_in_one_click(concertation) -> None:
    c = concertation
    follower = services.project_follow(project=c.project, email="voisin@example.org")
    confirmation = OutboxMessage.objects.get(destination="voisin@example.org")
    token = confirmation.body_text.split("/projets/abonnement/")[1].split("/")[0]
    services.project_follow_confirm(token=token)
    follower.refresh_from_db()
    assert follower.confirmed_at is not None
    from urbanisme.notifications import unsubscribe_token

    services.project_unfollow(token=unsubscribe_token(follower))
    assert not ProjectFollower.objects.filter(pk=follower.pk).exists()
    with pytest.raises(NotFound):
        services.project_unfollow(token="forged:token")


def test_beat_sends_each_calendar_notice_once_to_confirmed_followers(concertation) -> None:
    c = concertation
    confirmed = ProjectFollower.objects.create(
        project=c.project, email="a@example.org", confirm_token_hash="1", confirmed_at=timezone.now()
    )
    ProjectFollower.objects.create(project=c.project, email="unconfirmed@example.org", confirm_token_hash="2")
    assert services.phases_tick() == 1  # « la concertation est ouverte »
    assert services.phases_tick() == 0  # the next beat sends nothing again
    notices = OutboxMessage.objects.filter(topic=f"project:{c.project.pk}")
    assert [m.destination for m in notices] == [confirmed.email]
    assert "La concertation est ouverte" in notices[0].subject
    # Three days before the end, the reminder; the day after the end, the closing.
    last_days = opens_at(c.concertation.end_date - timedelta(days=2))
    assert services.phases_tick(now=last_days) == 1
    assert services.phases_tick(now=closes_at(c.concertation.end_date)) == 1
    kinds = sorted(PhaseNotice.objects.filter(project=c.project).values_list("kind", flat=True))
    assert kinds == ["closed", "closing_soon", "opened"]


def test_publishing_the_bilan_tells_followers_once(concertation) -> None:
    c = concertation
    ProjectFollower.objects.create(
        project=c.project, email="a@example.org", confirm_token_hash="1", confirmed_at=timezone.now()
    )
    services.bilan_publish(
        project=c.project, actor=c.planner, conclusion="Le projet retient trois évolutions."
    )
    services.bilan_publish(project=c.project, actor=c.planner)
    messages = OutboxMessage.objects.filter(topic=f"project:{c.project.pk}", subject__contains="bilan")
    assert messages.count() == 1
