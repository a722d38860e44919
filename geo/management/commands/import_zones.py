"""``manage.py import_zones``: a thin wrapper over :func:`geo.services.zones_import`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django.utils.translation import gettext as _

from geo.management.commands._import import ImportCommand, split_codes
from geo.services import zones_import


class Command(ImportCommand):
    help = _(
        "Importe des zones de compétence depuis un fichier SIG (GeoJSON, Shapefile .shp ou .zip, GeoPackage)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        self.add_file_arguments(
            parser, keyed=True, replace_help=_("Supprimer les zones de cette source absentes du fichier.")
        )
        parser.add_argument("--name-field", required=True, help=_("Champ du nom de la zone."))
        parser.add_argument("--service-field", required=True, help=_("Champ du nom du service compétent."))
        parser.add_argument("--priority-field", help=_("Champ de priorité (nombre entier)."))
        parser.add_argument("--priority", type=int, help=_("Priorité constante (0 par défaut)."))
        parser.add_argument(
            "--categories", help=_("Codes de catégories séparés par des virgules (défaut : toutes).")
        )
        parser.add_argument("--territory", help=_("Territoire (identifiant ou nom)."))

    def handle(self, *args: Any, **options: Any) -> None:
        self.run(
            zones_import,
            options,
            name_field=options["name_field"],
            service_field=options["service_field"],
            priority_field=options["priority_field"],
            priority=options["priority"],
            categories=split_codes(options["categories"]),
            territory=options["territory"],
        )
