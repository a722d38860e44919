"""One JSON shape for every API error, with a French message a person understands.

``{"code": "donnees_invalides", "message": "…", "errors": {"field": ["…"]}}``: ``code`` is stable
for programs, ``message`` is for people (in the request's language), ``errors`` lists problems per
field when there are any.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from geo.errors import DomainError, DomainValidationFailed


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error details as ``{"a.b": ["…"]}``."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = "" if key == "non_field_errors" else str(key)
            out.update(_flatten(value, f"{prefix}.{name}" if prefix and name else prefix or name))
        return out
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return {prefix or "detail": [str(item) for item in detail]}
        out = {}
        for index, item in enumerate(detail):
            out.update(_flatten(item, f"{prefix}[{index}]"))
        return out
    return {prefix or "detail": [str(detail)]}


def body(code: str, message: str, errors: dict[str, list[str]] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"code": code, "message": message}
    if errors:
        data["errors"] = errors
    return data


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainValidationFailed):
        return Response(body(exc.code, exc.message, exc.errors), status=exc.status)
    if isinstance(exc, DomainError):
        errors = {exc.field: [exc.message]} if exc.field else None
        return Response(body(exc.code, exc.message, errors), status=exc.status)
    if isinstance(exc, RequestDataTooBig):
        return Response(
            body("requete_trop_grosse", _("La requête est trop volumineuse.")),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        first = next(iter(errors.values()))[0] if errors else _("Données invalides.")
        response.data = body("donnees_invalides", first, errors)
    elif isinstance(exc, exceptions.ParseError):
        response.data = body(
            "requete_illisible", _("Le corps de la requête est illisible (JSON ou formulaire mal formé).")
        )
    elif isinstance(exc, exceptions.UnsupportedMediaType):
        response.data = body(
            "format_non_supporte",
            _("Format non pris en charge : envoyez du JSON ou un formulaire multipart."),
        )
    elif isinstance(exc, exceptions.NotFound):
        response.data = body("introuvable", _("Introuvable."))
    elif isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        response.data = body("non_authentifie", _("Connectez-vous pour accéder à cette ressource."))
    elif isinstance(exc, exceptions.PermissionDenied) and str(exc.detail).startswith("CSRF Failed"):
        # DRF's session authentication refused a call without its token: say so, or the developer
        # of a front end looks for a missing permission that is not missing.
        response.data = body(
            "csrf",
            _(
                "Jeton CSRF absent ou invalide : un appel authentifié par la session doit envoyer "
                "l'en-tête X-CSRFToken (valeur du cookie csrftoken)."
            ),
        )
    elif isinstance(exc, exceptions.PermissionDenied):
        response.data = body("interdit", _("Vous n'avez pas le droit de faire cela."))
    elif isinstance(exc, exceptions.MethodNotAllowed):
        response.data = body("methode_non_autorisee", _("Méthode non autorisée."))
    elif isinstance(exc, exceptions.Throttled):
        response.data = body("trop_de_requetes", _("Trop de requêtes : réessayez plus tard."))
    else:
        response.data = body(getattr(exc, "default_code", "erreur"), str(getattr(exc, "detail", exc)))
    return response
