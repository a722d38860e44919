"""Forms of the pages: they parse what a browser sends; the services decide what is acceptable.

Shapes only (types, lengths, choices). Whether a report is complete, where it goes, which ticket
state may follow which: ``signalements.services`` says so and its errors are shown on these forms.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from signalements.models import DESCRIPTION_MAX_LENGTH, Ticket, TicketState
from web import selectors


def _decimal(raw: str) -> float | None:
    """« 48,8566 » as well as « 48.8566 » (a French keyboard types a comma)."""
    text = (raw or "").strip().replace(",", ".").replace(" ", "")
    if not text:
        return None
    return float(text)


class ReportForm(forms.Form):
    """The filing form. The position comes from the map, typed coordinates, a place or an address."""

    category = forms.CharField(max_length=64, required=False)
    lon = forms.CharField(max_length=32, required=False)
    lat = forms.CharField(max_length=32, required=False)
    place = forms.CharField(max_length=40, required=False)
    address = forms.CharField(max_length=300, required=False)
    description = forms.CharField(max_length=DESCRIPTION_MAX_LENGTH, required=False)
    email = forms.CharField(max_length=254, required=False)
    consent = forms.BooleanField(required=False)
    idempotency_key = forms.CharField(max_length=128, required=False)
    confirm_position = forms.BooleanField(required=False)
    duplicates_seen = forms.BooleanField(required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            lon, lat = _decimal(data.get("lon", "")), _decimal(data.get("lat", ""))
        except ValueError:
            self.add_error("lat", _("Coordonnées illisibles : des nombres sont attendus (48,8566)."))
            return data
        if (lon is None) != (lat is None):
            self.add_error("lat", _("Indiquez à la fois la latitude et la longitude."))
        data["lon_value"], data["lat_value"] = lon, lat
        return data


class SupportForm(forms.Form):
    email = forms.CharField(max_length=254, required=False)


class QueueFilterForm(forms.Form):
    """Filters of the staff queue (GET). Empty state: the open tickets."""

    state = forms.ChoiceField(required=False, label=_("État"))
    category = forms.ChoiceField(required=False, label=_("Catégorie"))
    overdue = forms.BooleanField(required=False, label=_("En retard seulement"))
    mine = forms.BooleanField(required=False, label=_("Qui me sont attribués"))
    page = forms.IntegerField(required=False, min_value=1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["state"]).choices = [
            ("", _("Ouverts (tous)")),
            ("clos", _("Clos (tous)")),
            *TicketState.choices,
        ]
        cast(forms.ChoiceField, self.fields["category"]).choices = [("", _("Toutes"))] + [
            (c.code, str(c)) for c in selectors.filter_categories()
        ]


class TransitionForm(forms.Form):
    state = forms.ChoiceField(choices=TicketState.choices)
    public_message = forms.CharField(max_length=4000, required=False)
    internal_note = forms.CharField(max_length=4000, required=False)
    template = forms.IntegerField(required=False)
    original = forms.CharField(max_length=32, required=False)
    service = forms.IntegerField(required=False)


class MessageForm(forms.Form):
    message = forms.CharField(max_length=4000, required=False)
    template = forms.IntegerField(required=False)


class NoteForm(forms.Form):
    note = forms.CharField(max_length=4000, required=False)


class AssignForm(forms.Form):
    assignee = forms.IntegerField(required=False)


class PriorityForm(forms.Form):
    priority = forms.TypedChoiceField(choices=Ticket.Priority.choices, coerce=int)


class LoginForm(AuthenticationForm):
    """Django's sign-in form, with the browser hints phones need."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update(
            {"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"}
        )
        self.fields["password"].widget.attrs.update({"autocomplete": "current-password"})
