"""``manage.py import_territory``: a thin wrapper over :func:`geo.services.territory_import`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from geo.importers import ImportFileError
from geo.models import Organisation
from geo.services import territory_import


class Command(BaseCommand):
    help = _("Crée ou met à jour un territoire à partir de l'union des polygones d'un fichier SIG.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help=_("Fichier à importer."))
        parser.add_argument("--name", required=True, help=_("Nom du territoire."))
        parser.add_argument("--slug", required=True, help=_("Identifiant du territoire (jurisdiction_id)."))
        parser.add_argument("--organisation", required=True, help=_("Organisation (créée au besoin)."))
        parser.add_argument(
            "--organisation-kind",
            default=Organisation.Kind.COMMUNE.value,
            choices=Organisation.Kind.values,
            help=_("Type de l'organisation si elle est créée."),
        )
        parser.add_argument("--layer", help=_("Couche à lire dans le fichier."))
        parser.add_argument("--source-srid", type=int, help=_("SRID des coordonnées du fichier (ex. 2154)."))
        parser.add_argument("--dry-run", action="store_true", help=_("Tout vérifier sans rien enregistrer."))

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = territory_import(
                path=options["path"],
                name=options["name"],
                slug=options["slug"],
                organisation=options["organisation"],
                organisation_kind=options["organisation_kind"],
                layer=options["layer"],
                source_srid=options["source_srid"],
                dry_run=options["dry_run"],
            )
        except ImportFileError as exc:
            raise CommandError(str(exc)) from exc
        for line in report.lines():
            self.stdout.write(line)
