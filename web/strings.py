"""Strings the pages' scripts show, translated on the server (``{% js_i18n %}`` writes them as JSON).

The scripts hold no French text of their own: what they say comes from here, in the visitor's
language, with ``%(name)s`` placeholders filled in by ``static/web/js/i18n.js``.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy


def _plural(forms: tuple[Promise, Promise]) -> tuple[Promise, Promise]:
    """Both forms of a message about a count; the script picks one with ``Intl.PluralRules``."""
    return forms


def js_strings() -> dict[str, Promise | tuple[Promise, Promise]]:
    # ngettext_lazy(…, 1) and (…, 2): the singular and the plural form in the active language.
    return {
        "locating": _("Recherche de votre position…"),
        "located": _(
            "Position trouvée (précision : environ %(accuracy)s m). Vérifiez le repère et faites-le glisser si besoin."
        ),
        "locateFailed": _(
            "Position introuvable : placez le repère sur la carte, ou choisissez un lieu sans carte."
        ),
        "locateDenied": _(
            "La localisation est refusée par le navigateur : placez le repère sur la carte, ou choisissez un lieu sans carte."
        ),
        "pinPlaced": _("Repère placé : latitude %(lat)s, longitude %(lon)s."),
        "pinLabel": _("Emplacement du problème (flèches du clavier pour le déplacer)"),
        "photoHasPosition": _("Cette photo contient sa position (latitude %(lat)s, longitude %(lon)s)."),
        "photoPositionUsed": _("Position de la photo utilisée."),
        "checking": _("Recherche de signalements proches…"),
        "noDuplicates": _(
            "Aucun signalement ouvert de cette catégorie tout près. Service qui le recevra : %(service)s."
        ),
        "duplicatesFound": _plural(
            (
                ngettext_lazy(
                    "%(count)s signalement ouvert de la même catégorie tout près : est-ce le même problème ?",
                    "%(count)s signalements ouverts de la même catégorie tout près : est-ce le même problème ?",
                    1,
                ),
                ngettext_lazy(
                    "%(count)s signalement ouvert de la même catégorie tout près : est-ce le même problème ?",
                    "%(count)s signalements ouverts de la même catégorie tout près : est-ce le même problème ?",
                    2,
                ),
            )
        ),
        "distance": _("à %(distance)s m"),
        "supports": _plural(
            (
                ngettext_lazy("%(count)s soutien", "%(count)s soutiens", 1),
                ngettext_lazy("%(count)s soutien", "%(count)s soutiens", 2),
            )
        ),
        "supportFailed": _("Le soutien n'a pas pu être envoyé : réessayez."),
        "outside": _("Cet endroit est hors du territoire couvert : vérifiez la position."),
        "confirmPosition": _("Confirmez la position (case « La position est exacte ») avant d'envoyer."),
        "sending": _("Envoi en cours…"),
        "sendFailed": _(
            "L'envoi a échoué (connexion interrompue ou serveur indisponible). Rien n'est perdu : "
            "vos informations sont conservées sur cette page."
        ),
        "sendRefused": _("Le signalement n'a pas pu être envoyé : corrigez les points signalés."),
        "tooMany": _("Trop d'envois en peu de temps : réessayez dans quelques minutes."),
        "draftRestored": _("Votre saisie précédente a été restaurée (les photos sont à joindre de nouveau)."),
        "addressSearching": _("Recherche de l'adresse…"),
        "addressNone": _("Aucune adresse trouvée : précisez-la, ou placez le repère sur la carte."),
        "addressChosen": _("Adresse choisie : %(label)s."),
        "categoryCount": _plural(
            (
                ngettext_lazy(
                    "%(count)s catégorie correspondante.", "%(count)s catégories correspondantes.", 1
                ),
                ngettext_lazy(
                    "%(count)s catégorie correspondante.", "%(count)s catégories correspondantes.", 2
                ),
            )
        ),
        "reportLink": _("Voir le signalement %(reference)s"),
        "clusterLabel": _plural(
            (
                ngettext_lazy(
                    "%(count)s signalement ici : zoomez pour le voir.",
                    "%(count)s signalements ici : zoomez pour les voir.",
                    1,
                ),
                ngettext_lazy(
                    "%(count)s signalement ici : zoomez pour le voir.",
                    "%(count)s signalements ici : zoomez pour les voir.",
                    2,
                ),
            )
        ),
        "zoomIn": _("Zoomer ici"),
        "ticketLink": _("Ouvrir le ticket %(reference)s"),
        "overdue": _("En retard"),
        "tooManyPhotos": _("%(max)s photos au plus."),
    }


# --- projects: strings of the project pages' scripts (static/web/js/pages/project*.js) ---------------


def _project_js_strings() -> dict[str, Promise | tuple[Promise, Promise]]:
    return {
        "openProject": _("Ouvrir le projet « %(title)s »"),
        "currentPhase": _("Phase en cours : %(phase)s"),
        "officialAnswer": _("Réponse officielle"),
        "layerShown": _("Couche « %(name)s » affichée sur la carte."),
        "layerHidden": _("Couche « %(name)s » retirée de la carte."),
        "contributionPin": _("Emplacement de votre contribution (flèches du clavier pour le déplacer)"),
        "pointPlaced": _("Point placé : latitude %(lat)s, longitude %(lon)s."),
        "drawPointHelp": _("Touchez la carte pour le déplacer, ou utilisez les flèches du clavier."),
        "drawLineHelp": _("Touchez la carte point après point, puis « Terminer le tracé »."),
        "drawZoneHelp": _("Touchez la carte sommet après sommet (3 au moins), puis « Terminer le tracé »."),
        "drawMore": _("Il faut au moins %(count)s points : continuez à toucher la carte."),
        "vertexAdded": _plural(
            (
                ngettext_lazy("%(count)s point placé.", "%(count)s points placés.", 1),
                ngettext_lazy("%(count)s point placé.", "%(count)s points placés.", 2),
            )
        ),
        "vertexRemoved": _plural(
            (
                ngettext_lazy(
                    "Dernier point retiré : %(count)s point reste.",
                    "Dernier point retiré : %(count)s points restent.",
                    1,
                ),
                ngettext_lazy(
                    "Dernier point retiré : %(count)s point reste.",
                    "Dernier point retiré : %(count)s points restent.",
                    2,
                ),
            )
        ),
        "lineDrawn": _("Ligne tracée (%(count)s points)."),
        "zoneDrawn": _("Zone dessinée (%(count)s sommets)."),
        "drawEditHelp": _("Vous pouvez encore déplacer ses points sur la carte."),
        "drawCleared": _("Tracé effacé."),
        "contributionRefused": _("La contribution n'a pas pu être envoyée : corrigez les points signalés."),
        "supportCount": _plural(
            (
                ngettext_lazy(
                    "%(count)s personne soutient cette contribution.",
                    "%(count)s personnes soutiennent cette contribution.",
                    1,
                ),
                ngettext_lazy(
                    "%(count)s personne soutient cette contribution.",
                    "%(count)s personnes soutiennent cette contribution.",
                    2,
                ),
            )
        ),
    }


_js_strings_before_projects = js_strings


def js_strings() -> dict[str, Promise | tuple[Promise, Promise]]:
    """Every script string: the pages' above, then the project pages'."""
    return {**_js_strings_before_projects(), **_project_js_strings()}
