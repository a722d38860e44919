"""The workflow table: every allowed transition, every refusal, and who may do what."""

import itertools

import pytest

from geo.models import Membership
from signalements.models import TicketState as S
from signalements.workflow import (
    CLOSED_STATES,
    OPEN_STATES,
    TRANSITIONS,
    TransitionError,
    allowed_transitions,
    check_transition,
)

AGENT = {Membership.Role.AGENT}
MANAGER = {Membership.Role.SERVICE_MANAGER}
PLANNER = {Membership.Role.PLANNER}


def needs(t):
    return {
        "reason": "motif" if t.needs_reason else "",
        "has_original": t.needs_original,
        "has_service": t.needs_service,
    }


@pytest.mark.parametrize("transition", TRANSITIONS, ids=lambda t: f"{t.source}->{t.target}")
def test_every_listed_transition_is_allowed_for_its_roles(transition):
    roles = set(transition.roles)
    assert (
        check_transition(source=transition.source, target=transition.target, roles=roles, **needs(transition))
        == transition
    )


ALL_PAIRS = [(a, b) for a in S.values for b in S.values]
ALLOWED = {(t.source, t.target) for t in TRANSITIONS}


@pytest.mark.parametrize(("source", "target"), [p for p in ALL_PAIRS if p not in ALLOWED])
def test_every_other_pair_is_refused(source, target):
    with pytest.raises(TransitionError) as err:
        check_transition(
            source=source,
            target=target,
            roles=MANAGER | {Membership.Role.ADMINISTRATOR},
            reason="x",
            has_original=True,
            has_service=True,
        )
    assert err.value.code == "transition_interdite"
    assert "ne peut pas passer" in err.value.message


def test_the_happy_path_exists():
    path = [S.NOUVEAU, S.PRIS_EN_COMPTE, S.PROGRAMME, S.EN_COURS, S.RESOLU]
    for source, target in itertools.pairwise(path):
        check_transition(source=source, target=target, roles=AGENT)


def test_rejection_needs_a_reason():
    with pytest.raises(TransitionError) as err:
        check_transition(source=S.NOUVEAU, target=S.REJETE, roles=AGENT, reason="  ")
    assert err.value.code == "motif_requis"
    check_transition(source=S.NOUVEAU, target=S.REJETE, roles=AGENT, reason="Domaine privé")


def test_duplicate_needs_the_original_and_transfer_needs_a_service_and_a_reason():
    with pytest.raises(TransitionError) as err:
        check_transition(source=S.EN_COURS, target=S.DOUBLON, roles=AGENT)
    assert err.value.code == "original_requis"
    with pytest.raises(TransitionError) as err:
        check_transition(source=S.NOUVEAU, target=S.TRANSFERE, roles=AGENT, reason="pas chez nous")
    assert err.value.code == "service_requis"
    with pytest.raises(TransitionError) as err:
        check_transition(source=S.NOUVEAU, target=S.TRANSFERE, roles=AGENT, has_service=True)
    assert err.value.code == "motif_requis"


def test_reopening_is_for_managers_only():
    with pytest.raises(TransitionError) as err:
        check_transition(source=S.RESOLU, target=S.EN_COURS, roles=AGENT, reason="revenu")
    assert err.value.code == "role_insuffisant"
    check_transition(source=S.RESOLU, target=S.EN_COURS, roles=MANAGER, reason="revenu")


def test_a_planner_cannot_work_tickets():
    assert allowed_transitions(S.NOUVEAU, PLANNER) == []
    with pytest.raises(TransitionError) as err:
        check_transition(source=S.NOUVEAU, target=S.PRIS_EN_COMPTE, roles=PLANNER)
    assert err.value.code == "role_insuffisant"


def test_a_transferred_ticket_is_open_and_can_be_taken_by_its_new_service():
    assert S.TRANSFERE in OPEN_STATES
    targets = {t.target for t in allowed_transitions(S.TRANSFERE, AGENT)}
    assert {S.PRIS_EN_COMPTE, S.RESOLU, S.REJETE, S.TRANSFERE} <= targets


def test_closed_states_have_no_exit_for_agents():
    for state in CLOSED_STATES:
        assert allowed_transitions(state, AGENT) == []


def test_unknown_state_is_refused():
    with pytest.raises(TransitionError) as err:
        check_transition(source=S.NOUVEAU, target="ferme", roles=AGENT)
    assert err.value.code == "etat_inconnu"
