"""Query-string filters of vector layers: parse, validate, and give the value the SQL binds.

Each parser raises a :class:`~tiles.errors.TileError` (400) with a French message for a value it
cannot use, so that a typo never silently returns an empty map. Parsed values are canonical
(sorted, de-duplicated), so that ``?status=a,b`` and ``?status=b,a`` share an ETag and a cache key.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.functional import Promise
from django.utils.translation import gettext as _

from geo.models import Category
from signalements.models import TicketState
from tiles.errors import TileError

MAX_VALUES = 50
# Dates outside these make no sense for reports and overflow date arithmetic at the extremes.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)


@dataclass(frozen=True)
class Filter:
    """A query parameter of a layer: ``sql`` is a condition binding ``%(<name>)s``."""

    name: str
    sql: str
    parse: Callable[[str], Any]
    description: str | Promise = ""


def _split(raw: str, field: str) -> list[str]:
    values = sorted({part.strip() for part in raw.split(",") if part.strip()})
    if not values:
        raise TileError("filtre_invalide", _("Le filtre « %(f)s » est vide.") % {"f": field}, field=field)
    if len(values) > MAX_VALUES:
        raise TileError(
            "filtre_invalide",
            _("Le filtre « %(f)s » accepte %(max)d valeurs au plus.") % {"f": field, "max": MAX_VALUES},
            field=field,
        )
    return values


def category_ids(raw: str) -> list[int]:
    """Category codes → ids of those categories and their children (a parent covers its children)."""
    codes = _split(raw, "category")
    known = set(Category.objects.filter(code__in=codes).values_list("code", flat=True))
    unknown = [code for code in codes if code not in known]
    if unknown:
        raise TileError(
            "categorie_inconnue",
            _("Catégorie inconnue : %(list)s.") % {"list": ", ".join(f"« {c} »" for c in unknown)},
            field="category",
        )
    return sorted(
        Category.objects.filter(Q(code__in=codes) | Q(parent__code__in=codes)).values_list("pk", flat=True)
    )


def ticket_states(raw: str) -> list[str]:
    states = _split(raw, "status")
    unknown = [state for state in states if state not in TicketState.values]
    if unknown:
        raise TileError(
            "etat_inconnu",
            _("États inconnus : %(list)s (états possibles : %(all)s).")
            % {"list": ", ".join(unknown), "all": ", ".join(TicketState.values)},
            field="status",
        )
    return states


def _day(raw: str, field: str) -> date:
    try:
        day = parse_date(raw.strip())
    except ValueError:
        day = None
    if day is None or not FIRST_DAY <= day <= LAST_DAY:
        raise TileError(
            "date_invalide",
            _("Date invalide pour « %(f)s » : attendue au format AAAA-MM-JJ.") % {"f": field},
            field=field,
        )
    return day


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def day_start(field: str) -> Callable[[str], datetime]:
    """The first instant of the day, in the site's time zone (``created_after=2026-11-20``)."""
    return lambda raw: _midnight(_day(raw, field))


def day_end(field: str) -> Callable[[str], datetime]:
    """The first instant of the next day (an exclusive bound: the whole day is included)."""
    return lambda raw: _midnight(_day(raw, field) + timedelta(days=1))


_SLUG_RE = re.compile(r"^[-a-zA-Z0-9_]{1,100}$")


def slugs(field: str) -> Callable[[str], list[str]]:
    """Public identifiers (``project=place-du-marche,gare``); an unknown one simply matches nothing."""

    def parse(raw: str) -> list[str]:
        values = _split(raw, field)
        bad = [value for value in values if not _SLUG_RE.match(value)]
        if bad:
            raise TileError(
                "filtre_invalide",
                _("Identifiant invalide pour « %(f)s » : %(list)s.") % {"f": field, "list": ", ".join(bad)},
                field=field,
            )
        return values

    return parse


def integers(field: str) -> Callable[[str], list[int]]:
    """Numeric identifiers (``layer=12,14``), sorted and de-duplicated."""

    def parse(raw: str) -> list[int]:
        values = _split(raw, field)
        try:
            numbers = sorted({int(value) for value in values})
        except ValueError:
            numbers = []
        if not numbers or not all(0 < n < 2**63 for n in numbers):
            raise TileError(
                "filtre_invalide",
                _("« %(f)s » attend des identifiants numériques séparés par des virgules.") % {"f": field},
                field=field,
            )
        return numbers

    return parse


def choices(field: str, allowed: Collection[str]) -> Callable[[str], list[str]]:
    """Values among ``allowed`` (``kind=idee,question``)."""

    def parse(raw: str) -> list[str]:
        values = _split(raw, field)
        unknown = [value for value in values if value not in allowed]
        if unknown:
            raise TileError(
                "filtre_invalide",
                _("Valeurs inconnues pour « %(f)s » : %(list)s (valeurs possibles : %(all)s).")
                % {"f": field, "list": ", ".join(unknown), "all": ", ".join(sorted(allowed))},
                field=field,
            )
        return values

    return parse
