"""The calendar rules: the current phase from dates in Europe/Paris, across daylight saving changes."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from urbanisme.phases import (
    PhaseDates,
    TimelineError,
    closes_at,
    current_phase,
    days_left,
    next_phase,
    notices_due,
    opens_at,
    validate_timeline,
)

# 2026: summer time starts Sunday 29 March (02:00 → 03:00) and ends Sunday 25 October (03:00 → 02:00).
INFO = PhaseDates(key="info", label="Information", start=date(2026, 3, 1), end=date(2026, 3, 28))
CONCERTATION = PhaseDates(
    key="concertation",
    label="Concertation",
    start=date(2026, 3, 29),
    end=date(2026, 10, 24),
    allows_contributions=True,
    allows_supports=True,
)
BILAN = PhaseDates(key="bilan", label="Bilan", start=date(2026, 10, 25), end=date(2026, 12, 31))
CALENDAR = [INFO, CONCERTATION, BILAN]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        # Winter time (UTC+1): 28 March 22:59:59 UTC is 23:59:59 in Paris, still the information phase.
        (utc(2026, 3, 28, 22, 59, 59), "info"),
        # 23:00 UTC on 28 March is midnight on the 29th in Paris: the concertation opens.
        (utc(2026, 3, 28, 23, 0, 0), "concertation"),
        # The night of the change: 01:30 UTC is 03:30 summer time on the 29th.
        (utc(2026, 3, 29, 1, 30), "concertation"),
        # Summer time (UTC+2): 24 October 21:59:59 UTC is 23:59:59 in Paris, last second of the phase.
        (utc(2026, 10, 24, 21, 59, 59), "concertation"),
        # 22:00 UTC is midnight on the 25th in Paris (still UTC+2 until 03:00): the bilan phase.
        (utc(2026, 10, 24, 22, 0, 0), "bilan"),
        # The repeated hour of the autumn change (02:30 happens twice): still the 25th.
        (utc(2026, 10, 25, 0, 30), "bilan"),
        (utc(2026, 10, 25, 1, 30), "bilan"),
        # Before and after the calendar: no phase.
        (utc(2026, 2, 28, 22, 59), None),
        (utc(2026, 12, 31, 23, 0), None),
    ],
)
def test_current_phase_is_derived_from_paris_days_across_dst(instant: datetime, expected: str | None) -> None:
    found = current_phase(CALENDAR, instant)
    assert (found.key if found else None) == expected


def test_phase_bounds_follow_the_utc_offset_of_each_day() -> None:
    # Given the concertation, which opens in winter time and closes in summer time
    # Then it opens at 23:00 UTC (UTC+1) and closes at 22:00 UTC (UTC+2)
    assert opens_at(CONCERTATION.start).astimezone(UTC) == utc(2026, 3, 28, 23)
    assert closes_at(CONCERTATION.end).astimezone(UTC) == utc(2026, 10, 24, 22)
    # And the day of the spring change lasts 23 real hours (Python subtracts wall times within one
    # zone, so compare instants in UTC)
    day = date(2026, 3, 29)
    assert (closes_at(day).astimezone(UTC) - opens_at(day).astimezone(UTC)).total_seconds() == 23 * 3600


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError):
        current_phase(CALENDAR, datetime(2026, 4, 1, 12, 0))


def test_between_phases_there_is_no_current_phase_and_the_next_one_is_known() -> None:
    gap = [INFO, PhaseDates(key="enquete", label="Enquête", start=date(2026, 4, 10), end=date(2026, 5, 10))]
    now = utc(2026, 4, 2, 10)
    assert current_phase(gap, now) is None
    assert next_phase(gap, now).key == "enquete"


def test_validate_timeline_sorts_and_accepts_gaps() -> None:
    assert [p.key for p in validate_timeline([BILAN, INFO, CONCERTATION])] == [
        "info",
        "concertation",
        "bilan",
    ]


def test_validate_timeline_lists_every_problem_in_french() -> None:
    backwards = PhaseDates(key="x", label="Décision", start=date(2026, 5, 10), end=date(2026, 5, 1))
    overlapping = PhaseDates(key="y", label="Enquête publique", start=date(2026, 3, 28), end=date(2026, 4, 5))
    with pytest.raises(TimelineError) as caught:
        validate_timeline([INFO, overlapping, backwards])
    messages = caught.value.errors
    assert any(
        "« Décision » : la date de fin (01/05/2026) précède la date de début (10/05/2026)" in m
        for m in messages
    )
    assert any(
        "« Enquête publique » commence le 28/03/2026" in m and "« Information »" in m for m in messages
    )


def test_two_phases_may_not_share_their_boundary_day() -> None:
    # Both ends are included: a phase ending on the 28th and one starting the 28th overlap by a day.
    touching = PhaseDates(key="t", label="Enquête", start=date(2026, 3, 28), end=date(2026, 3, 30))
    with pytest.raises(TimelineError):
        validate_timeline([INFO, touching])
    following = PhaseDates(key="f", label="Enquête", start=date(2026, 3, 29), end=date(2026, 3, 30))
    assert len(validate_timeline([INFO, following])) == 2


@pytest.mark.parametrize(
    ("instant", "kinds"),
    [
        (utc(2026, 3, 28, 22, 59), []),  # the evening before opening
        (utc(2026, 3, 28, 23, 0), ["opened"]),  # midnight in Paris
        (utc(2026, 10, 21, 21, 59), ["opened"]),  # 21 Oct 23:59: four days left
        (utc(2026, 10, 21, 22, 0), ["opened", "closing_soon"]),  # 22 Oct 00:00: three days left
        (utc(2026, 10, 24, 22, 0), ["closed"]),  # 25 Oct 00:00: closed
        (utc(2026, 10, 27, 12, 0), ["closed"]),  # still announced after a beat outage of a few days
        (utc(2026, 10, 27, 23, 0), []),  # 28 Oct in Paris: too old to announce
    ],
)
def test_notices_due_around_a_phase_that_takes_contributions(instant: datetime, kinds: list[str]) -> None:
    due = notices_due(CALENDAR, instant)
    assert [d.kind for d in due] == kinds
    assert all(d.phase_key == "concertation" for d in due)


def test_a_short_phase_gets_no_closing_reminder() -> None:
    short = PhaseDates(
        key="s", label="Atelier", start=date(2026, 6, 1), end=date(2026, 6, 2), allows_contributions=True
    )
    assert [d.kind for d in notices_due([short], utc(2026, 6, 1, 10))] == ["opened"]


def test_days_left_counts_today() -> None:
    assert days_left(CONCERTATION, utc(2026, 10, 24, 12)) == 1
    assert days_left(CONCERTATION, utc(2026, 10, 22, 12)) == 3
