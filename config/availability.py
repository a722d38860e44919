"""503 with Retry-After when the database is unreachable, instead of a 500.

Why: during a PostgreSQL restart or failover (seconds), clients and load balancers must read
« try again shortly », not « the server is broken »; phones retry filing with the same
Idempotency-Key, so nothing is lost (the resilience suite measures it, docs/RELIABILITY.md).
Only connection-level errors are mapped: a query error stays a 500 that someone must look at.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _

logger = logging.getLogger("concerto.availability")
RETRY_AFTER_SECONDS = 5


def is_database_unavailable(exc: BaseException) -> bool:
    return isinstance(exc, OperationalError | InterfaceError)


def unavailable_response(request: HttpRequest) -> HttpResponse:
    message = _("Service momentanément indisponible : réessayez dans quelques secondes.")
    wants_json = request.path.startswith(
        ("/api/", "/open311/", "/ogc/", "/tiles/")
    ) or "json" in request.headers.get("Accept", "")
    if wants_json:
        response: HttpResponse = JsonResponse(
            {"code": "service_indisponible", "message": message}, status=503
        )
    else:
        response = HttpResponse(
            f'<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>503</title></head>'
            f"<body><h1>503</h1><p>{message}</p></body></html>",
            status=503,
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            return self.get_response(request)
        except (OperationalError, InterfaceError) as exc:  # raised by another middleware (sessions, auth)
            logger.warning("database unavailable: %s", exc)
            return unavailable_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_database_unavailable(exception):
            logger.warning("database unavailable: %s", exception)
            return unavailable_response(request)
        return None
