"""Check every served image for metadata (EXIF, XMP, IPTC...); exit status 1 if any carries some."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from privacy.images import served_images_audit


class Command(BaseCommand):
    help = "Vérifie qu'aucune image servie ne contient de métadonnées (position GPS, appareil…)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--since-days", type=int, default=None, help="Seulement les images récentes.")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["since_days"]
        since = timezone.now() - timedelta(days=days) if days else None
        checked, findings = served_images_audit(since=since)
        for f in findings:
            self.stdout.write(f"{f.problem}: {f.model} #{f.pk} {f.field} ({f.name})")
        self.stdout.write(f"{checked} image(s) vérifiée(s), {len(findings)} problème(s).")
        if any(f.problem == "metadata" for f in findings):
            raise CommandError("Des images servies contiennent des métadonnées.")
