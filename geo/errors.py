"""Stable error codes of the territory and routing layer.

APIs map these to HTTP answers (``NotCovered`` → 422 « hors du territoire couvert »); the codes are
part of the contract and never change, the messages are for people and are translated.
"""

from __future__ import annotations

from django.utils.translation import gettext as _


class GeoError(Exception):
    code = "geo_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownCategory(GeoError):
    code = "categorie_inconnue"

    def __init__(self, code: str) -> None:
        super().__init__(_("Catégorie inconnue ou inactive : « %(code)s ».") % {"code": code})
        self.category_code = code


class NotCovered(GeoError):
    """The point lies outside every territory served by this instance."""

    code = "hors_territoire"

    def __init__(self, lon: float, lat: float) -> None:
        super().__init__(
            _("Ce point (%(lon).6f, %(lat).6f) est hors du territoire couvert.") % {"lon": lon, "lat": lat}
        )
        self.lon, self.lat = lon, lat


class NoServiceForCategory(GeoError):
    """The point is in a territory, but nobody there handles this category: a configuration gap."""

    code = "aucun_service_competent"

    def __init__(self, category_name: str, territory_names: list[str]) -> None:
        super().__init__(
            _(
                "Aucun service n'est compétent pour « %(category)s » à cet endroit (territoire : %(territory)s). "
                "L'administrateur doit compléter les zones ou désigner un service par défaut."
            )
            % {"category": category_name, "territory": ", ".join(territory_names)}
        )
        self.category_name = category_name


class DomainError(Exception):
    """A refusal of a domain (signalements, urbanisme): ``code`` for programs, ``message`` for people,
    ``status`` for HTTP. Each domain subclasses it with its own names; ``config.api_errors`` renders
    every subclass the same way."""

    code = "erreur"
    status = 400

    def __init__(
        self, message: str, *, code: str | None = None, status: int | None = None, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.field = field


class DomainValidationFailed(DomainError):
    """Bad input, with the errors of each field (``{"location": ["…"], ...}``)."""

    code = "donnees_invalides"

    def __init__(self, errors: dict[str, list[str]], *, status: int = 400, code: str | None = None) -> None:
        first = next(iter(errors.values()))[0] if errors else ""
        super().__init__(first, status=status, code=code)
        self.errors = errors
