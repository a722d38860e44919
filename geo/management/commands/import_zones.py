"""``manage.py import_zones``: a thin wrapper over :func:`geo.services.zones_import`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from geo.importers import ImportFileError
from geo.services import zones_import


def split_codes(value: str | None) -> list[str] | None:
    """``"a,b"`` → ``["a", "b"]``; the option left out → ``None``."""
    if value is None:
        return None
    return [code.strip() for code in value.split(",") if code.strip()]


class Command(BaseCommand):
    help = _(
        "Importe des zones de compétence depuis un fichier SIG (GeoJSON, Shapefile .shp ou .zip, GeoPackage)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help=_("Fichier à importer."))
        parser.add_argument("--name-field", required=True, help=_("Champ du nom de la zone."))
        parser.add_argument("--service-field", required=True, help=_("Champ du nom du service compétent."))
        parser.add_argument("--priority-field", help=_("Champ de priorité (nombre entier)."))
        parser.add_argument("--priority", type=int, help=_("Priorité constante (0 par défaut)."))
        parser.add_argument(
            "--categories", help=_("Codes de catégories séparés par des virgules (défaut : toutes).")
        )
        parser.add_argument("--territory", help=_("Territoire (identifiant ou nom)."))
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
            help=_("Supprimer les zones de cette source absentes du fichier."),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = zones_import(
                path=options["path"],
                name_field=options["name_field"],
                service_field=options["service_field"],
                priority_field=options["priority_field"],
                priority=options["priority"],
                categories=split_codes(options["categories"]),
                territory=options["territory"],
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
