"""Stable error codes of the signalements domain, with the HTTP status the API gives them.

A service raises these; ``signalements.api`` turns them into JSON answers with a French message and
per-field errors. Codes never change; messages are translated.
"""

from __future__ import annotations


class ReportError(Exception):
    """A refusal of the domain: ``code`` for programs, ``message`` for people, ``status`` for HTTP."""

    code = "erreur"
    status = 400

    def __init__(
        self, message: str, *, code: str | None = None, status: int | None = None, field: str | None = None
    ):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.field = field


class ValidationFailed(ReportError):
    """Bad input, with the errors of each field (``{"location": ["…"], ...}``)."""

    code = "donnees_invalides"
    status = 400

    def __init__(self, errors: dict[str, list[str]], *, status: int = 400, code: str | None = None) -> None:
        first = next(iter(errors.values()))[0] if errors else ""
        super().__init__(first, status=status, code=code)
        self.errors = errors


class NotFound(ReportError):
    """Absent, or present but not for this user: the same answer, so existence leaks nothing."""

    code = "introuvable"
    status = 404


class Conflict(ReportError):
    code = "conflit"
    status = 409
