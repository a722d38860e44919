"""Stable error codes of the urbanisme domain, with the HTTP status the API gives them.

Services raise these; ``config.api_errors`` turns them into the one JSON error shape with a French
message and per-field errors. Codes never change; messages are translated.
"""

from __future__ import annotations


class UrbanismeError(Exception):
    """A refusal of the domain: ``code`` for programs, ``message`` for people, ``status`` for HTTP."""

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


class ValidationFailed(UrbanismeError):
    """Bad input, with the errors of each field (``{"geometry": ["…"]}``)."""

    code = "donnees_invalides"

    def __init__(self, errors: dict[str, list[str]], *, status: int = 400, code: str | None = None) -> None:
        first = next(iter(errors.values()))[0] if errors else ""
        super().__init__(first, status=status, code=code)
        self.errors = errors


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
