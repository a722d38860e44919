"""Stable error codes of the urbanisme domain, with the HTTP status the API gives them.

Services raise these; ``config.api_errors`` turns them into the one JSON error shape with a French
message and per-field errors. Codes never change; messages are translated. The base classes live
in ``geo.errors``, shared with signalements.
"""

from __future__ import annotations

from geo.errors import DomainError, DomainValidationFailed


class UrbanismeError(DomainError):
    """A refusal of the urbanisme domain."""


class ValidationFailed(DomainValidationFailed, UrbanismeError):
    """Bad input, with the errors of each field (``{"geometry": ["…"]}``)."""


class NotFound(UrbanismeError):
    """Absent, or not visible to this user: the same answer, so existence leaks nothing."""

    code = "introuvable"
    status = 404


class Forbidden(UrbanismeError):
    code = "interdit"
    status = 403


class Closed(UrbanismeError):
    """The calendar does not allow this now (contributions closed, phase frozen)."""

    code = "phase_fermee"
    status = 409


class Conflict(UrbanismeError):
    code = "conflit"
    status = 409
