"""The concertation calendar as pure rules: no database, no clock of its own.

A phase covers whole days in Europe/Paris, both ends included: a phase « du 2 au 15 mars » opens
at 00:00 Paris time on 2 March and closes at 00:00 on 16 March, whatever the UTC offset on either
day (daylight saving changes on the last Sundays of March and October). The current phase is
therefore derived from ``now`` converted to Paris time, never stored nor set by hand.

Functions take plain values (:class:`PhaseDates`) so that services, selectors, the beat task and
tests share one implementation.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

CALENDAR_TZ = ZoneInfo("Europe/Paris")
# « elle se termine dans 3 jours »: the reminder goes out this many days before the last day ends.
CLOSING_SOON_DAYS = 3


class TimelineError(ValueError):
    """A calendar that cannot be saved; ``errors`` lists every problem in French, by phase."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(" ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class PhaseDates:
    """What the rules need of a phase. ``key`` is the caller's identifier (a pk, a form index)."""

    key: Any
    label: str
    start: date
    end: date
    allows_contributions: bool = False
    allows_supports: bool = False

    @property
    def opens_at(self) -> datetime:
        return opens_at(self.start)

    @property
    def closes_at(self) -> datetime:
        return closes_at(self.end)


def opens_at(day: date) -> datetime:
    """00:00 Paris time on ``day``, as an aware datetime."""
    return datetime.combine(day, time.min, tzinfo=CALENDAR_TZ)


def closes_at(day: date) -> datetime:
    """00:00 Paris time the day after ``day``: the first instant no longer in the phase."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=CALENDAR_TZ)


def paris_day(now: datetime) -> date:
    """The calendar day in Paris at the aware instant ``now``."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    return now.astimezone(CALENDAR_TZ).date()


def current_phase(phases: Iterable[PhaseDates], now: datetime) -> PhaseDates | None:
    """The phase whose days include today's date in Paris, or None between phases."""
    today = paris_day(now)
    for phase in phases:
        if phase.start <= today <= phase.end:
            return phase
    return None


def next_phase(phases: Iterable[PhaseDates], now: datetime) -> PhaseDates | None:
    """The first phase that has not started yet."""
    today = paris_day(now)
    upcoming = [p for p in phases if p.start > today]
    return min(upcoming, key=lambda p: p.start) if upcoming else None


def is_open_for_contributions(phase: PhaseDates | None) -> bool:
    return phase is not None and phase.allows_contributions


def validate_timeline(phases: Sequence[PhaseDates]) -> list[PhaseDates]:
    """The phases sorted by start, or :class:`TimelineError` listing every problem.

    Rules: each phase ends on or after its start day; no two phases share a day. Gaps are allowed
    (a pause between the concertation and the enquête publique is common).
    """
    errors: list[str] = []
    for phase in phases:
        if phase.end < phase.start:
            errors.append(
                _("« %(phase)s » : la date de fin (%(end)s) précède la date de début (%(start)s).")
                % {"phase": phase.label, "end": _fmt(phase.end), "start": _fmt(phase.start)}
            )
    ordered = sorted(phases, key=lambda p: (p.start, p.end))
    for previous, following in itertools.pairwise(ordered):
        if following.start <= previous.end:
            errors.append(
                _(
                    "« %(second)s » commence le %(start)s alors que « %(first)s » dure jusqu'au "
                    "%(end)s inclus : les phases ne doivent pas se chevaucher."
                )
                % {
                    "first": previous.label,
                    "second": following.label,
                    "start": _fmt(following.start),
                    "end": _fmt(previous.end),
                }
            )
    if errors:
        raise TimelineError(errors)
    return ordered


@dataclass(frozen=True)
class DueNotice:
    """A notice the beat task should send now (unless a ``PhaseNotice`` row says it was sent)."""

    kind: str  # a NoticeKind value
    phase_key: Any


def notices_due(phases: Iterable[PhaseDates], now: datetime) -> list[DueNotice]:
    """Calendar notices due at ``now`` for phases that take contributions.

    * ``opened`` from the first day of such a phase until its end;
    * ``closing_soon`` during its last :data:`CLOSING_SOON_DAYS` days, only if the phase lasts
      longer than that (a 2-day phase gets no reminder right after its opening notice);
    * ``closed`` on the day after its end, and for two more days so that a beat outage of a few
      hours does not lose it, but a project created long after does not announce old closures.
    Deduplication is the caller's (one row per phase and kind).
    """
    today = paris_day(now)
    due: list[DueNotice] = []
    for phase in phases:
        if not phase.allows_contributions:
            continue
        if phase.start <= today <= phase.end:
            due.append(DueNotice("opened", phase.key))
            length = (phase.end - phase.start).days + 1
            if length > CLOSING_SOON_DAYS and (phase.end - today).days < CLOSING_SOON_DAYS:
                due.append(DueNotice("closing_soon", phase.key))
        elif phase.end < today <= phase.end + timedelta(days=3):
            due.append(DueNotice("closed", phase.key))
    return due


def days_left(phase: PhaseDates, now: datetime) -> int:
    """Whole days left including today (1 on the last day)."""
    return (phase.end - paris_day(now)).days + 1


def _fmt(day: date) -> str:
    return day.strftime("%d/%m/%Y")
