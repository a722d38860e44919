"""What the three import commands share: the file options and turning refusals into CommandError."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from geo.importers import ImportFileError


def split_codes(value: str | None) -> list[str] | None:
    """``"a,b"`` → ``["a", "b"]``; the option left out → ``None``."""
    if value is None:
        return None
    return [code.strip() for code in value.split(",") if code.strip()]


class ImportCommand(BaseCommand):
    """A command that reads one GIS file; subclasses add their fields and call :meth:`run`."""

    # Options every import takes, passed through to the service under the same names.
    FILE_OPTIONS = ("layer", "source_srid", "dry_run")

    def add_file_arguments(self, parser: CommandParser, *, keyed: bool, replace_help: str = "") -> None:
        parser.add_argument("path", help=_("Fichier à importer."))
        parser.add_argument("--layer", help=_("Couche à lire dans le fichier."))
        parser.add_argument("--source-srid", type=int, help=_("SRID des coordonnées du fichier (ex. 2154)."))
        parser.add_argument("--dry-run", action="store_true", help=_("Tout vérifier sans rien enregistrer."))
        if keyed:
            parser.add_argument("--organisation", help=_("Organisation des services."))
            parser.add_argument(
                "--id-field", help=_("Champ d'identifiant stable (défaut : numéro d'entité du fichier).")
            )
            parser.add_argument("--replace", action="store_true", help=replace_help)

    def run(self, service: Callable[..., Any], options: dict[str, Any], **fields: Any) -> None:
        passed = {name: options[name] for name in self.FILE_OPTIONS}
        for name in ("organisation", "id_field", "replace"):
            if name in options and name not in fields:
                passed[name] = options[name]
        try:
            report = service(path=options["path"], **passed, **fields)
        except ImportFileError as exc:
            raise CommandError(str(exc)) from exc
        for line in report.lines():
            self.stdout.write(line)
