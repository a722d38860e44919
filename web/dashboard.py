"""The organisation dashboard's reads: a handful of aggregate queries, each scoped to one organisation.

Who sees which organisation: its service managers and administrators (``geo.Membership``, with or
without a service), and superusers (every organisation). The figures never mix organisations: every
query filters on the organisation's services or projects. A fixed number of queries whatever the
volume (the page's test counts them). The bar charts are computed here as plain numbers so that the
template draws them as inline SVG, each beside a table of the same figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.gis.db.models import Extent
from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.formats import number_format

from geo.models import Membership, Organisation, Territory
from signalements import workflow
from signalements.models import Ticket, TicketState
from urbanisme.models import Contribution, ContributionChannel, PhaseKind

DASHBOARD_ROLES = (Membership.Role.SERVICE_MANAGER, Membership.Role.ADMINISTRATOR)
SECONDS_PER_DAY = 86400.0


def organisations_for(user: Any) -> list[Organisation]:
    """The organisations whose dashboard ``user`` may read (empty: none, the page answers 403)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    if user.is_superuser:
        return list(Organisation.objects.order_by("name"))
    return list(
        Organisation.objects.filter(
            memberships__user=user, memberships__role__in=DASHBOARD_ROLES, memberships__user__is_active=True
        )
        .distinct()
        .order_by("name")
    )


# --- charts -----------------------------------------------------------------------------------------

BAR_HEIGHT = 24
BAR_GAP = 10
LABEL_WIDTH = 170
BAR_MAX_WIDTH = 190
CHART_WIDTH = LABEL_WIDTH + BAR_MAX_WIDTH + 50
LABEL_MAX_CHARS = 20


@dataclass
class Bar:
    label: str
    value: float
    text: str  # the value as written beside the bar (and in the table)
    css: str = ""
    y: int = 0
    width: str = "0"  # SVG attributes, written with a dot whatever the page's language
    value_x: str = "0"
    short_label: str = ""


@dataclass
class Chart:
    bars: list[Bar] = field(default_factory=list)
    height: int = 0
    width: int = CHART_WIDTH
    label_width: int = LABEL_WIDTH
    label_x: int = LABEL_WIDTH - 8


def bar_chart(rows: list[tuple[str, float, str]], *, css: str = "") -> Chart:
    """Horizontal bars: ``(label, value, value as text)``; the longest bar is ``BAR_MAX_WIDTH``."""
    top = max((value for _label, value, _text in rows), default=0) or 1
    bars = []
    for index, (label, value, text) in enumerate(rows):
        short = label if len(label) <= LABEL_MAX_CHARS else label[: LABEL_MAX_CHARS - 1] + "…"
        bars.append(
            Bar(
                label=label,
                value=value,
                text=text,
                css=css,
                y=index * (BAR_HEIGHT + BAR_GAP),
                width=f"{max(value, 0) / top * BAR_MAX_WIDTH:.1f}",
                value_x=f"{LABEL_WIDTH + max(value, 0) / top * BAR_MAX_WIDTH + 6:.1f}",
                short_label=short,
            )
        )
    height = max(len(bars) * (BAR_HEIGHT + BAR_GAP) - BAR_GAP, BAR_HEIGHT)
    return Chart(bars=bars, height=height)


def _count_chart(counts: dict[str, int], *, css: str = "") -> Chart:
    return bar_chart(
        [(label, n, number_format(n, force_grouping=True)) for label, n in counts.items()], css=css
    )


# --- the figures ------------------------------------------------------------------------------------


def _category_label(name: str, parent: str | None) -> str:
    return f"{parent} › {name}" if parent else name


def ticket_figures(organisation: Organisation) -> dict[str, Any]:
    """One query: tickets of the organisation's services by service, category and state, with overdue."""
    now = timezone.now()
    rows = (
        Ticket.objects.filter(service__organisation=organisation)
        .values(
            "service_id",
            "service__name",
            "report__category__name",
            "report__category__parent__name",
            "state",
        )
        .annotate(
            n=Count("id"),
            overdue=Count("id", filter=Q(due_at__lt=now, state__in=sorted(workflow.OPEN_STATES))),
            open=Count("id", filter=Q(state__in=sorted(workflow.OPEN_STATES))),
        )
        .order_by()
    )
    by_category: dict[str, int] = {}
    by_state: dict[str, int] = {}
    services: dict[int, dict[str, Any]] = {}
    total = overdue = 0
    for row in rows:
        label = _category_label(row["report__category__name"], row["report__category__parent__name"])
        by_category[label] = by_category.get(label, 0) + row["n"]
        by_state[row["state"]] = by_state.get(row["state"], 0) + row["n"]
        service = services.setdefault(
            row["service_id"],
            {"id": row["service_id"], "name": row["service__name"], "total": 0, "open": 0, "overdue": 0},
        )
        service["total"] += row["n"]
        service["open"] += row["open"]
        service["overdue"] += row["overdue"]
        total += row["n"]
        overdue += row["overdue"]
    states = [
        {"code": s.value, "label": str(s.label), "count": by_state[s.value]}
        for s in TicketState
        if s in by_state
    ]
    categories = sorted(by_category.items(), key=lambda item: (-item[1], item[0]))
    return {
        "total": total,
        "overdue": overdue,
        "open": sum(s["open"] for s in services.values()),
        "categories": [{"label": label, "count": n} for label, n in categories],
        "states": states,
        "services": sorted(services.values(), key=lambda s: s["name"]),
    }


_MEDIAN_SQL = """
SELECT t.service_id,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM t.closed_at - t.created_at)),
       COUNT(*)
FROM signalements_ticket t
JOIN geo_service s ON s.id = t.service_id
WHERE s.organisation_id = %(organisation)s
  AND t.state = %(resolved)s
  AND t.closed_at IS NOT NULL
GROUP BY t.service_id
"""


def median_resolution(organisation: Organisation) -> dict[int, dict[str, float]]:
    """Per service: the median of ``closed_at - created_at`` over resolved tickets, in days."""
    with connection.cursor() as cursor:
        cursor.execute(_MEDIAN_SQL, {"organisation": organisation.pk, "resolved": TicketState.RESOLU})
        rows = cursor.fetchall()
    return {service: {"days": float(median) / SECONDS_PER_DAY, "count": n} for service, median, n in rows}


_ZONES_SQL = """
SELECT z.name, COUNT(DISTINCT r.id)
FROM geo_zone z
JOIN geo_service zs ON zs.id = z.service_id
JOIN signalements_report r ON ST_Intersects(z.geom, r.location)
JOIN signalements_ticket t ON t.report_id = r.id
JOIN geo_service ts ON ts.id = t.service_id
WHERE zs.organisation_id = %(organisation)s AND ts.organisation_id = %(organisation)s
GROUP BY z.name
ORDER BY COUNT(DISTINCT r.id) DESC, z.name
"""


def reports_by_zone(organisation: Organisation) -> list[dict[str, Any]]:
    """Reports of the organisation's tickets inside each of its zones (sectors, arrondissements…).

    Zones of different categories may overlap, so a report can count in several zones.
    """
    with connection.cursor() as cursor:
        cursor.execute(_ZONES_SQL, {"organisation": organisation.pk})
        return [{"name": name, "count": n} for name, n in cursor.fetchall()]


def contribution_figures(organisation: Organisation) -> dict[str, Any]:
    """One query: contributions to the organisation's projects by phase kind and channel."""
    rows = (
        Contribution.objects.filter(project__organisation=organisation)
        .values("phase__kind", "channel")
        .annotate(n=Count("id"))
        .order_by()
    )
    by_phase: dict[str, int] = {}
    by_channel: dict[str, int] = {}
    for row in rows:
        by_phase[row["phase__kind"]] = by_phase.get(row["phase__kind"], 0) + row["n"]
        by_channel[row["channel"]] = by_channel.get(row["channel"], 0) + row["n"]
    return {
        "total": sum(by_phase.values()),
        "phases": [{"label": str(k.label), "count": by_phase[k.value]} for k in PhaseKind if k in by_phase],
        "channels": [
            {"label": str(c.label), "count": by_channel[c.value]}
            for c in ContributionChannel
            if c in by_channel
        ],
    }


def territory_bounds(organisation: Organisation) -> list[list[float]] | None:
    """The organisation's territories' extent as Leaflet bounds ``[[south, west], [north, east]]``."""
    extent = Territory.objects.filter(organisation=organisation).aggregate(extent=Extent("geom"))["extent"]
    if not extent:
        return None
    west, south, east, north = extent
    return [[south, west], [north, east]]


def dashboard(organisation: Organisation) -> dict[str, Any]:
    """Every figure of one organisation's dashboard, with its charts (five queries)."""
    tickets = ticket_figures(organisation)
    medians = median_resolution(organisation)
    for service in tickets["services"]:
        found = medians.get(service["id"])
        service["median_days"] = found["days"] if found else None
        service["resolved"] = found["count"] if found else 0
    zones = reports_by_zone(organisation)
    contributions = contribution_figures(organisation)
    with_median = [s for s in tickets["services"] if s["median_days"] is not None]
    return {
        "tickets": tickets,
        "zones": zones,
        "contributions": contributions,
        "bounds": territory_bounds(organisation),
        "charts": {
            "categories": _count_chart({c["label"]: c["count"] for c in tickets["categories"]}),
            "states": bar_chart(
                [(s["label"], s["count"], number_format(s["count"])) for s in tickets["states"]],
                css="bar-state",
            ),
            "services": _count_chart({s["name"]: s["total"] for s in tickets["services"]}),
            "medians": bar_chart(
                [(s["name"], s["median_days"], number_format(s["median_days"], 1)) for s in with_median],
                css="bar-duration",
            ),
            "overdue": _count_chart(
                {s["name"]: s["overdue"] for s in tickets["services"]}, css="bar-overdue"
            ),
            "zones": _count_chart({z["name"]: z["count"] for z in zones}),
            "phases": _count_chart(
                {p["label"]: p["count"] for p in contributions["phases"]}, css="bar-phase"
            ),
            "channels": _count_chart(
                {c["label"]: c["count"] for c in contributions["channels"]}, css="bar-channel"
            ),
        },
    }
