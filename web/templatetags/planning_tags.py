"""Template helpers of the planners' back office: whether the navigation offers « Mes projets »."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.simple_tag
def is_project_team(user: Any) -> bool:
    """Signed in with a role on some project's organisation (planner, moderator, administrator).

    One small query per page for signed-in users; the back office checks every page again.
    """
    from web.views.planning import is_team_member  # the pages' one rule, kept beside the views

    return is_team_member(user)
