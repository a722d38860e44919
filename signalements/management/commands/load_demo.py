"""``manage.py load_demo``: the Paris demo territory, its staff accounts and the DansMaRue reports.

Idempotent: a second run files nothing and changes nothing. Lives in ``signalements`` because it
loads both layers (``geo`` must not know about reports).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import gettext as _

from geo.demo import ORGANISATION, demo_load
from geo.models import Membership, Organisation
from signalements.demo import demo_agent_username, reports_demo_load


class Command(BaseCommand):
    help = _("Charge le territoire de démonstration (Paris) et les signalements DansMaRue (idempotent).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, help=_("nombre maximal de signalements à charger"))
        parser.add_argument("--no-reports", action="store_true", help=_("le territoire seulement"))

    def handle(self, *args: Any, **options: Any) -> None:
        created = demo_load()
        self.stdout.write(
            _("Territoire de démonstration : %(items)s.")
            % {"items": ", ".join(f"{k} +{v}" for k, v in created.items())}
        )
        self._admin()
        if options["no_reports"]:
            return
        counts = reports_demo_load(limit=options["limit"])
        self.stdout.write(
            _(
                "Signalements DansMaRue : %(created)d créés, %(unchanged)d déjà présents, %(merged)d fusionnés en doublons."
            )
            % counts
        )
        if settings.DEBUG:
            from geo.models import Service

            example = demo_agent_username(Service.objects.order_by("name").first())
            self.stdout.write(
                _(
                    "Comptes de démonstration : « admin » et un agent par service (ex. « %(agent)s »), mot de passe « %(pwd)s »."
                )
                % {"agent": example, "pwd": settings.DEMO_PASSWORD}
            )

    def _admin(self) -> None:
        if not settings.DEBUG:
            self.stdout.write(_("DEBUG désactivé : aucun compte de démonstration n'est créé."))
            return
        users = get_user_model().objects
        if not users.filter(username="admin").exists():
            users.create_superuser("admin", "admin@example.org", settings.DEMO_PASSWORD)
        admin = users.get(username="admin")
        Membership.objects.get_or_create(
            user=admin,
            organisation=Organisation.objects.get(name=ORGANISATION),
            service=None,
            role=Membership.Role.ADMINISTRATOR,
        )
