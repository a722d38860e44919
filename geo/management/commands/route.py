"""Route one point, or every row of a CSV file, and print the decisions.

Administrators use the batch form to replay last year's reports against new zones before they
go live. Exit status: 0 routed, 3 not covered, 4 no competent service, 2 bad input.
"""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from geo.errors import GeoError, NoServiceForCategory, NotCovered, UnknownCategory
from geo.models import Category
from geo.routing import Decision, route
from geo.srid import InvalidGeometry, point_from_lonlat

EXIT_NOT_COVERED = 3
EXIT_NO_SERVICE = 4
EXIT_BAD_INPUT = 2


class Command(BaseCommand):
    help = _("Indique quel service reçoit un signalement à un endroit donné, et pourquoi.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--lon", type=float, help=_("longitude WGS84"))
        parser.add_argument("--lat", type=float, help=_("latitude WGS84"))
        parser.add_argument("--category", help=_("code de la catégorie"))
        parser.add_argument(
            "--input", help=_("fichier CSV (colonnes lon,lat,category) à router ligne par ligne")
        )
        parser.add_argument(
            "--output", help=_("fichier où écrire les décisions (JSON Lines) ; sortie standard sinon")
        )
        parser.add_argument(
            "--date", type=date.fromisoformat, help=_("jour de validité des zones (AAAA-MM-JJ)")
        )
        parser.add_argument("--json", action="store_true", help=_("décision en JSON"))

    def handle(self, *args: Any, **options: Any) -> None:
        if options["input"]:
            self._batch(Path(options["input"]), options["output"], options["date"])
            return
        if options["lon"] is None or options["lat"] is None or not options["category"]:
            raise CommandError(
                _("Indiquez --lon, --lat et --category, ou --input FICHIER.csv."), returncode=2
            )
        try:
            decision = route(
                point_from_lonlat(options["lon"], options["lat"]), options["category"], on=options["date"]
            )
        except NotCovered as exc:
            raise CommandError(exc.message, returncode=EXIT_NOT_COVERED) from exc
        except NoServiceForCategory as exc:
            raise CommandError(exc.message, returncode=EXIT_NO_SERVICE) from exc
        except (UnknownCategory, InvalidGeometry) as exc:
            raise CommandError(str(exc), returncode=EXIT_BAD_INPUT) from exc
        if options["json"]:
            self.stdout.write(json.dumps(decision.as_dict(), ensure_ascii=False, indent=2))
        else:
            self._print(decision)

    def _print(self, d: Decision) -> None:
        self.stdout.write(self.style.SUCCESS(_("Service : %(service)s") % {"service": d.service_name}))
        self.stdout.write(_("Règle : %(rule)s (%(name)s)") % {"rule": d.rule.label, "name": d.matched.name})
        self.stdout.write(d.explanation)
        if d.ambiguous:
            self.stdout.write(self.style.WARNING(_("Décision ambiguë ; autres services possibles :")))
            for alt in d.alternatives:
                self.stdout.write(f"  - {alt.service_name} : {alt.reason}")
        if d.losers:
            self.stdout.write(_("Règles écartées :"))
            for loser in d.losers:
                self.stdout.write(f"  - {loser.service_name} ({loser.name}) : {loser.reason}")

    def _batch(self, path: Path, output: str | None, day: date | None) -> None:
        try:
            handle = path.open(newline="", encoding="utf-8-sig")
        except OSError as exc:
            raise CommandError(
                _("Impossible de lire %(path)s : %(error)s") % {"path": path, "error": exc}
            ) from exc
        out = open(output, "w", encoding="utf-8") if output else self.stdout  # noqa: SIM115 - closed below
        categories = {c.code: c for c in Category.objects.filter(is_active=True).select_related("parent")}
        services: Counter[str] = Counter()
        errors: Counter[str] = Counter()
        ambiguous = rows = 0
        try:
            with handle:
                reader = csv.DictReader(handle)
                missing = {"lon", "lat", "category"} - set(reader.fieldnames or [])
                if missing:
                    raise CommandError(
                        _("Colonnes manquantes dans %(path)s : %(cols)s (attendu : lon,lat,category).")
                        % {"path": path, "cols": ", ".join(sorted(missing))},
                        returncode=EXIT_BAD_INPUT,
                    )
                for line_no, row in enumerate(reader, start=2):
                    rows += 1
                    record: dict[str, Any] = {"line": line_no, "input": row}
                    try:
                        category = categories.get(row["category"])
                        if category is None:
                            raise UnknownCategory(row["category"])
                        decision = route(point_from_lonlat(row["lon"], row["lat"]), category, on=day)
                    except (GeoError, InvalidGeometry) as exc:
                        code = getattr(exc, "code", "geometrie_invalide")
                        errors[code] += 1
                        record.update(error=code, message=getattr(exc, "message", str(exc)))
                    else:
                        services[decision.service_name] += 1
                        ambiguous += decision.ambiguous
                        record["decision"] = decision.as_dict()
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
        finally:
            if output:
                out.close()
        summary = [
            _("%(rows)d lignes, %(ok)d routées, %(amb)d ambiguës.")
            % {"rows": rows, "ok": sum(services.values()), "amb": ambiguous}
        ]
        summary += [f"  {name} : {count}" for name, count in services.most_common()]
        summary += [f"  {_('erreur')} {code} : {count}" for code, count in errors.most_common()]
        self.stderr.write("\n".join(summary))
        sys.stderr.flush()
