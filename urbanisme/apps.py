from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class UrbanismeConfig(AppConfig):
    name = "urbanisme"
    verbose_name = _("Urbanisme et concertation")
