from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    """Personal data (RGPD): retention, the citizen's rights of access and erasure, staff access log.

    Stands above ``geo``, ``signalements`` and ``urbanisme`` (like ``opendata``): it reads and
    erases their personal-data tables directly; nothing imports it.
    """

    default_auto_field = "django.db.models.BigAutoField"
    name = "privacy"
    verbose_name = _("Données personnelles")

    def ready(self) -> None:
        # The sign-in lockout counts failures from auth signals (config/lockout.py); importing it
        # connects its receivers even before the authentication backend is first loaded.
        from config import lockout  # noqa: F401
