"""Print everything tied to an address as JSON (a request received by post or at the counter)."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from privacy.subject import subject_export


class Command(BaseCommand):
    help = "Exporte en JSON les données personnelles liées à une adresse e-mail (droit d'accès)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--email", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        email = options["email"].strip()
        try:
            validate_email(email)
        except ValidationError as exc:
            raise CommandError("Adresse e-mail invalide.") from exc
        self.stdout.write(json.dumps(subject_export(email), ensure_ascii=False, indent=2))
