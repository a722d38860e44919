"""Apply the retention periods now (the nightly ``privacy.retention`` task does the same)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from privacy.retention import STEP_NAMES, apply_retention


class Command(BaseCommand):
    help = "Efface ou anonymise les données personnelles dont la durée de conservation est passée."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Compter sans rien modifier.")
        parser.add_argument(
            "--only", action="append", choices=STEP_NAMES, help="Une étape seulement (répétable)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        only = set(options["only"]) if options["only"] else None
        try:
            results = apply_retention(dry_run=options["dry_run"], only=only)
        except Exception as exc:  # pragma: no cover - surfaced to the operator as is
            raise CommandError(str(exc)) from exc
        verb = "à traiter" if options["dry_run"] else "traités"
        for name, count in results.items():
            shown = "désactivé" if count is None else f"{count} {verb}"
            self.stdout.write(f"{name}: {shown}")
