"""``manage.py import_planning_layer``: a thin wrapper over the planning layer services.

A GeoTIFF (recognised by its first bytes) becomes a raster layer converted by the worker; any
other file goes through ``urbanisme.layers.vector_layer_import``. Run as the project's team would:
no user, so the permission check is the one of a superuser (``--user`` names someone else).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from urbanisme import layers, rasters
from urbanisme.errors import UrbanismeError
from urbanisme.models import LayerKind, Project


class _Superuser:
    """The operator at the console: every right, no account (``created_by`` stays empty)."""

    is_authenticated = False
    is_active = True
    is_superuser = True


class Command(BaseCommand):
    help = _("Importe une couche d'un projet : GeoJSON, Shapefile (.shp ou .zip), GeoPackage ou GeoTIFF.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project", help=_("Identifiant public (slug) du projet."))
        parser.add_argument("path", help=_("Fichier à importer."))
        parser.add_argument("--name", help=_("Nom de la couche (obligatoire sauf avec --replace)."))
        parser.add_argument("--layer", help=_("Couche à lire dans le fichier (GeoPackage)."))
        parser.add_argument("--source-srid", type=int, help=_("SRID des coordonnées du fichier (ex. 2154)."))
        parser.add_argument("--style-json", help=_('Style en JSON, par exemple {"color": "#2e7d32"}.'))
        parser.add_argument("--legend-json", help=_("Légende en JSON : liste de {label, color}."))
        parser.add_argument("--label-field", help=_("Champ affiché en étiquette."))
        parser.add_argument(
            "--replace", metavar="SLUG", help=_("Remplacer les objets de cette couche vecteur du projet.")
        )
        parser.add_argument("--user", help=_("Agir au nom de cet utilisateur (ses droits sont vérifiés)."))

    def handle(self, *args: Any, **options: Any) -> None:
        project = Project.objects.filter(slug=options["project"]).first()
        if project is None:
            raise CommandError(_("Projet inconnu : %(slug)s.") % {"slug": options["project"]})
        actor: Any = _Superuser()
        if options["user"]:
            actor = get_user_model().objects.filter(username=options["user"]).first()
            if actor is None:
                raise CommandError(_("Utilisateur inconnu : %(name)s.") % {"name": options["user"]})
        style = _json(options["style_json"], "--style-json")
        legend = _json(options["legend_json"], "--legend-json")
        path = Path(options["path"])
        try:
            if _is_tiff(path):
                layer = rasters.raster_upload(
                    project=project,
                    actor=actor,
                    upload=path,
                    name=options["name"] or "",
                    legend=legend,
                    style=style,
                )
                self.stdout.write(
                    _(
                        "Couche raster « %(name)s » (%(slug)s) enregistrée : %(crs)s ; conversion en COG confiée au worker."
                    )
                    % {"name": layer.name, "slug": layer.slug, "crs": layer.crs}
                )
                return
            replace = None
            if options["replace"]:
                replace = project.layers.filter(slug=options["replace"], kind=LayerKind.VECTOR).first()
                if replace is None:
                    raise CommandError(
                        _("Couche vecteur inconnue : %(slug)s.") % {"slug": options["replace"]}
                    )
            report = layers.vector_layer_import(
                project=project,
                actor=actor,
                path_or_upload=path,
                name=options["name"],
                style=style,
                legend=legend,
                layer=options["layer"],
                source_srid=options["source_srid"],
                label_field=options["label_field"],
                replace_layer=replace,
            )
        except UrbanismeError as exc:
            details = [m for messages in getattr(exc, "errors", {}).values() for m in messages] or [
                exc.message
            ]
            raise CommandError(" ".join(details)) from exc
        for line in report.lines():
            self.stdout.write(line)


def _json(value: str | None, option: str) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError as exc:
        raise CommandError(_("%(option)s : JSON illisible.") % {"option": option}) from exc


def _is_tiff(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
    except OSError:
        return False
