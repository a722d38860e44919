"""``manage.py load_demo_concertation``: Rennes, three ZAC projects and invented concertations (idempotent)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from urbanisme.demo import MODERATOR, PLANNER, concertation_demo_load


class Command(BaseCommand):
    help = _("Charge la démonstration de concertation (Rennes, trois ZAC) ; sans effet si elle existe.")

    def handle(self, *args: Any, **options: Any) -> None:
        counts = concertation_demo_load()
        self.stdout.write(
            _(
                "Concertation de démonstration : %(projects)d projets et %(contributions)d contributions créés."
            )
            % counts
        )
        if settings.DEBUG:
            self.stdout.write(
                _(
                    "Comptes : « %(planner)s » (urbaniste) et « %(moderator)s » (modération), mot de passe « %(pwd)s »."
                )
                % {"planner": PLANNER, "moderator": MODERATOR, "pwd": settings.DEMO_PASSWORD}
            )
