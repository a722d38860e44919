from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OpendataConfig(AppConfig):
    """Open data: OGC API – Features and anonymised exports. Stands on ``geo`` and ``signalements``;
    nothing imports it."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "opendata"
    verbose_name = _("Données ouvertes")
