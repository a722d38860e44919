"""``manage.py import_territory``: a thin wrapper over :func:`geo.services.territory_import`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django.utils.translation import gettext as _

from geo.management.commands._import import ImportCommand
from geo.models import Organisation
from geo.services import territory_import


class Command(ImportCommand):
    help = _("Crée ou met à jour un territoire à partir de l'union des polygones d'un fichier SIG.")

    def add_arguments(self, parser: CommandParser) -> None:
        self.add_file_arguments(parser, keyed=False)
        parser.add_argument("--name", required=True, help=_("Nom du territoire."))
        parser.add_argument("--slug", required=True, help=_("Identifiant du territoire (jurisdiction_id)."))
        parser.add_argument("--organisation", required=True, help=_("Organisation (créée au besoin)."))
        parser.add_argument(
            "--organisation-kind",
            default=Organisation.Kind.COMMUNE.value,
            choices=Organisation.Kind.values,
            help=_("Type de l'organisation si elle est créée."),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.run(
            territory_import,
            options,
            name=options["name"],
            slug=options["slug"],
            organisation=options["organisation"],
            organisation_kind=options["organisation_kind"],
        )
