"""Role checks on deactivated accounts, below authentication (which already drops them)."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from signalements.permissions import is_staff_user, visible_service_ids
from tests.signalements.world import *  # noqa: F403
from tests.signalements.world import World


def test_a_deactivated_agent_holds_no_role_even_if_code_hands_it_over(world: World):
    # given an agent with a membership, deactivated
    agent = world.agent_west
    assert is_staff_user(agent)
    assert {"pk": world.west.pk} in list(visible_service_ids(agent))
    agent.is_active = False
    agent.save(update_fields=["is_active"])
    # then, even as a user object passed around directly, it sees no ticket and is not staff
    assert not is_staff_user(agent)
    assert list(visible_service_ids(agent)) == []


def test_a_deactivated_superuser_sees_nothing(db):
    boss = get_user_model().objects.create_superuser("ancien-admin", "a@example.org", "un-long-mot-de-passe")
    assert visible_service_ids(boss) is None
    boss.is_active = False
    assert not is_staff_user(boss)
    assert list(visible_service_ids(boss)) == []
