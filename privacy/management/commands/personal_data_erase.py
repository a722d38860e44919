"""Erase what is tied to an address (a request received by post or at the counter)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from privacy.subject import subject_erase, subject_export, subject_summary


class Command(BaseCommand):
    help = "Efface ou anonymise les données personnelles liées à une adresse e-mail (droit à l'effacement)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--yes", action="store_true", help="Ne pas demander de confirmation.")

    def handle(self, *args: Any, **options: Any) -> None:
        email = options["email"].strip()
        try:
            validate_email(email)
        except ValidationError as exc:
            raise CommandError("Adresse e-mail invalide.") from exc
        summary = subject_summary(subject_export(email))
        self.stdout.write(", ".join(f"{k}: {v}" for k, v in summary.items()))
        if not options["yes"]:
            answer = input("Effacer définitivement ? [oui/non] ").strip().lower()
            if answer not in {"oui", "o", "yes", "y"}:
                raise CommandError("Rien n'a été effacé.")
        counts = subject_erase(email)
        for name, count in counts.items():
            self.stdout.write(f"{name}: {count}")
