"""The bilan de la concertation: figures computed from the data, with the method that produced them.

``bilan_compute(project, phase=None)`` reads a constant handful of queries (phases, themes, totals
by phase and visibility, the published contributions, their official answers, the areas, the
contributors, the supporters) whatever the number of contributions, and derives every figure in
Python from those rows, so that the rules are plain code and the ``method`` text can say exactly
what they are. Nothing here is a synthesis of what people wrote: the bilan counts, sorts and
lists; the team's conclusion (``Project.bilan_conclusion``) is published beside it, as theirs.

Personal data never leaves the database: the contributors' estimate is a ``COUNT(DISTINCT ...)``
computed in SQL; names, e-mails, pseudonyms, accounts and the agents who entered or moderated are
never selected. Hidden contributions are counted (with the reason shown publicly) and never
listed; pending ones are counted as pending.

``bilan_map`` draws the contributions and the zones over the perimeter's bounding box as plain
coordinates for a server-rendered SVG (no script, prints as vectors).
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib.gis.db.models.functions import PointOnSurface
from django.contrib.gis.geos import GEOSGeometry
from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from urbanisme.models import (
    Contribution,
    ContributionChannel,
    ContributionKind,
    ContributionSupport,
    Phase,
    Project,
    ProjectStatus,
    Reply,
    Theme,
    Visibility,
)
from urbanisme.phases import CALENDAR_TZ, paris_day

# Projects whose bilan, contributions and layers may be public (a draft is nobody's business yet;
# an archived project stays readable). Open data uses the same tuple.
PUBLIC_PROJECT_STATUSES = (ProjectStatus.PUBLISHED, ProjectStatus.ARCHIVED)

# Channels whose « précision » (channel_label) is published: collective events and places
# (« réunion publique du 12 mars », « registre de la mairie annexe »). A letter's or an « autre »
# label often names the one person behind it (« courrier de Mme X »), so it stays internal.
PUBLIC_LABEL_CHANNELS = frozenset(
    {ContributionChannel.REUNION, ContributionChannel.ATELIER, ContributionChannel.REGISTRE}
)

TOP_SUPPORTED = 10
# Up to this many days the participation is shown per day, beyond it per ISO week.
DAILY_UP_TO_DAYS = 31
NO_THEME_KEY = "non_classe"
OUTSIDE_KEY = "hors_zones"


# --- results ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tally:
    key: str
    label: str
    count: int
    share: float  # percent of the published contributions in scope, one decimal


@dataclass(frozen=True)
class ChannelCount(Tally):
    # The published « précisions » of this channel (meetings, registers), grouped.
    details: list[Tally] = field(default_factory=list)
    # Entries of this channel whose précision is not published (letters, « autre ») or empty.
    without_detail: int = 0


@dataclass(frozen=True)
class AreaSplit:
    """One « découpage » (the zones imported from one file, e.g. the quartiers) and its counts."""

    source: str
    label: str
    zones: list[Tally]
    outside: int  # published contributions in no zone of this découpage (« hors zones »)
    # True when some contribution falls in two zones of the same découpage (shares exceed 100 %).
    overlapping: bool


@dataclass(frozen=True)
class Period:
    key: str  # "2026-03-29" (day) or "2026-W13" (ISO week)
    start: date
    end: date  # included
    count: int
    cumulative: int


@dataclass(frozen=True)
class Participation:
    granularity: str  # "day" or "week"
    periods: list[Period]
    first: date | None
    last: date | None


@dataclass(frozen=True)
class ContributionRef:
    """What the bilan shows of a published contribution: never its author, pseudonym nor text."""

    id: int
    title: str
    kind: str
    kind_label: str
    theme: str
    channel: str
    channel_detail: str  # published for collective channels only
    phase_id: int
    phase_label: str
    created_date: date  # Europe/Paris
    supports: int
    answered: bool


@dataclass(frozen=True)
class OfficialAnswer:
    answered_at: datetime
    text: str


@dataclass(frozen=True)
class AnsweredContribution:
    contribution: ContributionRef
    answers: list[OfficialAnswer]


@dataclass(frozen=True)
class Answers:
    official_count: int  # published official replies
    answered_count: int  # contributions with at least one of them
    unanswered_count: int
    median_days_to_answer: float | None
    answered: list[AnsweredContribution]
    unanswered: list[ContributionRef]  # oldest first
    unanswered_by_kind: list[Tally]


@dataclass(frozen=True)
class Totals:
    received: int  # published + pending + hidden
    published: int
    pending: int
    hidden: int
    hidden_reasons: list[Tally]  # share: percent of the hidden ones


@dataclass(frozen=True)
class Contributors:
    """What can honestly be said about how many people took part (see the method)."""

    accounts: int  # distinct accounts among online contributions
    emails: int  # distinct e-mail addresses among online contributions made without an account
    anonymous_contributions: int  # online contributions with neither: one person or several, unknown
    on_behalf_contributions: int  # entered by the team (meetings, registers...): people unknown
    supports: int  # « +1 » given to the published contributions in scope
    supporters: int  # distinct people (account, e-mail or browser) among them

    @property
    def identified(self) -> int:
        return self.accounts + self.emails


@dataclass(frozen=True)
class PhaseSummary:
    id: int
    kind: str
    label: str
    start_date: date
    end_date: date
    allows_contributions: bool
    received: int
    published: int
    pending: int
    hidden: int
    answered: int
    unanswered: int


@dataclass(frozen=True)
class Scope:
    phase_id: int | None
    label: str
    start_date: date | None
    end_date: date | None


@dataclass(frozen=True)
class MethodSection:
    key: str
    title: str
    paragraphs: list[str]


@dataclass(frozen=True)
class ProjectInfo:
    slug: str
    title: str
    summary: str
    organisation: str
    bilan_published_at: datetime | None
    conclusion: str


@dataclass(frozen=True)
class Bilan:
    project: ProjectInfo
    scope: Scope
    computed_at: datetime
    totals: Totals
    by_kind: list[Tally]
    by_channel: list[ChannelCount]
    by_theme: list[Tally]
    by_area: list[AreaSplit]
    participation: Participation
    top_supported: list[ContributionRef]
    answers: Answers
    contributors: Contributors
    phases: list[PhaseSummary]
    method: list[MethodSection]


# --- helpers ---------------------------------------------------------------------------------------


def _share(count: int, total: int) -> float:
    return round(count * 100 / total, 1) if total else 0.0


def _group_label(value: str) -> str:
    """The key under which free labels are grouped: case and spacing ignored."""
    return " ".join(value.split()).casefold()


def _grouped(values: Iterable[str]) -> list[tuple[str, str, int]]:
    """(key, most common spelling, count) of free labels grouped by :func:`_group_label`."""
    spellings: dict[str, Counter[str]] = defaultdict(Counter)
    for value in values:
        spellings[_group_label(value)][" ".join(value.split())] += 1
    out = [(key, forms.most_common(1)[0][0], sum(forms.values())) for key, forms in spellings.items()]
    return sorted(out, key=lambda item: (-item[2], item[1]))


def public_channel_label(channel: str, label: str) -> str:
    """The « précision » of a channel as it may be published (see :data:`PUBLIC_LABEL_CHANNELS`)."""
    return " ".join(label.split()) if channel in PUBLIC_LABEL_CHANNELS else ""


def source_label(source: str) -> str:
    """``quartiers:quartiers`` (file stem and layer) as people read it."""
    if not source:
        return _("Zones dessinées à la main")
    stem, _sep, layer = source.partition(":")
    return stem if not layer or layer == stem else f"{stem} › {layer}"


def _published(project: Project, phase: Phase | None) -> QuerySet[Contribution]:
    qs = Contribution.objects.filter(project=project, visibility=Visibility.PUBLISHED)
    return qs.filter(phase=phase) if phase is not None else qs


def _official_published() -> QuerySet[Reply]:
    return Reply.objects.filter(is_official=True, visibility=Visibility.PUBLISHED)


# --- areas: one statement --------------------------------------------------------------------------

# The zones of the project's territory that touch its perimeter, valid on ``day``: those of the
# services of the territory's organisation or of the project's. Zones have no territory of their
# own; the organisation that imported them is what ties them to it.
_ZONES_SQL = """
    SELECT z.id, z.name, z.source, z.geom
    FROM geo_zone z
    JOIN geo_service s ON s.id = z.service_id
    JOIN urbanisme_project pr ON pr.id = %(project)s
    JOIN geo_territory t ON t.id = pr.territory_id
    WHERE s.organisation_id IN (pr.organisation_id, t.organisation_id)
      AND z.geom && pr.perimeter AND ST_Intersects(z.geom, pr.perimeter)
      AND (z.valid_from IS NULL OR z.valid_from <= %(day)s)
      AND (z.valid_until IS NULL OR z.valid_until >= %(day)s)
"""

_AREAS_SQL = f"""
    WITH scope AS (
        SELECT c.id, ST_PointOnSurface(c.geom) AS p
        FROM urbanisme_contribution c
        WHERE c.project_id = %(project)s AND c.visibility = %(published)s
          AND (%(phase)s::bigint IS NULL OR c.phase_id = %(phase)s::bigint)
    ), zones AS ({_ZONES_SQL})
    SELECT zones.source, zones.name, scope.id
    FROM zones LEFT JOIN scope ON ST_Covers(zones.geom, scope.p)
    ORDER BY zones.source, zones.name, scope.id
"""


@dataclass(frozen=True)
class AreaHits:
    """Raw result of the areas statement: for each découpage, zone name -> contribution ids."""

    by_source: dict[str, dict[str, set[int]]]

    def zones_of(self) -> dict[int, list[str]]:
        """Contribution id -> names of the zones that contain it (all découpages, sorted)."""
        out: dict[int, set[str]] = defaultdict(set)
        for zones in self.by_source.values():
            for name, ids in zones.items():
                for contribution_id in ids:
                    out[contribution_id].add(name)
        return {key: sorted(names) for key, names in out.items()}


def contribution_areas(project: Project, *, phase: Phase | None = None, day: date | None = None) -> AreaHits:
    """Published contributions by zone, one statement: each one's point-on-surface in each zone."""
    day = day or paris_day(timezone.now())
    params: dict[str, Any] = {
        "project": project.pk,
        "published": Visibility.PUBLISHED.value,
        "phase": phase.pk if phase is not None else None,
        "day": day,
    }
    by_source: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    with connection.cursor() as cursor:
        cursor.execute(_AREAS_SQL, params)
        for source, name, contribution_id in cursor.fetchall():
            ids = by_source[source][name]
            if contribution_id is not None:
                ids.add(contribution_id)
    return AreaHits({source: dict(zones) for source, zones in by_source.items()})


def _area_splits(hits: AreaHits, published_ids: set[int]) -> list[AreaSplit]:
    total = len(published_ids)
    splits = []
    for source in sorted(hits.by_source, key=lambda s: source_label(s).casefold()):
        zones = hits.by_source[source]
        counts = [
            Tally(key=name, label=name, count=len(ids), share=_share(len(ids), total))
            for name, ids in zones.items()
        ]
        counts.sort(key=lambda c: (-c.count, c.label.casefold()))
        inside = set().union(*zones.values()) if zones else set()
        overlapping = sum(len(ids) for ids in zones.values()) > len(inside)
        splits.append(
            AreaSplit(
                source=source,
                label=source_label(source),
                zones=counts,
                outside=len(published_ids - inside),
                overlapping=overlapping,
            )
        )
    return splits


# --- participation over time -----------------------------------------------------------------------


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def participation_series(
    days: Sequence[date], *, start: date | None, end: date | None, granularity: str | None = None
) -> Participation:
    """Counts per Paris day (or ISO week), every period between ``start`` and ``end`` shown, zeros too.

    The bounds are widened to include every given day. ``granularity`` ``None`` chooses days up to
    :data:`DAILY_UP_TO_DAYS` days, weeks beyond.
    """
    if days:
        start = min([*days, *([start] if start else [])])
        end = max([*days, *([end] if end else [])])
    if start is None or end is None or end < start:
        return Participation(granularity or "day", [], None, None)
    if granularity not in ("day", "week"):
        granularity = "day" if (end - start).days + 1 <= DAILY_UP_TO_DAYS else "week"
    counts = Counter(days)
    periods: list[Period] = []
    cumulative = 0
    if granularity == "day":
        day = start
        while day <= end:
            cumulative += counts[day]
            periods.append(Period(day.isoformat(), day, day, counts[day], cumulative))
            day += timedelta(days=1)
    else:
        monday = _monday(start)
        while monday <= end:
            sunday = monday + timedelta(days=6)
            count = sum(n for day, n in counts.items() if monday <= day <= sunday)
            cumulative += count
            year, week, _weekday = monday.isocalendar()
            periods.append(Period(f"{year}-W{week:02d}", monday, sunday, count, cumulative))
            monday += timedelta(days=7)
    return Participation(granularity, periods, start, end)


# --- the computation -------------------------------------------------------------------------------


def _median_days(delays: list[timedelta]) -> float | None:
    if not delays:
        return None
    return round(statistics.median(d.total_seconds() for d in delays) / 86400, 1)


def bilan_compute(
    project: Project,
    *,
    phase: Phase | None = None,
    now: datetime | None = None,
    top: int = TOP_SUPPORTED,
    granularity: str | None = None,
) -> Bilan:
    """Every figure of the bilan of ``project`` (or of one of its phases), and its method."""
    now = now or timezone.now()
    today = paris_day(now)
    phases = list(project.phases.all())  # 1
    themes = list(Theme.objects.filter(project=project).order_by("position", "name"))  # 2
    theme_names = {t.pk: t.name for t in themes}
    phase_labels = {p.pk: p.label for p in phases}

    # 3. Totals by phase, visibility and hiding reason, with the answered ones (all phases, so
    # that the phase table and the scope's totals come from the same rows).
    answered_exists = Exists(_official_published().filter(contribution=OuterRef("pk")))
    totals_rows = (
        Contribution.objects.filter(project=project)
        .values("phase_id", "visibility", "hidden_reason")
        .annotate(n=Count("id"), answered=Count("id", filter=Q(answered_exists)))
        .order_by()
    )
    per_phase: dict[int, Counter[str]] = defaultdict(Counter)
    hidden_reasons: list[str] = []
    for row in totals_rows:
        counter = per_phase[row["phase_id"]]
        counter[row["visibility"]] += row["n"]
        if row["visibility"] == Visibility.PUBLISHED:
            counter["answered"] += row["answered"]
        if row["visibility"] == Visibility.HIDDEN and (phase is None or row["phase_id"] == phase.pk):
            hidden_reasons += [row["hidden_reason"] or _("Sans motif")] * row["n"]
    in_scope = [per_phase[phase.pk]] if phase is not None else list(per_phase.values())
    published_total = sum(c[Visibility.PUBLISHED] for c in in_scope)
    pending_total = sum(c[Visibility.PENDING] for c in in_scope)
    hidden_total = sum(c[Visibility.HIDDEN] for c in in_scope)
    totals = Totals(
        received=published_total + pending_total + hidden_total,
        published=published_total,
        pending=pending_total,
        hidden=hidden_total,
        hidden_reasons=[
            Tally(key, label, n, _share(n, hidden_total)) for key, label, n in _grouped(hidden_reasons)
        ],
    )

    # 4. The published contributions in scope: a few short columns each.
    rows = list(
        _published(project, phase)
        .order_by("created_at", "id")
        .values_list(
            "id",
            "title",
            "kind",
            "channel",
            "channel_label",
            "theme_id",
            "phase_id",
            "created_at",
            "supports_count",
        )
    )
    # 5. Their published official answers.
    answer_rows = list(
        _official_published()
        .filter(contribution__in=_published(project, phase))
        .order_by("created_at", "id")
        .values_list("contribution_id", "created_at", "text")
    )
    answers_of: dict[int, list[OfficialAnswer]] = defaultdict(list)
    for contribution_id, created_at, text in answer_rows:
        answers_of[contribution_id].append(OfficialAnswer(answered_at=created_at, text=text))

    kind_labels = dict(ContributionKind.choices)
    refs: list[ContributionRef] = []
    created: dict[int, datetime] = {}
    theme_keys: list[str] = []
    for pk, title, kind, channel, channel_text, theme_id, phase_id, created_at, supports in rows:
        created[pk] = created_at
        # A theme deleted since counts as none, as the database's SET NULL makes it.
        theme_keys.append(str(theme_id) if theme_id in theme_names else NO_THEME_KEY)
        refs.append(
            ContributionRef(
                id=pk,
                title=title,
                kind=kind,
                kind_label=str(kind_labels.get(kind, kind)),
                theme=theme_names.get(theme_id, "") if theme_id else "",
                channel=channel,
                channel_detail=public_channel_label(channel, channel_text),
                phase_id=phase_id,
                phase_label=phase_labels.get(phase_id, ""),
                created_date=created_at.astimezone(CALENDAR_TZ).date(),
                supports=supports,
                answered=pk in answers_of,
            )
        )
    total = len(refs)

    by_kind_counter = Counter(r.kind for r in refs)
    by_kind = [
        Tally(value, str(label), by_kind_counter[value], _share(by_kind_counter[value], total))
        for value, label in ContributionKind.choices
    ]

    by_channel: list[ChannelCount] = []
    for value, label in ContributionChannel.choices:
        of_channel = [r for r in refs if r.channel == value]
        labelled = [r.channel_detail for r in of_channel if r.channel_detail]
        by_channel.append(
            ChannelCount(
                key=value,
                label=str(label),
                count=len(of_channel),
                share=_share(len(of_channel), total),
                details=[Tally(k, lab, n, _share(n, total)) for k, lab, n in _grouped(labelled)],
                without_detail=len(of_channel) - len(labelled),
            )
        )

    by_theme_counter = Counter(theme_keys)
    by_theme = [
        Tally(str(t.pk), t.name, by_theme_counter[str(t.pk)], _share(by_theme_counter[str(t.pk)], total))
        for t in themes
    ]
    by_theme.append(
        Tally(
            NO_THEME_KEY,
            _("Non classé"),
            by_theme_counter[NO_THEME_KEY],
            _share(by_theme_counter[NO_THEME_KEY], total),
        )
    )

    hits = contribution_areas(project, phase=phase, day=today)  # 6
    by_area = _area_splits(hits, {r.id for r in refs})

    scope_phases = [phase] if phase is not None else [p for p in phases if p.allows_contributions]
    series_end = max((p.end_date for p in scope_phases), default=None)
    participation = participation_series(
        [r.created_date for r in refs],
        start=min((p.start_date for p in scope_phases), default=None),
        end=min(series_end, today) if series_end else None,
        granularity=granularity,
    )

    top_supported = sorted(
        (r for r in refs if r.supports > 0), key=lambda r: (-r.supports, created[r.id], r.id)
    )[:top]

    answered = [AnsweredContribution(r, answers_of[r.id]) for r in refs if r.answered]
    unanswered = [r for r in refs if not r.answered]
    unanswered_kinds = Counter(r.kind for r in unanswered)
    answers = Answers(
        official_count=len(answer_rows),
        answered_count=len(answered),
        unanswered_count=len(unanswered),
        median_days_to_answer=_median_days(
            [a.answers[0].answered_at - created[a.contribution.id] for a in answered]
        ),
        answered=answered,
        unanswered=unanswered,
        unanswered_by_kind=[
            Tally(
                value, str(label), unanswered_kinds[value], _share(unanswered_kinds[value], len(unanswered))
            )
            for value, label in ContributionKind.choices
            if unanswered_kinds[value]
        ],
    )

    contributors = _contributors(project, phase, on_behalf=sum(1 for r in refs if r.channel != "web"))  # 7, 8

    summaries = []
    for p in phases:
        counter = per_phase.get(p.pk, Counter())
        summaries.append(
            PhaseSummary(
                id=p.pk,
                kind=p.kind,
                label=p.label,
                start_date=p.start_date,
                end_date=p.end_date,
                allows_contributions=p.allows_contributions,
                received=counter[Visibility.PUBLISHED]
                + counter[Visibility.PENDING]
                + counter[Visibility.HIDDEN],
                published=counter[Visibility.PUBLISHED],
                pending=counter[Visibility.PENDING],
                hidden=counter[Visibility.HIDDEN],
                answered=counter["answered"],
                unanswered=counter[Visibility.PUBLISHED] - counter["answered"],
            )
        )

    scope = (
        Scope(phase.pk, phase.label, phase.start_date, phase.end_date)
        if phase is not None
        else Scope(
            None,
            _("Tout le projet"),
            min((p.start_date for p in phases), default=None),
            max((p.end_date for p in phases), default=None),
        )
    )
    info = ProjectInfo(
        slug=project.slug,
        title=project.title,
        summary=project.summary,
        organisation=project.organisation.name,
        bilan_published_at=project.bilan_published_at,
        conclusion=project.bilan_conclusion,
    )
    bilan = Bilan(
        project=info,
        scope=scope,
        computed_at=now,
        totals=totals,
        by_kind=by_kind,
        by_channel=by_channel,
        by_theme=by_theme,
        by_area=by_area,
        participation=participation,
        top_supported=top_supported,
        answers=answers,
        contributors=contributors,
        phases=summaries,
        method=[],
    )
    return Bilan(**{**bilan.__dict__, "method": bilan_method(bilan, project=project, top=top, day=today)})


def _contributors(project: Project, phase: Phase | None, *, on_behalf: int) -> Contributors:
    """Distinct accounts and e-mails counted by the database: no address is read by Python."""
    online = _published(project, phase).filter(channel=ContributionChannel.WEB)
    without_account = Q(author_user__isnull=True)
    with_email = Q(author__email__gt="")
    people = online.aggregate(
        accounts=Count("author_user", distinct=True),
        emails=Count(Lower("author__email"), distinct=True, filter=without_account & with_email),
        anonymous=Count("id", filter=without_account & ~with_email),
    )
    supports = ContributionSupport.objects.filter(contribution__in=_published(project, phase)).aggregate(
        total=Count("id"), people=Count("fingerprint", distinct=True)
    )
    return Contributors(
        accounts=people["accounts"],
        emails=people["emails"],
        anonymous_contributions=people["anonymous"],
        on_behalf_contributions=on_behalf,
        supports=supports["total"],
        supporters=supports["people"],
    )


# --- the method, written from the rules above ------------------------------------------------------


def _day(value: date) -> str:
    return date_format(value, "j F Y")


def bilan_method(bilan: Bilan, *, project: Project, top: int, day: date) -> list[MethodSection]:
    """The method as published with the figures: what is counted, how, what is left out and why."""
    totals = bilan.totals
    splits = bilan.by_area
    sections = [
        MethodSection(
            "compte",
            _("Ce qui est compté"),
            [
                _(
                    "Une contribution est une idée, une question, une inquiétude, un soutien ou une autre "
                    "remarque placée sur la carte du projet, déposée en ligne par un participant ou saisie "
                    "par l'équipe du projet pour le compte de participants (réunion publique, atelier, "
                    "registre papier, courrier). Chacune compte pour une, quelle que soit sa longueur."
                ),
                _(
                    "Les répartitions (par nature, canal, thème, zone et période), les plus soutenues et "
                    "les réponses portent sur les %(published)d contributions publiées. Les contributions "
                    "masquées par la modération (%(hidden)d) sont comptées dans le total reçu avec le motif "
                    "affiché publiquement, mais ne sont jamais listées ; celles qui attendent la modération "
                    "(%(pending)d) sont comptées à part."
                )
                % {"published": totals.published, "hidden": totals.hidden, "pending": totals.pending},
                _(
                    "Les chiffres sont calculés par le logiciel à partir des données, à chaque consultation "
                    "(ici le %(day)s) : ils changent si l'équipe modère ou répond après la publication du "
                    "bilan."
                )
                % {"day": _day(day)},
            ],
        ),
        MethodSection(
            "canaux",
            _("Canaux"),
            [
                _(
                    "« En ligne » : contributions déposées sur le site par les participants eux-mêmes. Les "
                    "autres canaux sont des saisies de l'équipe, datées du jour où le participant s'est "
                    "exprimé ; une saisie peut résumer les propos de plusieurs personnes."
                ),
                _(
                    "Pour les réunions, ateliers et registres, la précision saisie par l'équipe (« réunion "
                    "publique du 12 mars ») est publiée ; les précisions identiques aux majuscules et aux "
                    "espaces près sont regroupées. Celles des courriers et du canal « autre » ne sont pas "
                    "publiées : elles désignent souvent une personne."
                ),
            ],
        ),
        MethodSection(
            "themes",
            _("Thèmes"),
            [
                _(
                    "Les thèmes sont proposés par l'équipe du projet. Le thème d'une contribution est choisi "
                    "par la personne qui contribue, ou attribué ou corrigé ensuite par l'équipe de "
                    "modération ; l'outil ne garde pas la trace de qui l'a choisi. Aucun thème n'est "
                    "attribué automatiquement : il n'y a ni analyse du texte ni regroupement par "
                    "algorithme. Les contributions sans thème sont comptées dans « Non classé »."
                ),
            ],
        ),
        MethodSection("zones", _("Zones"), _zones_method(splits, project=project, day=day)),
        MethodSection(
            "temps",
            _("Participation dans le temps"),
            [
                _(
                    "Chaque contribution publiée est comptée le jour de son dépôt à l'heure de Paris (pour "
                    "une saisie de l'équipe, le jour où le participant s'est exprimé). La série est "
                    "présentée par jour quand elle couvre %(days)d jours au plus, sinon par semaine ISO (du "
                    "lundi au dimanche), du premier jour des phases ouvertes aux contributions jusqu'à "
                    "leur fin ou à aujourd'hui ; les périodes sans contribution sont affichées à zéro."
                )
                % {"days": DAILY_UP_TO_DAYS},
            ],
        ),
        MethodSection(
            "soutiens",
            _("Soutiens et contributions les plus soutenues"),
            [
                _(
                    "Un soutien (« +1 ») compte une fois par personne et par contribution : la personne est "
                    "reconnue par son compte, son adresse e-mail ou, à défaut, son navigateur, au moyen "
                    "d'une empreinte chiffrée qui ne permet pas de retrouver qui elle est. Sont listées "
                    "les %(top)d contributions publiées qui ont reçu le plus de soutiens (au moins un) ; "
                    "à égalité, la plus ancienne d'abord."
                )
                % {"top": top},
            ],
        ),
        MethodSection(
            "reponses",
            _("Réponses officielles"),
            [
                _(
                    "Une contribution est « répondue » quand elle a au moins une réponse officielle "
                    "publiée de l'équipe du projet ; les réponses des autres participants ne comptent "
                    "pas. Toutes les réponses officielles sont reproduites telles quelles, sans la "
                    "signature de l'agent. Les contributions sans réponse sont listées de la plus "
                    "ancienne à la plus récente ; le délai médian va du dépôt à la première réponse."
                ),
            ],
        ),
        MethodSection(
            "participants",
            _("Nombre de participants"),
            [
                _(
                    "Le nombre de personnes qui ont participé n'est pas connu exactement, et ce bilan ne "
                    "l'invente pas. Sont comptés : les comptes distincts et, pour les contributions "
                    "déposées sans compte, les adresses e-mail distinctes. Les contributions en ligne "
                    "sans compte ni e-mail ne peuvent être rattachées à personne : elles sont comptées "
                    "à part. Une personne qui a contribué une fois avec son compte et une fois avec son "
                    "seul e-mail est comptée deux fois. Les saisies de l'équipe ne disent pas combien "
                    "de personnes elles représentent. Le calcul est fait par la base de données : aucune "
                    "adresse n'est lue ni publiée pour le produire."
                ),
            ],
        ),
        MethodSection(
            "exclu",
            _("Ce qui n'est pas publié, et pourquoi"),
            [
                _(
                    "Ni les noms, ni les adresses e-mail, ni les pseudonymes, ni les comptes des "
                    "participants, ni l'identité des agents qui ont saisi, modéré ou répondu ne sont "
                    "publiés, ni sur cette page ni dans les fichiers."
                ),
                _(
                    "Les fichiers CSV et GeoJSON ne contiennent ni les titres ni les textes des "
                    "contributions : écrits librement, ils peuvent contenir des noms, des adresses ou des "
                    "numéros de téléphone, et un fichier téléchargé ne peut plus être corrigé. On les lit "
                    "sur le site, où la modération s'applique. Cette page cite les titres des "
                    "contributions publiées qu'elle liste : l'équipe la relit avant de la publier. Dans "
                    "les fichiers, chaque contribution est placée par un point de sa forme, arrondi à "
                    "5 décimales (environ 1 m) ; le GeoJSON donne sa forme avec la même précision, et "
                    "seule la date (pas l'heure) du dépôt est donnée."
                ),
            ],
        ),
        MethodSection(
            "synthese",
            _("Pas de synthèse automatique"),
            [
                _(
                    "Ce bilan ne résume pas le contenu des contributions et ne leur attribue aucun score : "
                    "il compte, trie et cite, selon les règles ci-dessus ; les répartitions, les soutiens "
                    "et les réponses peuvent être recalculés à partir du fichier CSV. Les conclusions "
                    "sont rédigées par l'équipe du "
                    "projet, qui les signe. Le logiciel est libre : ces règles peuvent être vérifiées "
                    "dans son code (urbanisme/bilan.py)."
                ),
            ],
        ),
    ]
    return sections


def _zones_method(splits: list[AreaSplit], *, project: Project, day: date) -> list[str]:
    paragraphs = [
        _(
            "Chaque contribution est située par un point de sa forme (le point lui-même, un point de la "
            "ligne ou un point à l'intérieur de la surface, calculé par PostGIS avec ST_PointOnSurface). "
            "Elle est comptée dans chaque zone qui contient ce point. Les zones sont celles du territoire "
            "(découpages importés par l'administrateur, par exemple les quartiers) qui touchent le "
            "périmètre du projet et sont en vigueur le %(day)s. Chaque découpage est présenté à part ; "
            "« hors zones » compte les contributions qu'aucune de ses zones ne contient, par exemple "
            "celles placées dans la marge de %(margin)d m autour du périmètre."
        )
        % {"day": _day(day), "margin": project.contribution_margin_m},
    ]
    if splits:
        paragraphs.append(
            ngettext(
                "Découpage utilisé : %(names)s.",
                "Découpages utilisés : %(names)s.",
                len(splits),
            )
            % {"names": ", ".join(f"« {s.label} »" for s in splits)}
        )
    else:
        paragraphs.append(
            _("Aucune zone du territoire ne touche le périmètre : il n'y a pas de répartition par zone.")
        )
    if any(s.overlapping for s in splits):
        paragraphs.append(
            _(
                "Des zones d'un même découpage se chevauchent : une contribution peut y être comptée "
                "deux fois, et la somme des parts dépasser le total."
            )
        )
    return paragraphs


# --- JSON ------------------------------------------------------------------------------------------


def bilan_as_dict(bilan: Bilan) -> dict[str, Any]:
    """Plain data (dates as ISO strings) for the JSON API."""

    def plain(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if hasattr(value, "__dataclass_fields__"):
            return {name: plain(getattr(value, name)) for name in value.__dataclass_fields__}
        return value

    data = plain(bilan)
    data["contributors"]["identified"] = bilan.contributors.identified
    return data


# --- the map ---------------------------------------------------------------------------------------

MAP_WIDTH = 800
MAP_MAX_HEIGHT = 900
# Length of one degree of latitude (m) at latitude φ, for the scale bar only (Clarke's series).
_LAT_DEGREE = (111132.954, -559.822, 1.175)
_NICE_LENGTHS = (10, 20, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000, 20000, 50000)


@dataclass(frozen=True)
class MapMark:
    id: int
    kind: str
    x: float
    y: float
    outline: str  # SVG path of a line or surface ("" for a point)
    closed: bool


@dataclass(frozen=True)
class MapZone:
    label: str
    source: str
    path: str
    x: float
    y: float


@dataclass(frozen=True)
class BilanMap:
    width: int
    height: int
    perimeter: str
    zones: list[MapZone]
    marks: list[MapMark]
    legend: list[Tally]  # per kind, with the number of marks
    scale_px: float
    scale_label: str


class _Projection:
    """Lon/lat to SVG pixels: equirectangular around the middle latitude, north up (city scale)."""

    def __init__(self, bbox: tuple[float, float, float, float]) -> None:
        west, south, east, north = bbox
        mid = math.radians((south + north) / 2)
        self.kx = math.cos(mid)
        pad_x = max((east - west) * 0.04, 1e-5)
        pad_y = max((north - south) * 0.04, 1e-5)
        self.west, self.north = west - pad_x, north + pad_y
        span_x = (east - west + 2 * pad_x) * self.kx
        span_y = north - south + 2 * pad_y
        self.scale = MAP_WIDTH / span_x
        if span_y * self.scale > MAP_MAX_HEIGHT:
            self.scale = MAP_MAX_HEIGHT / span_y
        self.width = round(span_x * self.scale)
        self.height = round(span_y * self.scale)
        a, b, c = _LAT_DEGREE
        self.metres_per_px = (a + b * math.cos(2 * mid) + c * math.cos(4 * mid)) / self.scale
        self.envelope = (self.west, north - (span_y - pad_y), self.west + span_x / self.kx, self.north)

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        return round((lon - self.west) * self.kx * self.scale, 1), round((self.north - lat) * self.scale, 1)

    def path(self, geometry: dict[str, Any]) -> tuple[str, bool]:
        """SVG path data of a GeoJSON geometry; closed is True for surfaces."""
        kind, coords = geometry["type"], geometry.get("coordinates") or []
        if kind == "GeometryCollection":
            parts = [self.path(g) for g in geometry["geometries"]]
            return " ".join(p for p, _c in parts if p), any(c for _p, c in parts)
        lines: list[list[list[float]]]
        closed = kind in ("Polygon", "MultiPolygon")
        if kind == "LineString":
            lines = [coords]
        elif kind in ("MultiLineString", "Polygon"):
            lines = coords
        elif kind == "MultiPolygon":
            lines = [ring for polygon in coords for ring in polygon]
        else:
            return "", False
        out = []
        for line in lines:
            points = [self.xy(lon, lat) for lon, lat, *_z in line]
            if points:
                out.append("M" + " L".join(f"{x:g} {y:g}" for x, y in points) + (" Z" if closed else ""))
        return " ".join(out), closed


_MAP_ZONES_SQL = f"""
    WITH zones AS ({_ZONES_SQL}), clipped AS (
        SELECT name, source, ST_ClipByBox2D(geom, ST_MakeEnvelope(%(w)s, %(s)s, %(e)s, %(n)s, 4326)) AS g
        FROM zones
    )
    SELECT name, source, ST_AsGeoJSON(ST_SimplifyPreserveTopology(g, %(tolerance)s), 7),
           ST_X(ST_PointOnSurface(g)), ST_Y(ST_PointOnSurface(g))
    FROM clipped WHERE NOT ST_IsEmpty(g)
    ORDER BY source, name
"""


def _scale(metres_per_px: float, width: int) -> tuple[float, str]:
    wanted = metres_per_px * width / 4
    length = max((n for n in _NICE_LENGTHS if n <= wanted), default=_NICE_LENGTHS[0])
    label = f"{length // 1000} km" if length >= 1000 and length % 1000 == 0 else f"{length} m"
    return round(length / metres_per_px, 1), label


def bilan_map(project: Project, *, phase: Phase | None = None, now: datetime | None = None) -> BilanMap:
    """Contributions (a mark at each one's point-on-surface, the outline of lines and surfaces), the
    perimeter and the zones, projected for an SVG. Two queries."""
    day = paris_day(now or timezone.now())
    rows = list(
        _published(project, phase)
        .annotate(pos=PointOnSurface("geom"))
        .order_by("created_at", "id")
        .values_list("id", "kind", "geom", "pos")
    )
    perimeter: GEOSGeometry = project.perimeter
    west, south, east, north = perimeter.extent
    for _pk, _kind, geom, _pos in rows:
        gw, gs, ge, gn = geom.extent
        west, south, east, north = min(west, gw), min(south, gs), max(east, ge), max(north, gn)
    projection = _Projection((west, south, east, north))
    marks = []
    for pk, kind, geom, pos in rows:
        x, y = projection.xy(pos.x, pos.y)
        outline, closed = ("", False) if geom.geom_type == "Point" else projection.path(json.loads(geom.json))
        marks.append(MapMark(pk, kind, x, y, outline, closed))
    zones = []
    pw, ps, pe, pn = projection.envelope
    with connection.cursor() as cursor:
        cursor.execute(
            _MAP_ZONES_SQL,
            {
                "project": project.pk,
                "day": day,
                "w": pw,
                "s": ps,
                "e": pe,
                "n": pn,
                "tolerance": 0.5 / projection.scale,
            },
        )
        for name, source, geojson, lx, ly in cursor.fetchall():
            path, _closed = projection.path(json.loads(geojson))
            x, y = projection.xy(lx, ly) if lx is not None else (0.0, 0.0)
            zones.append(MapZone(name, source, path, x, y))
    kinds = Counter(m.kind for m in marks)
    scale_px, scale_label = _scale(projection.metres_per_px, projection.width)
    return BilanMap(
        width=projection.width,
        height=projection.height,
        perimeter=projection.path(json.loads(perimeter.json))[0],
        zones=zones,
        marks=marks,
        legend=[
            Tally(value, str(label), kinds[value], _share(kinds[value], len(marks)))
            for value, label in ContributionKind.choices
        ],
        scale_px=scale_px,
        scale_label=scale_label,
    )
