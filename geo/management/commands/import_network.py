"""``manage.py import_network``: a thin wrapper over :func:`geo.services.network_import`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django.utils.translation import gettext as _

from geo.management.commands._import import ImportCommand, split_codes
from geo.services import network_import


class Command(ImportCommand):
    help = _(
        "Importe une couche de tronçons (routes...) et leurs services gestionnaires depuis un fichier SIG."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        self.add_file_arguments(
            parser, keyed=True, replace_help=_("Supprimer les tronçons de cette source absents du fichier.")
        )
        parser.add_argument(
            "--layer-name", required=True, help=_("Nom de la couche réseau (créée au besoin).")
        )
        parser.add_argument("--service-field", required=True, help=_("Champ du nom du service gestionnaire."))
        parser.add_argument("--name-field", help=_("Champ du nom du tronçon."))
        parser.add_argument("--tolerance-field", help=_("Champ de tolérance par tronçon (mètres)."))
        parser.add_argument("--tolerance", type=float, help=_("Tolérance par défaut de la couche (mètres)."))
        parser.add_argument(
            "--categories", help=_("Codes des catégories de la couche, séparés par des virgules.")
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.run(
            network_import,
            options,
            layer_name=options["layer_name"],
            service_field=options["service_field"],
            name_field=options["name_field"],
            tolerance_field=options["tolerance_field"],
            tolerance=options["tolerance"],
            categories=split_codes(options["categories"]),
        )
