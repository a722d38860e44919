"""The ticket workflow as a table: which state may follow which, who may do it, what it needs.

Pure rules, no I/O: ``signalements.services.ticket_transition`` asks :func:`check_transition`
and writes the event; pages and the API ask :func:`allowed_transitions` to offer only what is
possible. No other module compares states as bare strings.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from geo.models import Membership
from signalements.models import TicketState

S = TicketState
R = Membership.Role

# A transferred ticket waits in its new service as a new one would: it is open.
OPEN_STATES = frozenset({S.NOUVEAU, S.TRANSFERE, S.PRIS_EN_COMPTE, S.PROGRAMME, S.EN_COURS})
CLOSED_STATES = frozenset({S.RESOLU, S.REJETE, S.DOUBLON})

STAFF = frozenset({R.AGENT, R.SERVICE_MANAGER, R.ADMINISTRATOR})
MANAGERS = frozenset({R.SERVICE_MANAGER, R.ADMINISTRATOR})


@dataclass(frozen=True)
class Transition:
    source: TicketState
    target: TicketState
    roles: frozenset[str]
    needs_reason: bool = False  # a public message explaining the decision
    needs_original: bool = False  # the report this one duplicates
    needs_service: bool = False  # the service the ticket goes to


def _t(source: TicketState, target: TicketState, roles: frozenset[str] = STAFF, **needs: bool) -> Transition:
    return Transition(source, target, roles, **needs)


# Forward progress, with skips (a small fix is often « en cours » then « résolu » at once); rejection,
# duplicate and transfer from any open state; reopening a closed ticket is for managers.
TRANSITIONS: tuple[Transition, ...] = (
    *(
        _t(s, target)
        for s in (S.NOUVEAU, S.TRANSFERE)
        for target in (S.PRIS_EN_COMPTE, S.PROGRAMME, S.EN_COURS, S.RESOLU)
    ),
    _t(S.PRIS_EN_COMPTE, S.PROGRAMME),
    _t(S.PRIS_EN_COMPTE, S.EN_COURS),
    _t(S.PRIS_EN_COMPTE, S.RESOLU),
    _t(S.PROGRAMME, S.EN_COURS),
    _t(S.PROGRAMME, S.RESOLU),
    _t(S.EN_COURS, S.RESOLU),
    _t(S.EN_COURS, S.PROGRAMME),
    *(_t(s, S.REJETE, needs_reason=True) for s in sorted(OPEN_STATES)),
    *(_t(s, S.DOUBLON, needs_original=True) for s in sorted(OPEN_STATES)),
    *(_t(s, S.TRANSFERE, needs_reason=True, needs_service=True) for s in sorted(OPEN_STATES)),
    _t(S.RESOLU, S.EN_COURS, MANAGERS, needs_reason=True),
    _t(S.REJETE, S.PRIS_EN_COMPTE, MANAGERS, needs_reason=True),
)
_BY_PAIR = {(t.source, t.target): t for t in TRANSITIONS}


class TransitionError(Exception):
    """A refused transition; ``code`` is stable, ``message`` is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def is_open(state: str) -> bool:
    return state in OPEN_STATES


def is_closed(state: str) -> bool:
    return state in CLOSED_STATES


def allowed_transitions(state: str, roles: set[str]) -> list[Transition]:
    """The transitions someone with ``roles`` may make from ``state``."""
    return [t for t in TRANSITIONS if t.source == state and t.roles & roles]


def check_transition(
    *,
    source: str,
    target: str,
    roles: set[str],
    reason: str = "",
    has_original: bool = False,
    has_service: bool = False,
) -> Transition:
    """The transition from ``source`` to ``target`` if allowed, else :class:`TransitionError`."""
    labels = dict(TicketState.choices)
    if target not in labels:
        raise TransitionError("etat_inconnu", _("État inconnu : « %(state)s ».") % {"state": target})
    transition = _BY_PAIR.get((TicketState(source), TicketState(target)))
    if transition is None:
        raise TransitionError(
            "transition_interdite",
            _("Un ticket « %(source)s » ne peut pas passer à « %(target)s ».")
            % {"source": labels[source], "target": labels[target]},
        )
    if not transition.roles & roles:
        raise TransitionError(
            "role_insuffisant",
            _("Votre rôle ne permet pas de passer un ticket de « %(source)s » à « %(target)s ».")
            % {"source": labels[source], "target": labels[target]},
        )
    if transition.needs_reason and not reason.strip():
        raise TransitionError(
            "motif_requis",
            _("Un motif est obligatoire pour passer à « %(target)s ».") % {"target": labels[target]},
        )
    if transition.needs_original and not has_original:
        raise TransitionError(
            "original_requis", _("Indiquez le signalement original dont celui-ci est le doublon.")
        )
    if transition.needs_service and not has_service:
        raise TransitionError("service_requis", _("Indiquez le service auquel transférer le ticket."))
    return transition
