"""Stable error codes of the signalements domain, with the HTTP status the API gives them.

A service raises these; ``config.api_errors`` turns them into JSON answers with a French message and
per-field errors. Codes never change; messages are translated. The base classes live in
``geo.errors``, shared with urbanisme.
"""

from __future__ import annotations

from geo.errors import DomainError, DomainValidationFailed


class ReportError(DomainError):
    """A refusal of the signalements domain."""


class ValidationFailed(DomainValidationFailed, ReportError):
    """Bad input, with the errors of each field (``{"location": ["…"], ...}``)."""


class NotFound(ReportError):
    """Absent, or present but not for this user: the same answer, so existence leaks nothing."""

    code = "introuvable"
    status = 404


class Conflict(ReportError):
    code = "conflit"
    status = 409
