"""Demo reports: the 796 real « DansMaRue » pavement reports of Paris (Nov–Dec 2023).

Each row goes through :func:`signalements.services.report_create`, the API's own code path (routing
included), keyed by its DansMaRue id so that a second load files nothing twice. New tickets are
then moved through the workflow by the demo agent of their service, to show every state; rows of
the same DansMaRue duplicate cluster are merged into the first one. Nobody is notified: these are
past reports.
"""

from __future__ import annotations

import csv
import hashlib
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from geo.models import Membership, Service
from signalements import services
from signalements.models import Channel, Ticket, TicketEvent, TicketState

DEMO_CSV = Path(__file__).resolve().parent / "fixtures" / "demo" / "paris_dansmarue_trottoirs_2023.csv"
CATEGORY = "voirie-trottoir"
PARIS = ZoneInfo("Europe/Paris")
CHANNELS = {
    "Android": Channel.MOBILE,
    "IOS application": Channel.MOBILE,
    "Page DMR Paris.fr": Channel.WEB,
    "Back Office": Channel.BACK_OFFICE,
}
# Where each demo ticket ends, by a stable hash of its id: (upper bound of the bucket, path of states).
S = TicketState
STATE_PATHS: list[tuple[int, list[str]]] = [
    (35, [S.PRIS_EN_COMPTE, S.EN_COURS, S.RESOLU]),
    (50, [S.PRIS_EN_COMPTE, S.EN_COURS]),
    (60, [S.PRIS_EN_COMPTE, S.PROGRAMME]),
    (75, [S.PRIS_EN_COMPTE]),
    (80, [S.REJETE]),
    (100, []),
]
MESSAGES = {
    S.RESOLU: "Le trottoir a été réparé. Merci pour votre signalement.",
    S.REJETE: "Cet emplacement relève d'une voie privée : le signalement a été transmis au gestionnaire.",
    S.PROGRAMME: "L'intervention est programmée.",
}


def demo_agent_username(service: Service) -> str:
    slug = service.name.lower()
    for old, new in (("é", "e"), ("è", "e"), ("–", ""), ("(", ""), (")", ""), ("  ", " ")):
        slug = slug.replace(old, new)
    return "agent-" + "-".join(slug.split())[:40]


def demo_agents_ensure() -> dict[int, Any]:
    """One demo agent per service. In DEBUG they get the demo password, otherwise none."""
    users = get_user_model().objects
    agents: dict[int, Any] = {}
    for service in Service.objects.select_related("organisation"):
        user, created = users.get_or_create(username=demo_agent_username(service))
        if created:
            if settings.DEBUG:
                user.set_password(settings.DEMO_PASSWORD)
            else:
                user.set_unusable_password()
            user.save()
        Membership.objects.get_or_create(
            user=user, organisation=service.organisation, service=service, role=Membership.Role.AGENT
        )
        agents[service.pk] = user
    return agents


def _rows(limit: int | None) -> list[dict[str, str]]:
    """Oldest first, so that the first report of a duplicate cluster is the original."""
    with DEMO_CSV.open(encoding="utf-8", newline="") as handle:
        rows = sorted(csv.DictReader(handle), key=lambda row: (row["datedecl"], row["id_dmr"]))
    return rows[:limit] if limit is not None else rows


def _bucket(key: str) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 100


def _filed_at(row: dict[str, str]) -> datetime:
    """The day is real; the hour is spread over the working day from the id (the file has no time)."""
    day = datetime.fromisoformat(row["datedecl"]).date()
    minutes = _bucket("t" + row["id_dmr"]) * 6  # 0..594 minutes after 8:00
    return datetime.combine(day, time(8, 0), tzinfo=PARIS) + timedelta(minutes=minutes)


def _backdate(ticket: Ticket, filed: datetime) -> None:
    """Spread the events of a past ticket over the days after filing, as they happened then."""
    events = list(ticket.events.order_by("pk"))
    for step, event in enumerate(events):
        TicketEvent.objects.filter(pk=event.pk).update(at=filed + timedelta(days=2 * step, hours=step))
    if ticket.closed_at:
        Ticket.objects.filter(pk=ticket.pk).update(
            closed_at=filed + timedelta(days=2 * (len(events) - 1), hours=1)
        )


def _is_open(reference: str) -> bool:
    from signalements.workflow import is_open

    state = Ticket.objects.filter(report__reference=reference).values_list("state", flat=True).first()
    return bool(state and is_open(state))


def reports_demo_load(*, limit: int | None = None) -> dict[str, int]:
    """File the demo reports not filed yet; returns counts (created, already there, by final state)."""
    agents = demo_agents_ensure()
    counts: dict[str, int] = {"created": 0, "unchanged": 0, "merged": 0}
    first_of_cluster: dict[str, str] = {}
    for row in _rows(limit):
        with transaction.atomic():
            filed = services.report_create(
                category=CATEGORY,
                lon=float(row["longitude"]),
                lat=float(row["latitude"]),
                description=row["soustype"],
                address=row["adresse"],
                channel=CHANNELS.get(row["prefixe"], Channel.IMPORT),
                created_at=_filed_at(row),
                idempotency_key=f"dansmarue:{row['id_dmr']}",
                notify=False,
            )
            cluster = row.get("cluster") or ""
            original = first_of_cluster.setdefault(cluster, filed.report.reference) if cluster else None
            if not filed.created:
                counts["unchanged"] += 1
                continue
            counts["created"] += 1
            agent = agents[filed.ticket.service_id]
            # Within ~20 m of an earlier report still open: the same hole, reported again.
            if original and original != filed.report.reference and _is_open(original):
                services.report_merge(duplicate=filed.report, original_reference=original, actor=agent)
                counts["merged"] += 1
            else:
                bucket = _bucket(row["id_dmr"])
                path = next(states for upper, states in STATE_PATHS if bucket < upper)
                for state in path:
                    services.ticket_transition(
                        ticket=filed.ticket,
                        actor=agent,
                        to_state=state,
                        public_message=MESSAGES.get(state, ""),
                    )
            filed.ticket.refresh_from_db()
            _backdate(filed.ticket, filed.report.created_at)
            counts[filed.ticket.state] = counts.get(filed.ticket.state, 0) + 1
    return counts
