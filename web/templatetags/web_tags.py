"""Template helpers of the pages: icons from the SVG sprite, state badges, the scripts' strings."""

from __future__ import annotations

from typing import Any

from django import template
from django.templatetags.static import static
from django.utils.html import format_html, json_script
from django.utils.safestring import SafeString

from web.strings import js_strings

register = template.Library()

# Symbols of static/web/img/icons.svg; a category whose icon is not drawn gets « dot ».
ICONS = frozenset(
    {
        "road", "sidewalk", "pothole", "sign", "bench", "lightbulb", "streetlight", "traffic-light",
        "broom", "trash", "spray", "bin", "tree", "playground", "dot", "locate", "camera", "map", "list",
        "alert", "projects", "check", "cross", "clock", "route", "user", "pin", "search", "plus",
        "state-nouveau", "state-pris_en_compte", "state-programme", "state-en_cours", "state-resolu",
        "state-rejete", "state-doublon", "state-transfere",
    }
)  # fmt: skip

# Where the summary of a form's errors links to, for each error key of the filing form.
ERROR_ANCHORS = {
    "where": "where",
    "category": "what",
    "description": "description",
    "photos": "photos",
    "email": "email",
    "lat": "lat",
    "lon": "lon",
    "place": "place",
    "address": "address",
    "form": "report-form",
}


@register.simple_tag
def icon(name: str | None, extra_class: str = "") -> SafeString:
    """A decorative icon: hidden from assistive technologies (the text next to it says it all)."""
    symbol = name if name in ICONS else "dot"
    return format_html(
        '<svg class="icon {}" aria-hidden="true" focusable="false"><use href="{}#{}"></use></svg>',
        extra_class,
        static("web/img/icons.svg"),
        symbol,
    )


@register.inclusion_tag("web/_state.html")
def state_badge(state: str, label: Any) -> dict[str, Any]:
    """A ticket state as text with a shape: never conveyed by colour alone."""
    return {"state": state, "label": label}


@register.filter
def error_anchor(field: str) -> str:
    return ERROR_ANCHORS.get(field, "report-form")


@register.filter
def get_item(mapping: Any, key: str) -> Any:
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.simple_tag
def js_i18n() -> SafeString:
    """The scripts' translated strings, as a JSON data block (not executed, so CSP-safe)."""
    strings = {
        key: [str(form) for form in value] if isinstance(value, tuple) else str(value)
        for key, value in js_strings().items()
    }
    return json_script(strings, "i18n")


@register.simple_tag
def can_see_dashboard(user: Any) -> bool:
    """Whether ``user`` may open the organisation dashboard (a manager or administrator; one query)."""
    from web.dashboard import DASHBOARD_ROLES

    if not getattr(user, "is_authenticated", False):
        return False
    return bool(user.is_superuser or user.memberships.filter(role__in=DASHBOARD_ROLES).exists())
