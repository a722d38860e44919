"""Warm the tile cache now, e.g. right after a deploy (the ``tiles.warm`` beat task does the same)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from tiles.errors import TileError
from tiles.warm import warm


class Command(BaseCommand):
    help = (
        "Calcule dans le cache Redis des tuiles les tuiles des petits zooms qui couvrent les territoires "
        "(celles qui n'y sont pas déjà pour la version courante)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--zoom",
            type=int,
            action="append",
            help="Un niveau de zoom (répétable ; par défaut TILES_WARM_ZOOMS).",
        )
        parser.add_argument(
            "--layer",
            action="append",
            help="Une couche vectorielle (répétable ; par défaut TILES_WARM_LAYERS).",
        )
        parser.add_argument(
            "--max-tiles",
            type=int,
            default=None,
            help="Nombre maximal de tuiles calculées (par défaut TILES_WARM_MAX_TILES).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        for z in options["zoom"] or ():
            if not 0 <= z <= 22:
                raise CommandError(f"Niveau de zoom {z} hors limites : il doit être compris entre 0 et 22.")
        try:
            # No time budget here: an operator runs it on purpose, the cap still bounds it.
            report = warm(
                zooms=options["zoom"],
                layer_names=options["layer"],
                max_tiles=options["max_tiles"],
                seconds=float("inf"),
            )
        except TileError as exc:
            raise CommandError(str(exc.message)) from exc
        if not report.cache_enabled:
            raise CommandError(
                "Aucun cache de tuiles disponible (TILES_CACHE_URL absent ou Redis injoignable)."
            )
        for layer, counts in sorted(report.by_layer.items()):
            self.stdout.write(
                f"{layer} : {counts['rendered']} calculée(s), {counts['cached']} déjà en cache, "
                f"{counts['failed']} en échec, {counts['left']} laissée(s) pour plus tard"
            )
        self.stdout.write(
            f"{report.planned} tuile(s) : {report.rendered} calculée(s), {report.cached} déjà en cache, "
            f"{report.failed} en échec, {report.left} laissée(s) pour plus tard ({report.seconds:.2f} s)."
        )
