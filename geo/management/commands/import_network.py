"""``manage.py import_network``: a thin wrapper over :func:`geo.services.network_import`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from geo.importers import ImportFileError
from geo.management.commands.import_zones import split_codes
from geo.services import network_import


class Command(BaseCommand):
    help = _("Importe des tronçons (lignes) dans une couche réseau depuis un fichier SIG.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help=_("Fichier à importer."))
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
        parser.add_argument("--organisation", help=_("Organisation des services."))
        parser.add_argument("--layer", help=_("Couche à lire dans le fichier."))
        parser.add_argument("--source-srid", type=int, help=_("SRID des coordonnées du fichier (ex. 2154)."))
        parser.add_argument(
            "--id-field", help=_("Champ d'identifiant stable (défaut : numéro d'entité du fichier).")
        )
        parser.add_argument("--dry-run", action="store_true", help=_("Tout vérifier sans rien enregistrer."))
        parser.add_argument(
            "--replace",
            action="store_true",
            help=_("Supprimer les tronçons de cette source absents du fichier."),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = network_import(
                path=options["path"],
                layer_name=options["layer_name"],
                service_field=options["service_field"],
                name_field=options["name_field"],
                tolerance_field=options["tolerance_field"],
                tolerance=options["tolerance"],
                categories=split_codes(options["categories"]),
                organisation=options["organisation"],
                layer=options["layer"],
                source_srid=options["source_srid"],
                id_field=options["id_field"],
                dry_run=options["dry_run"],
                replace=options["replace"],
            )
        except ImportFileError as exc:
            raise CommandError(str(exc)) from exc
        for line in report.lines():
            self.stdout.write(line)
