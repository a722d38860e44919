"""Lists coverage gaps and equal-priority overlaps, so an administrator sees them before going live."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from geo.coverage import DEFAULT_MIN_AREA_M2, categories_to_check, coverage_gaps, coverage_overlaps
from geo.models import Territory


def _n(value: float, decimals: int = 1) -> str:
    return number_format(value, decimal_pos=decimals, use_l10n=True)


class Command(BaseCommand):
    help = _("Liste les lacunes (lieux sans service compétent) et les chevauchements de même priorité.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--category", help=_("code d'une catégorie (toutes par défaut)"))
        parser.add_argument("--territory", help=_("identifiant (slug) d'un territoire (tous par défaut)"))
        parser.add_argument(
            "--date", type=date.fromisoformat, help=_("jour de validité des zones (AAAA-MM-JJ)")
        )
        parser.add_argument(
            "--min-area", type=float, default=DEFAULT_MIN_AREA_M2, help=_("surface minimale signalée, en m²")
        )
        parser.add_argument("--json", action="store_true", help=_("résultat en JSON"))
        parser.add_argument(
            "--fail-on-gaps",
            action="store_true",
            help=_("code de sortie 1 s'il existe une lacune ou un chevauchement"),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        categories = categories_to_check(options["category"])
        if not categories:
            raise CommandError(_("Catégorie inconnue : « %(code)s ».") % {"code": options["category"]})
        territories = Territory.objects.all()
        if options["territory"]:
            territories = territories.filter(slug=options["territory"])
        if not territories:
            raise CommandError(_("Aucun territoire à vérifier."))
        day, min_area = options["date"], options["min_area"]
        gaps = [
            coverage_gaps(category=c, territory=t, on=day, min_area_m2=min_area)
            for t in territories
            for c in categories
        ]
        overlaps = [
            o for c in categories for o in coverage_overlaps(category=c, on=day, min_area_m2=min_area)
        ]
        if options["json"]:
            payload = {
                "gaps": [
                    {**asdict(g), "gap_area_m2": g.gap_area_m2, "gap_share": g.gap_share}
                    for g in gaps
                    if g.gap_parts
                ],
                "covered": [
                    {
                        "territory": g.territory,
                        "category": g.category_code,
                        "default_service": g.default_service,
                    }
                    for g in gaps
                    if not g.gap_parts
                ],
                "overlaps": [asdict(o) for o in overlaps],
            }
            self.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2))
        else:
            self._print(gaps, overlaps)
        if options["fail_on_gaps"] and (any(g.gap_parts for g in gaps) or overlaps):
            raise CommandError(_("Couverture incomplète."), returncode=1)

    def _print(self, gaps: list, overlaps: list) -> None:
        current = None
        for g in gaps:
            if g.territory != current:
                current = g.territory
                self.stdout.write(
                    self.style.MIGRATE_HEADING(
                        _("Territoire « %(name)s » (%(area)s km²)")
                        % {"name": g.territory, "area": _n(g.territory_area_m2 / 1e6)}
                    )
                )
            if g.default_service:
                self.stdout.write(
                    _("  %(cat)s : couvert partout (service par défaut « %(service)s »)")
                    % {"cat": g.category_name, "service": g.default_service}
                )
            elif not g.gap_parts:
                self.stdout.write(
                    self.style.SUCCESS(
                        _("  %(cat)s : couvert par les zones et le réseau") % {"cat": g.category_name}
                    )
                )
            else:
                self.stdout.write(
                    self.style.WARNING(
                        _("  %(cat)s : LACUNE de %(ha)s ha (%(share)s %% du territoire) en %(n)d partie(s)")
                        % {
                            "cat": g.category_name,
                            "ha": _n(g.gap_area_m2 / 10_000, 2),
                            "share": _n(g.gap_share * 100, 2),
                            "n": len(g.gap_parts),
                        }
                    )
                )
                for part in g.gap_parts[:5]:
                    self.stdout.write(
                        _("      %(ha)s ha, par exemple au point lon=%(lon).6f lat=%(lat).6f")
                        % {"ha": _n(part.area_m2 / 10_000, 2), "lon": part.lon, "lat": part.lat}
                    )
                if len(g.gap_parts) > 5:
                    self.stdout.write(_("      … et %(n)d autres parties") % {"n": len(g.gap_parts) - 5})
        if overlaps:
            self.stdout.write(
                self.style.MIGRATE_HEADING(_("Chevauchements de même priorité entre services différents"))
            )
            for o in overlaps:
                self.stdout.write(
                    self.style.WARNING(
                        _(
                            "  %(cat)s : « %(a)s » (%(sa)s) et « %(b)s » (%(sb)s), priorité %(p)d, %(ha)s ha "
                            "autour de lon=%(lon).6f lat=%(lat).6f — la plus petite zone l'emporte"
                        )
                        % {
                            "cat": o.category_code,
                            "a": o.zone_a[1],
                            "sa": o.zone_a[2],
                            "b": o.zone_b[1],
                            "sb": o.zone_b[2],
                            "p": o.priority,
                            "ha": _n(o.area_m2 / 10_000, 2),
                            "lon": o.lon,
                            "lat": o.lat,
                        }
                    )
                )
        else:
            self.stdout.write(
                self.style.SUCCESS(_("Aucun chevauchement de même priorité entre services différents."))
            )
