"""The two small forms of « Mes données »: the address to prove, and the confirmation of erasure."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class RequestForm(forms.Form):
    email = forms.EmailField(
        label=_("Votre adresse e-mail"),
        max_length=254,
        error_messages={
            "required": _("Indiquez l'adresse e-mail que vous avez donnée."),
            "invalid": _("Adresse e-mail invalide."),
        },
    )


class EraseForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("Je confirme vouloir effacer mes données personnelles. Cette action est définitive."),
        error_messages={"required": _("Cochez la case pour confirmer l'effacement.")},
    )
